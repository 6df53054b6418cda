"""Chunking with exact offsets, embedding in batches, and syncing the store (idempotent).

An ingest writes new document versions in bulk, a group of files at a time, and publishes one new
generation at the end. Killed half-way, it leaves every document at its old or its new version (the
pointer is written after the version's rows); the next ingest skips what is done and goes on.
One writer at a time: a lock file under data_dir says who is writing."""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import time
from contextlib import contextmanager
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .config import Settings
from .corpus import extractor_version, iter_article_files, parse_document, read_bytes
from .embed import Embedder
from .errors import CorpusError, StoreError
from .sentences import sentence_spans, words
from .store import PreparedDocument, Store, StoredDocument
from .types import Document

# Bump when chunking changes, so stored documents are re-chunked on the next ingest.
# 2: sentence vectors stored; 3: chunks carry sentence offsets; 4: versioned rows (store layout v2)
# and chunk vectors summed from sentence vectors (each text embedded once); 5: sentences within blocks
# (a hard line wrap is not a sentence end)
CHUNKER_VERSION = "sent-pack-5"

Progress = Callable[[int, int, str], None]


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


def _token_count(text: str) -> int:
    # Word pieces run ~1.3 per word in news English; close enough to pack chunks.
    return int(len(words(text)) * 1.3) + 1


def chunk_spans(
    text: str, chunk_size: int, chunk_overlap: int, sents: list[tuple[int, int]] | None = None
) -> list[tuple[int, int]]:
    """Pack whole sentences into chunks of at most `chunk_size` tokens, repeating the last
    sentences (up to `chunk_overlap` tokens) at the start of the next chunk. A sentence longer
    than a chunk becomes a chunk of its own; offsets always fall on sentence boundaries."""
    sents = sentence_spans(text) if sents is None else sents
    sizes = [_token_count(text[s:e]) for s, e in sents]
    chunks: list[tuple[int, int]] = []
    i = 0
    while i < len(sents):
        j, total = i, 0
        while j < len(sents) and (j == i or total + sizes[j] <= chunk_size):
            total += sizes[j]
            j += 1
        chunks.append((sents[i][0], sents[j - 1][1]))
        if j >= len(sents):
            break
        # step back over trailing sentences that fit in the overlap, but always advance
        k, back = j, 0
        while k - 1 > i and back + sizes[k - 1] <= chunk_overlap:
            k -= 1
            back += sizes[k]
        i = k
    return chunks


def chunk_document(doc: Document, settings: Settings, sents: list[tuple[int, int]] | None = None) -> list:
    """llama-index nodes whose text is exactly doc.text[start:end] (id `doc_id:start-end`), each
    carrying its sentences' offsets: the chunking as a library user sees it."""
    from .retrieve import chunk_node
    from .types import Chunk

    sents = sentence_spans(doc.text) if sents is None else sents
    return [
        chunk_node(Chunk(f"{doc.doc_id}:{a}-{b}", doc.doc_id, doc.title, "", a, b,
                         sentences=tuple((s, e) for s, e in sents if s >= a and e <= b)), doc.text[a:b])
        for a, b in chunk_spans(doc.text, settings.chunk_size, settings.chunk_overlap, sents)
    ]


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
        todo: list[tuple[Path, bytes, str, str]] = []
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
                todo.append((path, data, doc_id, fp))
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
        from .store import manifest_digest

        digest = manifest_digest(self.store.documents())
        current = self.store.generation()
        if current != digest and (current or digest != manifest_digest([])):
            self.store.publish(digest)

    def _write(self, todo, stored, report: IngestReport, progress: Progress | None) -> set[Path]:
        """Parse, chunk and embed changed files a group at a time (memory stays bounded; batches
        span documents), writing each group in bulk as soon as its vectors are ready. Every
        sentence gets a vector too, for the answerer. Returns the files that failed to parse."""
        failed: set[Path] = set()
        group: list[tuple[Document, str, list[tuple[int, int]], list[tuple[int, int]]]] = []
        pending = 0
        for n, (path, data, doc_id, fp) in enumerate(todo, 1):
            try:
                doc = parse_document(path, data, doc_id)
            except CorpusError as exc:
                report.errors.append(exc)
                failed.add(path.resolve())
            else:
                sents = sentence_spans(doc.text)
                group.append((doc, fp, sents, chunk_spans(doc.text, self.settings.chunk_size,
                                                          self.settings.chunk_overlap, sents)))
                pending += len(sents)
            if group and (pending >= self.settings.embed_batch_size * 8 or n == len(todo)):
                self._write_group(group, stored, report)
                group, pending = [], 0
            if progress:
                progress(n, len(todo), doc_id)
        return failed

    def _write_group(self, group, stored, report: IngestReport) -> None:
        """Each text is embedded once: sentences and titles are embedded, and a chunk's vector is the
        normalised sum of its sentences' vectors plus `chunk_title_weight` of its title's (measured:
        about half the embedding work of embedding chunks as well; the title puts back the page's
        topic that embedding "title + chunk" gave)."""
        import numpy as np

        texts = [doc.text[a:b] for doc, _, sents, _ in group for a, b in sents]
        texts += [doc.title for doc, *_ in group]
        vectors = iter(self._embed_texts(texts))
        svecs_of = [[next(vectors) for _ in sents] for _, _, sents, _ in group]
        weight = self.settings.chunk_title_weight
        prepared = []
        for (doc, fp, sents, spans), svecs in zip(group, svecs_of):
            title = np.asarray(next(vectors), dtype=np.float32)
            matrix = np.asarray(svecs, dtype=np.float32)
            starts, ends = [s for s, _ in sents], [e for _, e in sents]
            chunks = []
            for a, b in spans:  # a chunk's sentences are a contiguous run of the document's
                first, last = bisect.bisect_left(starts, a), bisect.bisect_right(ends, b)
                total = matrix[first:last].sum(axis=0)
                total = total / (np.linalg.norm(total) or 1.0) + weight * title
                vector = (total / (np.linalg.norm(total) or 1.0)).tolist()
                chunks.append((a, b, tuple(sents[first:last]), vector))
            prepared.append(PreparedDocument(doc, fp, chunks, [(a, b, v) for (a, b), v in zip(sents, svecs)]))
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

    def _embed_texts(self, texts: list[str]) -> list[list[float]]:
        """Batches of similar length (sorted by size), so little of each batch is padding."""
        size = self.settings.embed_batch_size
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[list[float]] = [[] for _ in texts]
        for i in range(0, len(order), size):
            idx = order[i : i + size]
            for j, vec in zip(idx, self.embedder.embed([texts[j] for j in idx])):
                out[j] = vec
        return out
