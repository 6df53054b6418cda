"""Syncing the store with article files (idempotent): parse, segment, embed each sentence once,
derive chunk vectors, write in bulk. The chunker itself is in rag/chunking.py.

Files stream through: the scan keeps only paths and fingerprints, and a changed file is read
again when its group comes, so nothing proportional to the corpus is held. Groups of files are
parsed, embedded and written at once, on three threads (at most three groups in memory; for a big
ingest the local model embeds in a child process, rag/embed/process.py), and one new generation is
published at the end. Killed half-way, an ingest leaves every document at its
old or its new version (the pointer is written after the version's rows); the next ingest skips
what is done and goes on. One writer at a time: a lock file under data_dir says who is writing."""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import os
import time
from contextlib import contextmanager
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from cachetools import LRUCache

from .chunking import CHUNKER_VERSION, chunk_document, chunk_spans, chunk_vector, normalise
from .config import Settings
from .corpus import extractor_version, iter_article_files, parse_document, read_bytes
from .embed import Embedder
from .errors import CorpusError, ProviderError, StoreError
from .sentences import blocks, headings, sentence_spans
from .rows import PreparedChunk, PreparedDocument, StoredDocument, manifest_digest
from .store import Store
from .types import Document

log = logging.getLogger(__name__)
Progress = Callable[[int, int, str], None]
# Sentences enough to hand to an idle embedder without waiting for a whole group (the first group,
# or whenever parsing falls behind): at 150 pages the embedder started 1.5 s after the scan, not 3.
_IDLE_HANDOVER = 256
__all__ = ["CHUNKER_VERSION", "IngestReport", "Ingestor", "chunk_document", "chunk_spans", "fingerprint",
           "recorded_roots", "writer_lock"]


