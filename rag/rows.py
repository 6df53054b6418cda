"""What the store's rows hold, as the rest of rag sees them: a document's pointer (`StoredDocument`),
the versions an ingest writes (`PreparedDocument`), the digest that names a set of versions, and
the conversions between rows' metadata and `Document` / `Chunk`."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .chunking import decode_spans, version_key
from .types import Chunk, Document


@dataclass(frozen=True)
class StoredDocument:
    """What the store knows of a document without loading its text."""

    doc_id: str
    title: str
    source: str
    fingerprint: str
    chunks: int
    outlet: str = ""
    previous: str = ""  # the version this one replaced, kept one ingest longer for pinned readers

    @property
    def version(self) -> str:
        return self.fingerprint

    @property
    def key(self) -> str:
        return version_key(self.doc_id, self.fingerprint)


@dataclass
class PreparedChunk:
    start: int
    end: int
    sentences: tuple[tuple[int, int], ...]
    vector: np.ndarray  # the chunk's
    sentence_vectors: np.ndarray  # one row per sentence


@dataclass
class PreparedDocument:
    """One version of a document ready to write: its chunks with their vectors."""

    doc: Document
    fingerprint: str
    chunks: list[PreparedChunk] = field(default_factory=list)


def manifest_digest(pointers: Iterable[StoredDocument]) -> str:
    """Names a set of document versions; derived indexes are saved under it."""
    h = hashlib.sha256()
    for d in sorted(pointers, key=lambda d: d.doc_id):
        h.update(f"{d.doc_id}\0{d.fingerprint}\n".encode())
    return h.hexdigest()[:24]


def doc_meta(doc: Document) -> dict[str, str]:
    return {"title": doc.title, "source": doc.source,
            **{k: v for k, v in doc.metadata.items() if k not in ("title", "source", "doc_id", "vkey")}}


def pointer(doc_id: str, meta: dict | None) -> StoredDocument:
    meta = meta or {}
    return StoredDocument(
        doc_id=doc_id,
        title=str(meta.get("title", doc_id)),
        source=str(meta.get("source", "")),
        fingerprint=str(meta.get("fingerprint", "")),
        chunks=int(meta.get("chunks", 0)),
        outlet=str(meta.get("outlet", "")),
        previous=str(meta.get("previous", "")),
    )


def document(text: str, meta: dict | None) -> Document:
    meta = dict(meta or {})
    doc_id = str(meta.pop("doc_id"))
    meta.pop("vkey", None)
    title = str(meta.pop("title", doc_id))
    source = str(meta.pop("source", ""))
    heads = decode_spans(meta.pop("headings")) if "headings" in meta else None  # rows written before: None
    return Document(doc_id=doc_id, title=title, text=text, source=source,
                    metadata={k: str(v) for k, v in meta.items()}, headings=heads)


def chunk(chunk_id: str, text: str, meta: dict) -> Chunk:
    return Chunk(
        chunk_id=chunk_id,
        doc_id=str(meta["doc_id"]),
        title=str(meta.get("title", "")),
        text=text or "",
        start=int(meta["start"]),
        end=int(meta["end"]),
        sentences=decode_spans(meta.get("sentences")),
    )
