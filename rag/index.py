"""One store generation, pinned: which version of each document it holds, their texts, sentence
vectors, corpus statistics and BM25. Built whole, swapped whole, never updated in place, so a
question answered against it never mixes the offsets of one version with the text of another."""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from cachetools import LRUCache

from .answer.shape import Shape
from .stats import CorpusStats
from .config import Settings
from .derived import is_saved, load_or_build, load_or_write
from .errors import StoreError
from .retrieve import Lexical
from .chunking import chunk_version_key
from .rows import StoredDocument, manifest_digest
from .store import Store
from .types import Chunk, Document
from .sentencemap import SentenceMap, write_sentences
from .textmap import TextMap, TextWriter
from .vectors import SentenceVectors, VectorWriter

log = logging.getLogger(__name__)
MAX_DOCUMENTS = 2000  # document texts kept in memory per generation
MAX_CHUNK_VECTORS = 20_000  # chunks whose sentence vectors are kept in memory per generation (~30 KB each)


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
        # The pointers were read while the store published `generation`: an ingest writes its pointers
        # before it publishes, so a read in between sees new pointers under the old name. Such an index
        # is not trusted by its name alone (the name may come back: A, B, A).
        self.settled = self.digest == generation
        self._lock = threading.Lock()
        self._docs: LRUCache[str, Document] = LRUCache(maxsize=MAX_DOCUMENTS)
        self._vectors: LRUCache[str, dict[tuple[int, int], Any]] = LRUCache(maxsize=MAX_CHUNK_VECTORS)  # by chunk
        self.stats = CorpusStats()
        self.lexical: Lexical | None = None
        self.vectors: SentenceVectors | None = None
        self.texts: TextMap | None = None
        self.sentences: SentenceMap | None = None

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
        """Statistics, BM25 and the memory maps of sentence vectors and texts, from one read of the chunk rows
        (none at all when another process saved them for these versions)."""
        rows: list[Chunk] | None = None

        def chunks(vectors: VectorWriter | None = None, texts: TextWriter | None = None) -> list[Chunk]:
            nonlocal rows
            if rows is None or vectors is not None:
                rows = self.store.chunk_rows(self.manifest, vectors, texts)
            return rows

        def write_rows(folder) -> None:
            vectors, texts = VectorWriter(folder), TextWriter(folder)
            try:
                write_sentences(folder, chunks(vectors, texts))
            finally:
                vectors.close()
                texts.close()

        if not self.manifest:
            return
        try:
            saved = load_or_write(self.settings, self.store.name, "vectors", self.digest, write_rows,
                                  lambda folder: (SentenceVectors.load(folder), TextMap.load(folder),
                                                  SentenceMap.load(folder)))
        except StoreError:
            saved = None  # the answerer reads vectors and texts from the store, row by row
        self.vectors, self.texts, self.sentences = saved or (None, None, None)
        elsewhere = None  # statistics built in a child process while BM25 is built here
        if (not is_saved(self.settings, self.store.name, "stats", self.digest)
                and len(chunks()) >= self.settings.derive_child_min_chunks):
            elsewhere = _StatsElsewhere(chunks())
        self.lexical = load_or_build(
            self.settings, self.store.name, "bm25-titled", self.digest,
            lambda: Lexical.build(chunks()), _save_lexical, Lexical.load,
        )
        self.stats = load_or_build(
            self.settings, self.store.name, "stats", self.digest,
            lambda: elsewhere.result() if elsewhere else CorpusStats.from_chunks(chunks()),
            lambda s, folder: s.save(folder), CorpusStats.load,
        ).with_names(d.outlet for d in self.manifest.values() if d.outlet)

    # --- what it pins -------------------------------------------------------------------------
    def named_sources(self, question: str) -> list[str] | None:
        """The documents of the outlets a question names ("What did the Telegraph report about
        ...?"), or None when it names none (or only outlets every document has): such a question
        asks what that outlet's articles say, which their text rarely names."""
        found = sorted({d for pattern, ids in self._outlets for d in ids if pattern.search(question)})
        return found if found and len(found) < len(self.manifest) else None

    @functools.cached_property
    def _outlets(self) -> list[tuple[re.Pattern[str], list[str]]]:
        """Each outlet as a question writes it (its capitals, "the" optional), with its documents."""
        by_outlet: dict[str, list[str]] = {}
        for d in self.manifest.values():
            if d.outlet:
                by_outlet.setdefault(d.outlet.strip(), []).append(d.doc_id)
        out = []
        for outlet, ids in by_outlet.items():
            core = re.sub(r"\Athe\s+", "", outlet, flags=re.I)
            if len(core) >= 2:
                out.append((re.compile(rf"(?<![\w.]){re.escape(core)}(?!\w)"), ids))
        return out

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
        if missing and self.texts is not None:  # this generation's memory map of its texts
            mapped = {k: doc for k in missing if (doc := self.texts.get(k)) is not None}
            with self._lock:
                for key, doc in mapped.items():
                    self._docs[key] = doc
                    found[missing.pop(key)] = doc
        if missing:
            read = self.store.texts(list(missing))
            if len(read) < len(missing):
                gone = sorted(missing[k] for k in missing if k not in read)
                raise StaleIndex(f"the stored version of {', '.join(gone[:3])} was replaced")
            with self._lock:
                for key, doc in read.items():
                    self._docs[key] = doc
                    found[missing[key]] = doc
        return found

    def document(self, doc_id: str) -> Document:
        doc = self.fetch([doc_id]).get(doc_id)
        if doc is None:
            raise KeyError(doc_id)
        return doc

    def chunk(self, chunk_id: str) -> Chunk | None:
        """A chunk of a pinned version by id (offsets, title and sentences; no text), or None."""
        return self.lexical.chunk(chunk_id) if self.lexical is not None else None

    def passage_vectors(self, passages: Sequence[Chunk]) -> dict[tuple[str, int, int], Any]:
        """Stored vectors of the sentences of passages found in this generation, by (doc_id, start,
        end). Each passage is one of its chunks, so its vectors are read by its id (a search for the
        chunk that holds each sentence cost 0.3 ms of every answer at 150 pages). Any that cannot be
        read are left out (the answerer embeds those itself), so a busy store slows an answer but
        never fails it."""
        found = self.chunk_vectors(dict.fromkeys(p.chunk_id for p in passages))
        out = {}
        for p in passages:
            for (s, e), vec in found.get(p.chunk_id, {}).items():
                out[(p.doc_id, s, e)] = vec
        return out

    def passage_sentences(
        self, passages: Sequence[Chunk]
    ) -> tuple[dict[tuple[str, int, int], frozenset[str]], dict[tuple[str, int, int], Shape]]:
        """Saved terms and shapes of the sentences of passages found in this generation, by (doc_id,
        start, end); none when the generation's are not saved (the answerer works them out)."""
        terms: dict[tuple[str, int, int], frozenset[str]] = {}
        shapes: dict[tuple[str, int, int], Shape] = {}
        if self.sentences is None or self.lexical is None:
            return terms, shapes
        for cid in dict.fromkeys(p.chunk_id for p in passages):
            chunk = self.lexical.chunk(cid)
            found = self.sentences.of(cid, len(chunk.sentences)) if chunk is not None else None
            if found is not None:
                for (s, e), (t, shaped) in zip(chunk.sentences, found):  # type: ignore[union-attr]
                    key = (chunk.doc_id, s, e)  # type: ignore[union-attr]
                    terms[key], shapes[key] = t, shaped
        return terms, shapes

    def chunk_vectors(self, chunk_ids: Iterable[str]) -> dict[str, dict[tuple[int, int], Any]]:
        """The sentence vectors of chunks of this generation, by chunk id and then offsets: from
        its memory map, or else read with the chunk rows (one read for all, then kept). Unknown
        or unreadable chunks are left out."""
        if self.lexical is None:
            return {}
        wanted = {cid: chunk for cid in chunk_ids if (chunk := self.lexical.chunk(cid)) is not None}
        with self._lock:
            found = {cid: self._vectors[cid] for cid in wanted if cid in self._vectors}
        if self.vectors is not None:  # the memory map of this generation's vectors
            for cid, chunk in wanted.items():
                if cid not in found:
                    mapped = self.vectors.of(cid, chunk.sentences)
                    if mapped is not None:
                        found[cid] = mapped
        missing = sorted(set(wanted) - set(found))
        if missing:
            try:
                fetched = self.store.sentence_vectors(missing)
            except StoreError:
                fetched = {}
            with self._lock:
                self._vectors.update(fetched)
            found.update(fetched)
        return found


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


class _StatsElsewhere:
    """`CorpusStats.from_chunks` in a child process (rag/child.py). Statistics and BM25 are both
    single-threaded Python; built side by side they take one core each instead of one after the
    other. If the child fails, the statistics are built here."""

    def __init__(self, rows: list[Chunk]) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._rows = rows
        pool = ThreadPoolExecutor(1, thread_name_prefix="stats-child")
        self._future = pool.submit(self._run)
        pool.shutdown(wait=False)  # the call runs on; its thread ends with it, whether or not anyone asks

    def _run(self) -> CorpusStats:
        from . import stats
        from .child import Child

        with Child(stats.builder, "the statistics process") as child:
            return child.call("from_chunks", self._rows)

    def result(self) -> CorpusStats:
        from .child import ChildError

        try:
            return self._future.result()
        except ChildError as exc:
            log.warning("building the statistics here: %s", exc)
            return CorpusStats.from_chunks(self._rows)


def _save_lexical(lexical: Lexical | None, folder) -> None:
    if lexical is not None:
        lexical.save(folder)


__all__ = ["Index", "PinnedDocuments", "StaleIndex"]