@dataclass
class IngestReport:
    """What a sync did, for the CLI and for tests."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # ids stored from another file, not replaced
    errors: list[CorpusError] = field(default_factory=list)
    chunks_embedded: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        refused = f"{len(self.refused)} refused, " if self.refused else ""
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.removed)} removed, {refused}{self.chunks_embedded} chunks embedded, "
            f"{len(self.errors)} file(s) skipped, in {self.seconds:.1f}s"
        )


def fingerprint(data: bytes, path: Path, settings: Settings, model_name: str) -> str:
    """Identifies a file's bytes and how they are extracted, chunked and embedded: equal
    fingerprints mean nothing to do, without even parsing the file."""
    key = "|".join(
        [hashlib.sha256(data).hexdigest(), extractor_version(path), CHUNKER_VERSION,
         str(settings.chunk_size), str(settings.chunk_overlap), str(settings.chunk_title_weight), model_name]
    )
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


@contextmanager
def writer_lock(settings: Settings):
    """One ingest at a time per store: a second one fails at once with a message naming the first.
    (The embedded store cannot take two writers; a Chroma server takes one writer at a time too.)"""
    import fcntl

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / "ingest.lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            who = handle.read().strip() or "another process"
            raise StoreError(
                f"another ingest ({who}) is writing to the store under {settings.data_dir}; "
                "wait for it to finish and run this one again"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def recorded_roots(settings: Settings) -> list[Path]:
    """Folders ingested into this data folder before: ids are relative to them, and an emptied
    store names them as what to ingest again."""
    try:
        return [Path(p) for p in json.loads((settings.data_dir / "roots.json").read_text(encoding="utf-8"))]
    except (OSError, ValueError):
        return []


def _record_roots(settings: Settings, folders: list[Path]) -> None:
    roots = list(dict.fromkeys([*map(str, recorded_roots(settings)), *(str(f.resolve()) for f in folders)]))
    path = settings.data_dir / "roots.json"
    tmp = path.with_name(f"roots.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(roots, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _same_file(a: str, b: Path) -> bool:
    return not a or Path(a).resolve() == b.resolve()


class Ingestor:
    """Syncs a Store with article files."""

    def __init__(self, settings: Settings, store: Store, embedder: Embedder) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        # vectors of texts this ingest embedded already, used only by the embedding thread
        self._repeats: LRUCache[str, np.ndarray] = LRUCache(maxsize=max(1, settings.ingest_repeat_cache))

    def sync_paths(
        self, paths: Iterable[Path], prune: bool = True, progress: Progress | None = None, replace: bool = False
    ) -> IngestReport:
        """Sync the articles under `paths`. Unchanged files are recognised by their bytes and
        skipped unparsed. A file whose id is stored from another file is refused unless `replace`.
        With `prune`, stored documents that came from these folders but are gone are deleted;
        files that fail to load keep whatever the store had for them."""
        started = time.perf_counter()
        paths = [Path(p) for p in paths]
        report = IngestReport()
        stored = {d.doc_id: d for d in self.store.documents()}
        seen: dict[str, Path] = {}
        todo: list[tuple[Path, str]] = []  # no bytes held: a changed file is read again when its turn comes
        failed: set[Path] = set()
        roots = [*recorded_roots(self.settings), self.settings.corpus_dir]
        for path, doc_id in iter_article_files(paths, roots=roots, errors=report.errors):
            path = path.absolute()
            if doc_id in seen:
                report.errors.append(CorpusError(f"{path} and {seen[doc_id]} both map to document id {doc_id!r}", path))
                continue
            seen[doc_id] = path
            old = stored.get(doc_id)
            if old is not None and not replace and not _same_file(old.source, path):
                report.refused.append(
                    f"{path}: document id {doc_id!r} is already stored from {old.source}; kept that one "
                    "(run `rag ingest --replace` to replace it)"
                )
                continue
            try:
                data = read_bytes(path)
            except CorpusError as exc:
                report.errors.append(exc)
                failed.add(path.resolve())
                continue
            fp = fingerprint(data, path, self.settings, self.embedder.name)
            if old is not None and old.fingerprint == fp and _same_file(old.source, path):
                report.unchanged.append(doc_id)
            else:
                todo.append((path, doc_id))
        failed |= self._write(todo, stored, report, progress)
        if prune:
            self._prune(paths, stored, set(seen), failed, report)
        _record_roots(self.settings, [p for p in paths if p.is_dir()])
        self._publish()
        report.seconds = time.perf_counter() - started
        return report

    def _publish(self) -> None:
        """One new generation per ingest, and only if the documents changed (here, or in an
        earlier ingest that was killed before publishing)."""
        digest = manifest_digest(self.store.documents())
        current = self.store.generation()
        if current != digest and (current or digest != manifest_digest([])):
            self.store.publish(digest)

    def _write(self, todo, stored, report: IngestReport, progress: Progress | None) -> set[Path]:
        """Parse, chunk and embed changed files a group at a time (memory stays bounded; batches
        span documents), writing each group in bulk as soon as its vectors are ready. Three stages
        run at once: this thread parses group k+1 while group k is embedded (outside the GIL) and
        group k-1 is written, so the cores never wait for the store. Returns the files that failed
        to load."""
        embedder = self._embedder_for(todo)
        try:
            return self._stream(todo, stored, report, progress, embedder)
        finally:
            if embedder is not self.embedder:
                embedder.close()

    def _embedder_for(self, todo) -> Embedder:
        """The embedder of this ingest: the local model in a child process when the files are big
        enough to repay starting it (see rag/embed/process.py), else the one given. A single file
        stays here: its parsing, embedding and writing follow each other (the 2 MB article took
        32.6-34.1 s either way, and the child's ~230 MB on top)."""
        factory = getattr(self.embedder, "factory", None)
        if factory is None or len(todo) < 2:
            return self.embedder  # one file is parsed, embedded and written in turn: nothing to overlap
        size = 0
        for path, _ in todo:
            try:
                size += path.stat().st_size
            except OSError:
                pass
        if size < self.settings.ingest_child_min_bytes:
            return self.embedder
        from .embed.process import ProcessEmbedder

        try:
            return ProcessEmbedder(factory(), self.embedder.name)
        except ProviderError as exc:
            log.warning("embedding in this process: %s", exc)
            return self.embedder

    def _stream(self, todo, stored, report: IngestReport, progress: Progress | None, embedder: Embedder) -> set[Path]:
        """`_write`'s three stages."""
        from concurrent.futures import Future, ThreadPoolExecutor

        failed: set[Path] = set()
        group: list[tuple[Document, str, list[tuple[int, int]], list[tuple[int, int]]]] = []
        pending = 0
        embedding: Future | None = None  # at most one group embedded and one written: three in memory
        writing: Future | None = None
        with ThreadPoolExecutor(1, thread_name_prefix="ingest-embed") as embed_thread, \
                ThreadPoolExecutor(1, thread_name_prefix="ingest-write") as write_thread:
            warm_up = getattr(embedder, "warm_up", None)
            if todo and warm_up is not None:  # the model loads while the first files are parsed
                embed_thread.submit(warm_up)  # (a failure happens again, and is raised, at the first embed)

            def hand_over() -> None:  # the embedded group goes to the writer once the one before is written
                nonlocal writing
                if embedding is not None:
                    prepared = embedding.result()  # raises what embedding raised
                    if writing is not None:
                        writing.result()
                    writing = write_thread.submit(self._store_group, prepared, stored, report)

            for n, (path, doc_id) in enumerate(todo, 1):
                try:
                    data = read_bytes(path)
                    fp = fingerprint(data, path, self.settings, self.embedder.name)
                    doc = parse_document(path, data, doc_id)
                except CorpusError as exc:
                    report.errors.append(exc)
                    failed.add(path.resolve())
                else:
                    del data
                    # headings are stored with the text: an answer needs the ones around its passages
                    found = blocks(doc.text)
                    doc = replace(doc, headings=tuple(headings(doc.text, given=found)))
                    sents = sentence_spans(doc.text, given=found)
                    group.append((doc, fp, sents, chunk_spans(doc.text, self.settings.chunk_size,
                                                              self.settings.chunk_overlap, sents)))
                    pending += len(sents)
                idle = embedding is None or embedding.done()  # hand over sooner rather than keep the cores waiting
                if group and (pending >= self.settings.ingest_group_sentences or n == len(todo)
                              or (idle and pending >= _IDLE_HANDOVER)):
                    hand_over()
                    embedding = embed_thread.submit(self._embed_group, group, embedder)
                    group, pending = [], 0
                if progress and n < len(todo):  # the last step is reported once everything is written
                    progress(n, len(todo), doc_id)
            hand_over()
            if writing is not None:
                writing.result()
        if progress and todo:
            progress(len(todo), len(todo), todo[-1][1])
        return failed

    def _embed_group(self, group, embedder: Embedder) -> list[PreparedDocument]:
        """Each text is embedded once: sentences and titles are embedded, and a chunk's vector is the
        normalised sum of its sentences' vectors plus `chunk_title_weight` of its title's (measured:
        about half the embedding work of embedding chunks as well; the title puts back the page's
        topic that embedding "title + chunk" gave). Each chunk row keeps its sentences' vectors."""
        texts = [doc.text[a:b] for doc, _, sents, _ in group for a, b in sents]
        texts += [doc.title for doc, *_ in group]
        vectors = self._embed_once(texts, embedder)
        titles = vectors[len(texts) - len(group):]
        weight = self.settings.chunk_title_weight
        prepared, at = [], 0
        for (doc, fp, sents, spans), title in zip(group, titles):
            matrix = vectors[at : at + len(sents)]
            at += len(sents)
            starts, ends = [s for s, _ in sents], [e for _, e in sents]
            chunks = []
            for a, b in spans:  # a chunk's sentences are a contiguous run of the document's
                first, last = bisect.bisect_left(starts, a), bisect.bisect_right(ends, b)
                chunks.append(PreparedChunk(a, b, tuple(sents[first:last]),
                                            chunk_vector(matrix[first:last], title, weight), matrix[first:last]))
            prepared.append(PreparedDocument(doc, fp, chunks))
        return prepared

    def _embed_once(self, texts: list[str], embedder: Embedder) -> np.ndarray:
        """Normalised vectors of `texts`; a text an earlier group of this ingest embedded is not
        embedded again (pages repeat "See also", "Changed in version 3.3: ...", a site's boilerplate:
        at 150 pages, 2.7% of the tokens came back after their group was gone)."""
        if self.settings.ingest_repeat_cache <= 0:
            return normalise(embedder.embed(texts))
        found: dict[str, np.ndarray] = {}
        fresh = []
        for t in dict.fromkeys(texts):
            vector = self._repeats.get(t)  # a hit counts as a use
            if vector is not None:
                found[t] = vector
            else:
                fresh.append(t)
        if fresh:
            for t, vector in zip(fresh, normalise(embedder.embed(fresh))):
                found[t] = self._repeats[t] = vector.copy()  # a row alone, not a view pinning its group's matrix
        return np.stack([found[t] for t in texts])

    def _store_group(self, prepared: list[PreparedDocument], stored, report: IngestReport) -> None:
        self.store.write(prepared, stored)
        for p in prepared:
            (report.updated if p.doc.doc_id in stored else report.added).append(p.doc.doc_id)
            report.chunks_embedded += len(p.chunks)

    def _prune(self, paths, stored: dict[str, StoredDocument], seen: set[str], failed: set[Path], report) -> None:
        roots = [p.resolve() for p in paths if p.is_dir()]
        gone = []
        for doc_id, doc in stored.items():
            src = Path(doc.source).resolve() if doc.source else None
            if doc_id in seen or src is None or src in failed:
                continue
            if any(src.is_relative_to(root) for root in roots):
                gone.append(doc)
                report.removed.append(doc_id)
        self.store.delete_documents(gone)
