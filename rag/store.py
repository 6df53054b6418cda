"""Chroma in one place: an embedded persistent store by default, or a `chroma run` server.

Every stored version of a document is immutable and named `doc_id@version` (the version is the
file's fingerprint): its text and its chunks, each chunk row carrying its sentences' vectors. A small pointer row per document
says which version is current, and the `generation` row (written once at the end of an ingest) is
a digest of all pointers. A reader pins the pointers it read and only ever combines rows of those
versions, so offsets never meet the text of another version. Superseded versions are kept one
ingest longer, for readers still pinned to them, then deleted.

Collections (per embedding model, so vectors of different models never mix):
  pointers  one row per document: current version, previous version, title, source
  texts     one row per version: the full text
  chunks    one row per chunk of a version: its vector, offsets, and its sentences' offsets and
            vectors (base64 float32 in the metadata: fetched with the chunk, in the same call, from an
            embedded store or a server alike; no index of their own that nobody queries)
  state     the generation row
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

import numpy as np

from . import rows
from .chunking import decode_spans, decode_vectors, encode_spans, encode_vectors, parse_span_id, span_id, version_key
from .config import Settings
from .errors import StoreError
from .rows import PreparedDocument, StoredDocument, manifest_digest
from .types import Chunk, Document

LAYOUT = "v3"  # v2: versioned rows; v3: sentence vectors inside chunk rows. Older stores are re-ingested.
_KINDS = ("pointers", "texts", "chunks", "state")
_CHUNK_BATCH = 500  # chunk rows per write: each carries ~30 KB of sentence vectors
_OPENING = threading.Lock()  # Chroma's per-process registry of embedded stores is not thread-safe
CHROMA_DEFAULT_EF_SEARCH = 100  # what a chunks collection made before rag set ef_search has


def _collection_name(prefix: str, kind: str, model: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9._-]+", "-", f"{prefix}-{LAYOUT}-{kind}-{model}").strip("-._")
    return name[:512]


class Store:
    """Versions and pointers in Chroma. Every method raises StoreError, never a Chroma exception."""

    def __init__(self, settings: Settings, model_name: str) -> None:
        self.settings = settings
        self._reopen_source = False  # set once a newer handle replaced this one
        self._system: Any = None
        self.model_name = model_name
        self.location = settings.chroma_url or str(settings.data_dir / "chroma")
        self._lock = threading.RLock()
        self.fresh = False  # True when this open created the store (nothing was there before)
        self._client: Any = None
        self._cols: dict[str, Any] = {}
        self._open()

    # --- connection -------------------------------------------------------------------------
    def _open(self) -> None:
        if not self.settings.chroma_url:
            folder = self.settings.data_dir / "chroma"
            self.fresh = not folder.exists() or not any(folder.iterdir())
        self._client = self._connect()
        try:
            existing = {getattr(c, "name", c) for c in self._client.list_collections()}
            if self.settings.chroma_url:
                self.fresh = not any(_collection_name(self.settings.collection, k, self.model_name) in existing
                                     for k in _KINDS)
            self._cols = {kind: self._collection(kind) for kind in _KINDS}
        except Exception as exc:  # noqa: BLE001 - Chroma raises many types for a broken store
            raise StoreError(self._broken(exc)) from exc

    def _connect(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        try:
            if self.settings.chroma_url:
                url = urlparse(self.settings.chroma_url)
                if url.scheme not in ("http", "https") or not url.hostname:
                    raise StoreError(f"RAG_CHROMA_URL {self.settings.chroma_url!r} is not an http(s) URL")
                _heartbeat(self.settings.chroma_url, self.settings.chroma_timeout)  # the client's own checks wait forever
                client = chromadb.HttpClient(
                    host=url.hostname,
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=chroma_settings,
                )
                _set_timeout(client, self.settings.chroma_timeout)
                client.heartbeat()
                return client
            path = self.settings.data_dir / "chroma"
            path.mkdir(parents=True, exist_ok=True)
            with _OPENING:
                # Chroma shares one system per path inside a process; only a new one sees what was
                # written meanwhile by others (its vector index is loaded once, never refreshed).
                from chromadb.api.shared_system_client import SharedSystemClient

                SharedSystemClient._identifier_to_system.pop(str(path), None)
                SharedSystemClient._identifier_to_refcount.pop(str(path), None)
                client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
                self._system = getattr(client, "_system", None)  # to close this handle, not its successor
                return client
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise StoreError(self._broken(exc)) from exc

    def reopen(self) -> "Store":
        """A new handle on the same store that sees every write made so far, by any process.
        The old handle stays usable for readers still holding it."""
        self._reopen_source = True
        return Store(self.settings, self.model_name)

    def close(self) -> None:
        """Release a handle replaced by `reopen` (embedded mode; its memory and files)."""
        system, self._system = getattr(self, "_system", None), None
        if system is not None and self._reopen_source:
            try:
                system.stop()
            except Exception:  # noqa: BLE001 - already stopped
                pass

    def drop(self) -> None:
        """Delete this store's collections (server mode `rag ingest --rebuild`)."""
        for kind in _KINDS:
            name = _collection_name(self.settings.collection, kind, self.model_name)
            try:
                self._client.delete_collection(name)
            except Exception:  # noqa: BLE001 - already gone
                pass

    def _broken(self, exc: Exception) -> str:
        if self.settings.chroma_url:
            return f"cannot reach the Chroma server at {self.settings.chroma_url}: {exc}"
        return (
            f"the store at {self.location} cannot be opened ({exc}). "
            "Run `rag ingest --rebuild` to move it aside and ingest the articles again."
        )

    @property
    def name(self) -> str:
        """Identifies this store's collections (keys caches derived from it)."""
        return _collection_name(self.settings.collection, "chunks", self.model_name)

    def _collection(self, kind: str) -> Any:
        collection = self._client.get_or_create_collection(
            name=_collection_name(self.settings.collection, kind, self.model_name),
            metadata={"hnsw:space": "cosine"},
            embedding_function=None,  # we embed ourselves; Chroma's default would fetch a model
        )
        if kind == "chunks":  # the one searched by vector; ef_search may change on a collection that exists
            hnsw = (collection.configuration or {}).get("hnsw") or {}  # None on another index type (spann)
            ef = self.settings.chroma_ef_search
            # A collection at Chroma's default (made by an older rag) takes rag's; one set on purpose
            # is changed only on purpose, so processes configured differently do not flip it back and forth.
            chosen = "chroma_ef_search" in self.settings.model_fields_set
            if hnsw and hnsw.get("ef_search") != ef and (chosen or hnsw.get("ef_search") == CHROMA_DEFAULT_EF_SEARCH):
                collection.modify(configuration={"hnsw": {"ef_search": ef}})
        return collection

    def _guard(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise StoreError(f"could not {what} in the store at {self.location}: {exc}") from exc

    # --- reading ----------------------------------------------------------------------------
    def documents(self) -> list[StoredDocument]:
        """The current version of every document (the pointer rows)."""
        result = self._guard("list documents", self._cols["pointers"].get, include=["metadatas"])
        out = [rows.pointer(doc_id, meta) for doc_id, meta in zip(result["ids"], result["metadatas"])]
        return sorted(out, key=lambda d: d.doc_id)

    def generation(self) -> str:
        """The digest written by the last finished ingest ("" for an empty store). One small read."""
        state = self._guard("read the store state", self._cols["state"].get, ids=["generation"], include=["metadatas"])
        if state["ids"]:
            return str(state["metadatas"][0].get("value", ""))
        count = self._guard("count documents", self._cols["pointers"].count)
        return f"unfinished-{count}" if count else ""

    def texts(self, keys: Sequence[str]) -> dict[str, Document]:
        """Versions of documents by `doc_id@version` (missing ones are left out)."""
        if not keys:
            return {}
        result = self._guard("read documents", self._cols["texts"].get, ids=list(keys), include=["documents", "metadatas"])
        return {k: rows.document(t, m) for k, t, m in zip(result["ids"], result["documents"], result["metadatas"])}

    def chunk_rows(self, manifest: Mapping[str, StoredDocument], vectors: Any = None, texts: Any = None) -> list[Chunk]:
        """Every chunk of the pinned versions, read in pages (for statistics and BM25). `vectors`,
        when given, receives each row's sentence vectors as they pass: `vectors.add(id, encoded,
        sentence count)`; `texts` each version read: `texts.add(key, document)`."""
        wanted = {d.key for d in manifest.values()}
        out: list[Chunk] = []
        page = 1000  # rows carry their sentence vectors: ~30 MB a page
        offset = 0
        last: dict[str, Document] = {}  # the last page's versions: a document's chunks may span two pages
        while True:
            result = self._guard(
                "read chunks", self._cols["chunks"].get, include=["documents", "metadatas"], limit=page, offset=offset
            )
            found = [(cid, text, meta) for cid, text, meta in zip(result["ids"], result["documents"], result["metadatas"])
                     if meta.get("vkey") in wanted]
            # rows written since 2026-11 carry no text of their own: it is cut from their version's text
            need = sorted({m["vkey"] for _, t, m in found if t is None or texts is not None})
            versions = {k: last[k] for k in need if k in last}
            versions.update(self.texts([k for k in need if k not in last]))
            last = versions
            if texts is not None:
                for key, version in versions.items():
                    texts.add(key, version)
            for cid, text, meta in found:
                if text is None:
                    version = versions.get(meta["vkey"])
                    if version is None:
                        raise StoreError(f"the store holds chunks of {meta['vkey']} but not its text; "
                                         "run `rag ingest --rebuild` to write it again")
                    text = version.text[int(meta["start"]) : int(meta["end"])]
                out.append(rows.chunk(cid, text, meta))
                if vectors is not None:
                    vectors.add(cid, meta.get("vectors"), len(out[-1].sentences))
            if len(result["ids"]) < page:
                return out
            offset += page

    def query(self, vector: Sequence[float], k: int, doc_ids: Sequence[str] | None = None) -> list[tuple[Chunk, float]]:
        """The k nearest chunk rows (any version) with their distances. Only ids and distances are
        read: each chunk carries its id's document, offsets and version, nothing more (the pinned
        generation's table has the rest)."""
        where = {"doc_id": {"$in": list(doc_ids)}} if doc_ids else None
        query = np.asarray(vector, dtype=np.float32)  # as Chroma keeps it: a list of floats is converted back
        result = self._guard(  # Chroma returns fewer than k when it has fewer
            "search chunks", self._cols["chunks"].query, query_embeddings=[query], n_results=k,
            where=where, include=["distances"],
        )
        out = []
        for cid, dist in zip(result["ids"][0], result["distances"][0]):
            doc_id, _, start, end = parse_span_id(cid)
            out.append((Chunk(cid, doc_id, "", "", start, end), float(dist)))
        return out

    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, dict[tuple[int, int], np.ndarray]]:
        """The vectors of each chunk's sentences by offsets, for chunk rows by id, in one read
        (missing rows are left out)."""
        if not chunk_ids:
            return {}
        result = self._guard("read sentence vectors", self._cols["chunks"].get, ids=list(chunk_ids),
                             include=["metadatas"])
        out = {}
        for cid, meta in zip(result["ids"], result["metadatas"]):
            spans = decode_spans(meta.get("sentences"))
            matrix = decode_vectors(meta.get("vectors"), len(spans))
            if matrix is not None:
                out[cid] = dict(zip(spans, matrix))
        return out

    def chunk_count(self) -> int:
        return len(self.chunks())

    def chunks(self) -> list[Chunk]:
        """Every chunk of the current versions, with its text and offsets."""
        return self.chunk_rows({d.doc_id: d for d in self.documents()})

    # --- writing ----------------------------------------------------------------------------
    def write(self, docs: list[PreparedDocument], stored: Mapping[str, StoredDocument]) -> None:
        """Write new versions of several documents in bulk, then their pointers. A version's rows
        are complete before its pointer names it, so an interrupted write leaves every document
        at its old or its new version, never between; the next ingest redoes the rest."""
        if not docs:
            return
        for p in docs:
            if not p.chunks:
                raise StoreError(f"{p.doc.doc_id} has no chunks to store")
        with self._lock:
            texts_ids, texts, texts_meta = [], [], []
            c_ids, c_vecs, c_meta = [], [], []
            for p in docs:
                key = version_key(p.doc.doc_id, p.fingerprint)
                texts_ids.append(key)
                texts.append(p.doc.text)
                texts_meta.append({"doc_id": p.doc.doc_id, "vkey": key, **rows.doc_meta(p.doc)})
                if p.doc.headings is not None:
                    texts_meta[-1]["headings"] = encode_spans(p.doc.headings)
                for c in p.chunks:
                    c_ids.append(span_id(key, c.start, c.end))
                    c_vecs.append(c.vector)
                    c_meta.append({"doc_id": p.doc.doc_id, "vkey": key, "title": p.doc.title,
                                   "start": c.start, "end": c.end, "sentences": encode_spans(c.sentences),
                                   "vectors": encode_vectors(c.sentence_vectors)})
            self._upsert("texts", texts_ids, [[1.0]] * len(texts_ids), texts_meta, texts)
            # No chunk text: its version's text row has it (a copy cost 40% of the chunk rows' write,
            # during which Chroma holds the GIL and the embedding threads wait)
            self._upsert("chunks", c_ids, np.asarray(c_vecs, dtype=np.float32), c_meta, batch=_CHUNK_BATCH)
            pointers, stale = [], []
            for p in docs:
                old = stored.get(p.doc.doc_id)
                previous = ""
                if old is not None:
                    previous = old.fingerprint if old.fingerprint != p.fingerprint else old.previous
                    # the version two steps back: no pinned reader should still need it
                    if old.previous and old.previous not in (old.fingerprint, p.fingerprint):
                        stale.append(version_key(p.doc.doc_id, old.previous))
                pointers.append({**rows.doc_meta(p.doc), "fingerprint": p.fingerprint, "chunks": len(p.chunks),
                                 "previous": previous})
            self._upsert("pointers", [p.doc.doc_id for p in docs], [[1.0]] * len(docs), pointers)
            self._delete_versions(stale)

    def delete_documents(self, docs: Sequence[StoredDocument]) -> None:
        """Drop documents: their pointers, then every version of them."""
        if not docs:
            return
        with self._lock:
            self._guard("delete documents", self._cols["pointers"].delete, ids=[d.doc_id for d in docs])
            self._delete_versions([d.key for d in docs] + [version_key(d.doc_id, d.previous) for d in docs if d.previous])

    def publish(self, digest: str | None = None) -> str:
        """Write the generation row once an ingest is done: readers switch when they see it."""
        with self._lock:
            digest = digest if digest is not None else manifest_digest(self.documents())
            value = digest if self._cols["pointers"].count() else ""
            self._guard("write the store state", self._cols["state"].upsert,
                        ids=["generation"], embeddings=[[1.0]], metadatas=[{"value": value}])
            return value

    def _upsert(self, kind: str, ids, embeddings, metadatas, documents=None, batch: int = 5000) -> None:
        col = self._cols[kind]
        size = max(1, min(batch, self._max_batch()))
        for i in range(0, len(ids), size):
            part = slice(i, i + size)
            kwargs = {"ids": ids[part], "embeddings": embeddings[part], "metadatas": metadatas[part]}
            if documents is not None:
                kwargs["documents"] = documents[part]
            self._guard(f"write {kind}", col.upsert, **kwargs)

    def _delete_versions(self, keys: list[str]) -> None:
        keys = list(dict.fromkeys(keys))
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            self._guard("delete old versions", self._cols["texts"].delete, ids=part)
            self._guard("delete old versions", self._cols["chunks"].delete, where={"vkey": {"$in": part}})

    def _max_batch(self) -> int:
        try:
            return int(self._client.get_max_batch_size())
        except Exception:  # noqa: BLE001 - older servers do not say
            return 1000


def _heartbeat(url: str, seconds: float) -> None:
    import urllib.request

    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{url.rstrip('/')}/api/v2/heartbeat", timeout=seconds) as reply:
            reply.read()
    except OSError as exc:
        raise StoreError(f"cannot reach the Chroma server at {url} within {seconds:g}s: {exc}") from exc


def _set_timeout(client: Any, seconds: float) -> None:
    """Chroma's HTTP client waits forever by default; a frozen server must not hang a question."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if session is not None:
        session.timeout = httpx.Timeout(seconds)
