"""Chroma in one place: an embedded persistent store by default, or a `chroma run` server.

Two collections per embedding model, so vectors of different models never mix:
`<prefix>-chunks-<model>` holds chunk nodes (through llama-index's ChromaVectorStore) and
`<prefix>-docs-<model>` holds each document's full text, title and fingerprint.
"""

from __future__ import annotations

import math
import os
import re
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from llama_index.core.schema import BaseNode, TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node

from .config import Settings
from .errors import StoreError
from .types import Chunk, Document

# Chroma reads these at import; the product makes no outside call the user did not configure.
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


@dataclass(frozen=True)
class StoredDocument:
    """What the store knows of a document without loading its text."""

    doc_id: str
    title: str
    source: str
    fingerprint: str
    chunks: int
    outlet: str = ""


def _collection_name(prefix: str, kind: str, model: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9._-]+", "-", f"{prefix}-{kind}-{model}").strip("-._")
    return name[:512]


class Store:
    """Chunks and documents in Chroma. Every method raises StoreError, never a Chroma exception."""

    def __init__(self, settings: Settings, model_name: str) -> None:
        self.settings = settings
        self.model_name = model_name
        self.location = settings.chroma_url or str(settings.data_dir / "chroma")
        self._lock = threading.RLock()
        self._client = self._connect()
        try:
            self._chunks = self._collection("chunks")
            self._docs = self._collection("docs")
            self._state = self._collection("state")
            self._sentences = self._collection("sentences")
        except Exception as exc:  # noqa: BLE001 - Chroma raises many types for a broken store
            raise StoreError(self._broken(exc)) from exc
        self._vector_store: Any = None

    # --- connection -------------------------------------------------------------------------
    def _connect(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        try:
            if self.settings.chroma_url:
                url = urlparse(self.settings.chroma_url)
                if url.scheme not in ("http", "https") or not url.hostname:
                    raise StoreError(f"RAG_CHROMA_URL {self.settings.chroma_url!r} is not an http(s) URL")
                client = chromadb.HttpClient(
                    host=url.hostname,
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=chroma_settings,
                )
                client.heartbeat()
                return client
            path = self.settings.data_dir / "chroma"
            path.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise StoreError(self._broken(exc)) from exc

    def _broken(self, exc: Exception) -> str:
        if self.settings.chroma_url:
            return f"cannot reach the Chroma server at {self.settings.chroma_url}: {exc}"
        return (
            f"the store at {self.location} cannot be opened ({exc}). "
            "Move that folder aside (or set RAG_DATA_DIR elsewhere) and run `rag ingest` to rebuild it."
        )

    @property
    def name(self) -> str:
        """Identifies this store's collections (keys caches derived from it)."""
        return _collection_name(self.settings.collection, "chunks", self.model_name)

    def _collection(self, kind: str) -> Any:
        return self._client.get_or_create_collection(
            name=_collection_name(self.settings.collection, kind, self.model_name),
            metadata={"hnsw:space": "cosine"},
            embedding_function=None,  # we embed ourselves; Chroma's default would fetch a model
        )

    @property
    def vector_store(self) -> Any:
        """llama-index's view of the chunk collection, for its retrievers."""
        if self._vector_store is None:
            from llama_index.vector_stores.chroma import ChromaVectorStore

            self._vector_store = ChromaVectorStore(chroma_collection=self._chunks)
        return self._vector_store

    def _guard(self, what: str, fn, *args, **kwargs):
        try:
            with self._lock:
                return fn(*args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise StoreError(f"could not {what} in the store at {self.location}: {exc}") from exc

    # --- reading ----------------------------------------------------------------------------
    def documents(self) -> list[StoredDocument]:
        result = self._guard("list documents", self._docs.get, include=["metadatas"])
        out = [
            StoredDocument(
                doc_id=doc_id,
                title=str(meta.get("title", doc_id)),
                source=str(meta.get("source", "")),
                fingerprint=str(meta.get("fingerprint", "")),
                chunks=int(meta.get("chunks", 0)),
                outlet=str(meta.get("outlet", "")),
            )
            for doc_id, meta in zip(result["ids"], result["metadatas"])
        ]
        return sorted(out, key=lambda d: d.doc_id)

    def document(self, doc_id: str) -> Document | None:
        return self.documents_by_id([doc_id]).get(doc_id)

    def chunk_nodes(self) -> list[BaseNode]:
        """Every chunk as a llama-index node (for the lexical index)."""
        result = self._guard("read chunks", self._chunks.get, include=["documents", "metadatas"])
        nodes = []
        for text, meta in zip(result["documents"], result["metadatas"]):
            nodes.append(metadata_dict_to_node(meta, text=text))
        return nodes

    def chunks(self) -> list[Chunk]:
        """Every stored chunk with its offsets."""
        return [node_to_chunk(node) for node in self.chunk_nodes()]

    def chunk_count(self) -> int:
        return self._guard("count chunks", self._chunks.count)

    def generation(self) -> str:
        """A token that changes whenever a document is written or deleted ("" for an empty store).
        One small read: caches (BM25, corpus statistics) are keyed by it."""
        result = self._guard("read the store state", self._state.get, ids=["generation"], include=["metadatas"])
        if result["ids"]:
            return str(result["metadatas"][0].get("value", ""))
        return "" if self._guard("count documents", self._docs.count) == 0 else "unversioned"

    def _bump(self) -> None:
        import uuid

        token = uuid.uuid4().hex if self._docs.count() else ""
        self._state.upsert(ids=["generation"], embeddings=[[1.0]], metadatas=[{"value": token}])

    def documents_by_id(self, doc_ids: list[str]) -> dict[str, Document]:
        """Several documents in one read."""
        if not doc_ids:
            return {}
        result = self._guard("read documents", self._docs.get, ids=list(doc_ids), include=["documents", "metadatas"])
        return {i: _document(i, t, m) for i, t, m in zip(result["ids"], result["documents"], result["metadatas"])}

    # --- writing ----------------------------------------------------------------------------
    def sentence_vectors(self, ids: list[str]) -> dict[str, Any]:
        """Stored vectors of sentences, by id `doc_id:start-end` (missing ids are left out)."""
        if not ids:
            return {}
        result = self._guard("read sentence vectors", self._sentences.get, ids=ids, include=["embeddings"])
        return dict(zip(result["ids"], result["embeddings"]))

    def replace_document(
        self, doc: Document, fingerprint: str, nodes: list[TextNode], sentences: list[tuple[int, int, list[float]]]
    ) -> None:
        """Swap a document's chunks for new ones; the document row is written last, so an
        interrupted write leaves a stale fingerprint and the next ingest redoes it."""
        if not nodes:
            raise StoreError(f"{doc.doc_id} has no chunks to store")

        def write() -> None:
            self._docs.delete(ids=[doc.doc_id])
            self._chunks.delete(where={"doc_id": doc.doc_id})
            self._sentences.delete(where={"doc_id": doc.doc_id})
            self.vector_store.add(nodes)
            for i in range(0, len(sentences), 1000):
                batch = sentences[i : i + 1000]
                self._sentences.add(
                    ids=[sentence_id(doc.doc_id, s, e) for s, e, _ in batch],
                    embeddings=[v for _, _, v in batch],
                    metadatas=[{"doc_id": doc.doc_id, "start": s, "end": e} for s, e, _ in batch],
                )
            self._docs.upsert(
                ids=[doc.doc_id],
                documents=[doc.text],
                embeddings=[_mean([n.embedding for n in nodes])],
                metadatas=[
                    {
                        "title": doc.title,
                        "source": doc.source,
                        "fingerprint": fingerprint,
                        "chunks": len(nodes),
                        **{k: v for k, v in doc.metadata.items() if k not in ("title", "source")},
                    }
                ],
            )
            self._bump()

        self._guard(f"write {doc.doc_id}", write)

    def delete_document(self, doc_id: str) -> None:
        def delete() -> None:
            self._docs.delete(ids=[doc_id])
            self._chunks.delete(where={"doc_id": doc_id})
            self._sentences.delete(where={"doc_id": doc_id})
            self._bump()

        self._guard(f"delete {doc_id}", delete)


def sentence_id(doc_id: str, start: int, end: int) -> str:
    return f"{doc_id}:{start}-{end}"


def _document(doc_id: str, text: str, meta: dict | None) -> Document:
    meta = dict(meta or {})
    title = str(meta.pop("title", doc_id))
    source = str(meta.pop("source", ""))
    extra = {k: str(v) for k, v in meta.items() if k not in ("fingerprint", "chunks")}
    return Document(doc_id=doc_id, title=title, text=text, source=source, metadata=extra)


def decode_spans(value: object) -> tuple[tuple[int, int], ...]:
    """Sentence offsets as a chunk's metadata stores them: "0-57,58-140"."""
    if not value:
        return ()
    return tuple((int(a), int(b)) for a, b in (part.split("-") for part in str(value).split(",")))


def node_to_chunk(node: BaseNode, score: float = 0.0) -> Chunk:
    """Our view of a llama-index chunk node; offsets come from its metadata."""
    meta = node.metadata
    return Chunk(
        chunk_id=node.node_id,
        doc_id=node.ref_doc_id or "",
        title=str(meta.get("title", "")),
        text=node.get_content(),
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        score=score,
        sentences=decode_spans(meta.get("sentences")),
    )


def _mean(vectors: list[list[float] | None]) -> list[float]:
    rows = [v for v in vectors if v]
    dim = len(rows[0])
    mean = [sum(r[i] for r in rows) / len(rows) for i in range(dim)]
    norm = math.sqrt(sum(x * x for x in mean)) or 1.0
    return [x / norm for x in mean]
