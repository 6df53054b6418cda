"""One store generation, pinned: which version of each document it holds, their texts, sentence
vectors, corpus statistics and BM25. Built whole, swapped whole, never updated in place, so a
question answered against it never mixes the offsets of one version with the text of another."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from .answer.base import CorpusStats
from .config import Settings
from .derived import load_or_build
from .errors import StoreError
from .retrieve import Lexical
from .store import Store, StoredDocument, chunk_version_key, manifest_digest, span_id
from .types import Chunk, Document

MAX_DOCUMENTS = 2000  # document texts kept in memory per generation
MAX_VECTORS = 200_000  # sentence vectors kept in memory per generation


class StaleIndex(StoreError):
    """A version this generation pins is gone from the store: a newer generation replaced it."""


class Index:
    """Everything derived from one generation of the store. Thread-safe; immutable but for caches
    of rows that never change (a version's text and vectors are written once)."""

    def __init__(self, settings: Settings, store: Store, generation: str, pointers: list[StoredDocument]) -> None:
        self.settings = settings
        self.store = store
        self.generation = generation
        self.manifest: dict[str, StoredDocument] = {d.doc_id: d for d in pointers}
        self._keys = {d.key for d in pointers}
        self.digest = manifest_digest(pointers)
        self._lock = threading.Lock()
        self._docs: OrderedDict[str, Document] = OrderedDict()
        self._vectors: OrderedDict[str, Any] = OrderedDict()
        self.stats = CorpusStats()
        self.lexical: Lexical | None = None

    @classmethod
    def load(cls, settings: Settings, store: Store) -> "Index":
        """Pin what the store holds now; statistics and BM25 are loaded from disk when another
        process already built them for the same versions."""
        for _ in range(5):
            generation = store.generation()
            pointers = store.documents()
            if store.generation() == generation:
                break  # no ingest finished while the pointers were read
        index = cls(settings, store, generation, pointers)
        index._derive()
        return index

    def _derive(self) -> None:
        rows: list[Chunk] | None = None

        def chunks() -> list[Chunk]:
            nonlocal rows
            if rows is None:
                rows = self.store.chunk_rows(self.manifest)
            return rows

        if not self.manifest:
            return
        self.stats = load_or_build(
            self.settings, self.store.name, "stats", self.digest,
            lambda: CorpusStats.from_chunks(chunks()), lambda s, folder: s.save(folder), CorpusStats.load,
        )
        self.lexical = load_or_build(
            self.settings, self.store.name, "bm25-titled", self.digest,
            lambda: Lexical.build(chunks()), _save_lexical, Lexical.load,
        )

    # --- what it pins -------------------------------------------------------------------------
    def documents(self) -> list[StoredDocument]:
        return sorted(self.manifest.values(), key=lambda d: d.doc_id)

    def pins(self, chunk: Chunk) -> bool:
        """True when the chunk belongs to a version this generation holds."""
        return chunk_version_key(chunk) in self._keys

    def fetch(self, doc_ids: Iterable[str]) -> dict[str, Document]:
        """The pinned version of each document (read once, then kept). Unknown ids are left out;
        a pinned version that is gone raises StaleIndex."""
        wanted = {d: self.manifest[d].key for d in dict.fromkeys(doc_ids) if d in self.manifest}
        with self._lock:
            found = {d: self._docs[k] for d, k in wanted.items() if k in self._docs}
        missing = {k: d for d, k in wanted.items() if d not in found}
        if missing:
            read = self.store.texts(list(missing))
            if len(read) < len(missing):
                gone = sorted(missing[k] for k in missing if k not in read)
                raise StaleIndex(f"the stored version of {', '.join(gone[:3])} was replaced")
            with self._lock:
                for key, doc in read.items():
                    self._docs[key] = doc
                    found[missing[key]] = doc
                while len(self._docs) > MAX_DOCUMENTS:
                    self._docs.popitem(last=False)
        return found

    def document(self, doc_id: str) -> Document:
        doc = self.fetch([doc_id]).get(doc_id)
        if doc is None:
            raise KeyError(doc_id)
        return doc

    def sentence_vectors(self, spans: Sequence[tuple[str, int, int]]) -> dict[tuple[str, int, int], Any]:
        """Stored vectors of the pinned versions' sentences; any that cannot be read are left out
        (the answerer embeds those itself), so a busy store slows an answer but never fails it."""
        ids = {span_id(self.manifest[d].key, s, e): (d, s, e) for d, s, e in spans if d in self.manifest}
        with self._lock:
            found = {i: self._vectors[i] for i in ids if i in self._vectors}
        missing = [i for i in ids if i not in found]
        if missing:
            try:
                fetched = self.store.sentence_vectors(missing)
            except StoreError:
                fetched = {}
            with self._lock:
                self._vectors.update(fetched)
                while len(self._vectors) > MAX_VECTORS:
                    self._vectors.popitem(last=False)
            found.update(fetched)
        return {ids[i]: v for i, v in found.items()}


class PinnedDocuments(Mapping[str, Document]):
    """The documents one answer may quote: the pinned versions of its passages' documents, and
    any other pinned document on request."""

    def __init__(self, index: Index, docs: dict[str, Document]) -> None:
        self._index, self._docs = index, dict(docs)

    def __getitem__(self, doc_id: str) -> Document:
        doc = self._docs.get(doc_id)
        if doc is None:
            doc = self._index.document(doc_id)
            self._docs[doc_id] = doc
        return doc

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._docs))

    def __len__(self) -> int:
        return len(self._docs)


def _save_lexical(lexical: Lexical | None, folder) -> None:
    if lexical is not None:
        lexical.save(folder)


__all__ = ["Index", "PinnedDocuments", "StaleIndex"]
