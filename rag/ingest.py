"""Chunking with exact offsets, embedding in batches, and syncing the store (idempotent)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

from .config import Settings
from .corpus import content_hash, load_documents
from .embed import Embedder
from .errors import CorpusError
from .sentences import sentence_spans, words
from .store import Store
from .types import Document

# Bump when chunking changes, so stored documents are re-chunked on the next ingest.
CHUNKER_VERSION = "sent-pack-1"

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


def fingerprint(doc: Document, settings: Settings, model_name: str) -> str:
    """Identifies a document's text, title and how it was chunked and embedded."""
    key = "|".join(
        [content_hash(doc.text), doc.title, CHUNKER_VERSION, str(settings.chunk_size),
         str(settings.chunk_overlap), model_name]
    )
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def _token_count(text: str) -> int:
    # Word pieces run ~1.3 per word in news English; close enough to pack chunks.
    return int(len(words(text)) * 1.3) + 1


def chunk_spans(text: str, chunk_size: int, chunk_overlap: int) -> list[tuple[int, int]]:
    """Pack whole sentences into chunks of at most `chunk_size` tokens, repeating the last
    sentences (up to `chunk_overlap` tokens) at the start of the next chunk. A sentence longer
    than a chunk becomes a chunk of its own; offsets always fall on sentence boundaries."""
    sents = sentence_spans(text)
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


def chunk_document(doc: Document, settings: Settings) -> list[TextNode]:
    """llama-index nodes whose text is exactly doc.text[start:end], with ids stable across runs."""
    nodes = []
    for start, end in chunk_spans(doc.text, settings.chunk_size, settings.chunk_overlap):
        text = doc.text[start:end]
        node = TextNode(
            id_=f"{doc.doc_id}:{start}-{end}",
            text=text,
            start_char_idx=start,
            end_char_idx=end,
            metadata={"title": doc.title, "start": start, "end": end},
            excluded_embed_metadata_keys=["start", "end"],
            excluded_llm_metadata_keys=["start", "end"],
        )
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc.doc_id)
        nodes.append(node)
    return nodes


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
        """Load articles under `paths` and sync them. With `prune`, stored documents that came
        from these folders but are gone from disk are deleted; files that failed to load keep
        whatever the store already had for them."""
        paths = [Path(p) for p in paths]
        loaded = load_documents(paths)
        report = self.sync(loaded.documents, progress=progress)
        report.errors.extend(loaded.errors)
        if prune:
            roots = [p.resolve() for p in paths if p.is_dir()]
            keep = {d.doc_id for d in loaded.documents}
            failed = {Path(e.path).resolve() for e in loaded.errors if e.path}
            for stored in self.store.documents():
                src = Path(stored.source).resolve() if stored.source else None
                if stored.doc_id in keep or src is None or src in failed:
                    continue
                if any(src.is_relative_to(root) for root in roots):
                    self.store.delete_document(stored.doc_id)
                    report.removed.append(stored.doc_id)
        return report

    def sync(self, documents: list[Document], progress: Progress | None = None) -> IngestReport:
        """Embed and store documents whose fingerprint changed; skip the rest."""
        started = time.perf_counter()
        report = IngestReport()
        stored = {d.doc_id: d.fingerprint for d in self.store.documents()}
        todo = []
        for doc in documents:
            fp = fingerprint(doc, self.settings, self.embedder.name)
            if stored.get(doc.doc_id) == fp:
                report.unchanged.append(doc.doc_id)
            else:
                todo.append((doc, fp, chunk_document(doc, self.settings)))
        total = sum(len(nodes) for _, _, nodes in todo)
        done = 0
        for doc, fp, nodes in todo:
            self._embed(nodes)
            self.store.replace_document(doc, fp, nodes)
            (report.updated if doc.doc_id in stored else report.added).append(doc.doc_id)
            done += len(nodes)
            report.chunks_embedded += len(nodes)
            if progress:
                progress(done, total, doc.doc_id)
        report.seconds = time.perf_counter() - started
        return report

    def _embed(self, nodes: list[TextNode]) -> None:
        size = self.settings.embed_batch_size
        for i in range(0, len(nodes), size):
            batch = nodes[i : i + size]
            for node, vector in zip(batch, self.embedder.embed([embed_text(n) for n in batch])):
                node.embedding = vector
