"""Chunking with exact offsets, embedding in batches, and syncing the store (idempotent)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

from .config import Settings
from .corpus import extractor_version, iter_article_files, parse_document, read_bytes
from .embed import Embedder
from .errors import CorpusError
from .sentences import sentence_spans, words
from .store import Store
from .types import Document

# Bump when chunking changes, so stored documents are re-chunked on the next ingest.
CHUNKER_VERSION = "sent-pack-3"  # 2: sentence vectors stored; 3: chunks carry sentence offsets

Progress = Callable[[int, int, str], None]


@dataclass
class IngestReport:
    """What a sync did, for the CLI and for tests."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[CorpusError] = field(default_factory=list)
    chunks_embedded: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.removed)} removed, {self.chunks_embedded} chunks embedded, "
            f"{len(self.errors)} file(s) skipped, in {self.seconds:.1f}s"
        )


def fingerprint(data: bytes, path: Path, settings: Settings, model_name: str) -> str:
    """Identifies a file's bytes and how they are extracted, chunked and embedded: equal
    fingerprints mean nothing to do, without even parsing the file."""
    key = "|".join(
        [hashlib.sha256(data).hexdigest(), extractor_version(path), CHUNKER_VERSION,
         str(settings.chunk_size), str(settings.chunk_overlap), model_name]
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


def chunk_document(
    doc: Document, settings: Settings, sents: list[tuple[int, int]] | None = None
) -> list[TextNode]:
    """llama-index nodes whose text is exactly doc.text[start:end], with ids stable across runs.
    Each carries its sentences' offsets, so answering never has to split sentences again."""
    sents = sentence_spans(doc.text) if sents is None else sents
    nodes = []
    for start, end in chunk_spans(doc.text, settings.chunk_size, settings.chunk_overlap, sents):
        text = doc.text[start:end]
        inside = [(a, b) for a, b in sents if a >= start and b <= end]
        node = TextNode(
            id_=f"{doc.doc_id}:{start}-{end}",
            text=text,
            start_char_idx=start,
            end_char_idx=end,
            metadata={"title": doc.title, "start": start, "end": end, "sentences": encode_spans(inside)},
            excluded_embed_metadata_keys=["start", "end", "sentences"],
            excluded_llm_metadata_keys=["start", "end", "sentences"],
        )
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc.doc_id)
        nodes.append(node)
    return nodes


def encode_spans(spans: list[tuple[int, int]]) -> str:
    """The inverse of store.decode_spans."""
    return ",".join(f"{a}-{b}" for a, b in spans)


def embed_text(node: TextNode) -> str:
    """What the dense index sees: the chunk with its headline for context."""
    return f"{node.metadata.get('title', '')}\n{node.text}"


class Ingestor:
    """Syncs a Store with article files."""

    def __init__(self, settings: Settings, store: Store, embedder: Embedder) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder

    def sync_paths(self, paths: Iterable[Path], prune: bool = True, progress: Progress | None = None) -> IngestReport:
        """Sync the articles under `paths`. Unchanged files are recognised by their bytes and
        skipped unparsed. With `prune`, stored documents that came from these folders but are
        gone are deleted; files that fail to load keep whatever the store had for them."""
        started = time.perf_counter()
        paths = [Path(p) for p in paths]
        report = IngestReport()
        stored = {d.doc_id: d for d in self.store.documents()}
        seen: dict[str, Path] = {}
        todo: list[tuple[Path, bytes, str, str]] = []
        failed: set[Path] = set()
        for path, doc_id in iter_article_files(paths):
            if doc_id in seen:
                report.errors.append(CorpusError(f"{path} and {seen[doc_id]} both map to document id {doc_id!r}", path))
                continue
            seen[doc_id] = path
            try:
                data = read_bytes(path)
            except CorpusError as exc:
                report.errors.append(exc)
                failed.add(path.resolve())
                continue
            fp = fingerprint(data, path, self.settings, self.embedder.name)
            if doc_id in stored and stored[doc_id].fingerprint == fp:
                report.unchanged.append(doc_id)
            else:
                todo.append((path, data, doc_id, fp))
        failed |= self._write(todo, stored, report, progress)
        if prune:
            self._prune(paths, stored, set(seen), failed, report)
        report.seconds = time.perf_counter() - started
        return report

    def _write(self, todo, stored, report: IngestReport, progress: Progress | None) -> set[Path]:
        """Parse, chunk and embed changed files a group at a time (memory stays bounded; batches
        span documents), writing each document as soon as its vectors are ready. Every sentence
        gets a vector too, for the answerer. Returns the files that failed to parse."""
        failed: set[Path] = set()
        group: list[tuple[Document, str, list[tuple[int, int]], list[TextNode]]] = []
        pending = 0
        for n, (path, data, doc_id, fp) in enumerate(todo, 1):
            try:
                doc = parse_document(path, data, doc_id)
            except CorpusError as exc:
                report.errors.append(exc)
                failed.add(path.resolve())
            else:
                sents = sentence_spans(doc.text)
                group.append((doc, fp, sents, chunk_document(doc, self.settings, sents)))
                pending += len(sents)
            if group and (pending >= self.settings.embed_batch_size * 8 or n == len(todo)):
                self._write_group(group, stored, report)
                if progress:
                    progress(n, len(todo), group[-1][0].doc_id)
                group, pending = [], 0

        return failed

    def _write_group(self, group, stored, report: IngestReport) -> None:
        self._embed([node for *_, nodes in group for node in nodes])
        texts = [doc.text[a:b] for doc, _, sents, _ in group for a, b in sents]
        vectors = iter(self._embed_texts(texts))
        for doc, fp, sents, nodes in group:
            self.store.replace_document(doc, fp, nodes, [(a, b, next(vectors)) for a, b in sents])
            (report.updated if doc.doc_id in stored else report.added).append(doc.doc_id)
            report.chunks_embedded += len(nodes)

    def _prune(self, paths, stored, seen: set[str], failed: set[Path], report: IngestReport) -> None:
        roots = [p.resolve() for p in paths if p.is_dir()]
        for doc_id, doc in stored.items():
            src = Path(doc.source).resolve() if doc.source else None
            if doc_id in seen or src is None or src in failed:
                continue
            if any(src.is_relative_to(root) for root in roots):
                self.store.delete_document(doc_id)
                report.removed.append(doc_id)

    def _embed(self, nodes: list[TextNode]) -> None:
        for node, vector in zip(nodes, self._embed_texts([embed_text(n) for n in nodes])):
            node.embedding = vector

    def _embed_texts(self, texts: list[str]) -> list[list[float]]:
        size = self.settings.embed_batch_size
        out: list[list[float]] = []
        for i in range(0, len(texts), size):
            out.extend(self.embedder.embed(texts[i : i + size]))
        return out
