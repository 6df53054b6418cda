"""Hybrid retrieval over one pinned generation: dense (Chroma) and lexical (BM25, bm25s through
llama-index) fused as llama-index's QueryFusionRetriever fuses them (`fusion.py`), with an
optional filter to documents.

Both sides return only chunks of the versions the generation pins, and every chunk's text is cut
from the pinned document text, so a passage's offsets always point into the text it came from.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

from .config import Settings
from .embed import Embedder
from .chunking import decode_spans, encode_spans
from .fusion import fuse
from .types import Chunk

if TYPE_CHECKING:
    from .index import Index

# Chunks of versions a generation does not pin (a newer ingest's, or an older one's not yet
# deleted) can take places in the top k; asking for a few more keeps k of the pinned ones.
OVERFETCH = 2


def chunk_node(chunk: Chunk, text: str) -> TextNode:
    """The llama-index node of a chunk, with its offsets and its sentences' (BM25's corpus, and
    the chunking as a library user sees it)."""
    meta: dict[str, Any] = {"title": chunk.title, "start": chunk.start, "end": chunk.end,
                            "sentences": encode_spans(chunk.sentences)}
    node = TextNode(
        id_=chunk.chunk_id,
        text=text,
        start_char_idx=chunk.start,
        end_char_idx=chunk.end,
        metadata=meta,
        excluded_embed_metadata_keys=["start", "end", "sentences"],
        excluded_llm_metadata_keys=["start", "end", "sentences"],
    )
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=chunk.doc_id)
    return node


class Lexical:
    """BM25 over the chunks of one generation, and the table that turns a hit into a chunk
    without parsing any stored JSON."""

    def __init__(self, bm25: Any, table: list[Chunk]) -> None:
        self.bm25, self.table = bm25, table
        self._doc_index: dict[str, list[int]] = {}
        self._by_id: dict[str, int] = {}
        for i, c in enumerate(table):
            self._doc_index.setdefault(c.doc_id, []).append(i)
            self._by_id[c.chunk_id] = i

    def chunk(self, chunk_id: str) -> Chunk | None:
        """The chunk row of this generation with that id (no text), or None."""
        i = self._by_id.get(chunk_id)
        return None if i is None else self.table[i]

    @classmethod
    def build(cls, chunks: list[Chunk]) -> "Lexical | None":
        from llama_index.retrievers.bm25 import BM25Retriever

        if not chunks:
            return None
        # the title is indexed with each chunk: "in Python 3.9" points at the page titled so
        nodes = [chunk_node(c, f"{c.title}\n{c.text}") for c in chunks]
        quiet = logging.getLogger("llama_index.retrievers.bm25.base")  # warns of a k we clamp ourselves
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            retriever = BM25Retriever(nodes=nodes, similarity_top_k=min(len(nodes), 10))
        finally:
            quiet.setLevel(level)
        retriever.corpus = None  # the table below stands in; node dicts would double the memory
        return cls(retriever, [Chunk(c.chunk_id, c.doc_id, c.title, "", c.start, c.end, 0.0, c.sentences) for c in chunks])

    def save(self, folder: Path) -> None:
        with contextlib.redirect_stderr(io.StringIO()):
            self.bm25.bm25.save(str(folder / "bm25"))
        rows = [[c.chunk_id, c.doc_id, c.title, c.start, c.end, encode_spans(c.sentences)] for c in self.table]
        (folder / "table.json").write_text(json.dumps(rows), encoding="utf-8")
        (folder / "tokenizer.json").write_text(json.dumps({"pattern": self.bm25.token_pattern}), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "Lexical":
        import bm25s
        import Stemmer

        with contextlib.redirect_stderr(io.StringIO()):  # bm25s draws a progress bar
            bm25 = bm25s.BM25.load(str(folder / "bm25"))
        tokenizer = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
        holder = _Loaded(bm25, Stemmer.Stemmer("english"), tokenizer["pattern"])
        rows = json.loads((folder / "table.json").read_text(encoding="utf-8"))
        return cls(holder, [Chunk(i, d, t, "", s, e, 0.0, decode_spans(sp)) for i, d, t, s, e, sp in rows])

    def search(self, query: str, k: int, doc_ids: Sequence[str] | None) -> list[tuple[Chunk, float]]:
        import bm25s
        import numpy as np

        r = self.bm25
        total = len(self.table)
        mask = None
        if doc_ids:
            mask = np.zeros(total, dtype=np.int64)
            for d in doc_ids:
                mask[self._doc_index.get(d, [])] = 1
            if not mask.any():
                return []
        k = min(k, total)
        if k <= 0:
            return []
        tokens = bm25s.tokenize(query, stemmer=r.stemmer, token_pattern=r.token_pattern, show_progress=False)
        indexes, scores = r.bm25.retrieve(tokens, k=k, weight_mask=mask, show_progress=False)
        return [(self.table[int(i)], float(s)) for i, s in zip(indexes[0], scores[0]) if s > 0]


class _Loaded:
    """The parts of llama-index's BM25Retriever a search needs, as loaded from disk."""

    def __init__(self, bm25: Any, stemmer: Any, token_pattern: str) -> None:
        self.bm25, self.stemmer, self.token_pattern = bm25, stemmer, token_pattern


def _lexical_hits(index: "Index", query: str, k: int, doc_ids: Sequence[str] | None) -> list[tuple[Chunk, float]]:
    assert index.lexical is not None
    return [(c, s) for c, s in index.lexical.search(query, k * OVERFETCH, doc_ids) if index.pins(c)][:k]


def _pinned(index: "Index", got: list[tuple[Chunk, float]], wanted: set[str] | None = None) -> list[tuple[Chunk, float]]:
    """Chroma's hits (ids and distances) as the pinned generation's chunks with scores, in order."""
    out = []
    for hit, distance in got:
        c = index.chunk(hit.chunk_id)
        if c is not None and (wanted is None or c.doc_id in wanted):
            out.append((c, math.exp(-distance)))
    return out


class HybridRetriever:
    """Finds passages for a query within one pinned generation."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        self.embedder = embedder
        self._lexical_pool: ThreadPoolExecutor | None = None
        self._lexical_busy = 0  # searches submitted to the pool and not yet done
        self._lock = threading.Lock()

    def close(self) -> None:
        """Stop the lexical side's threads (a later search starts them again)."""
        with self._lock:
            pool, self._lexical_pool = self._lexical_pool, None
        if pool is not None:
            pool.shutdown(wait=True)  # a search still running finishes first (a millisecond)

    def _start_lexical(self, index: "Index", query: str, k: int, doc_ids: Sequence[str] | None) -> Future:
        """The lexical side, started on a thread of its own (under the lock, so close() on another
        thread never shuts the pool between its creation and this submission). When every such
        thread is busy (more questions at once than `lexical_threads`), or the interpreter is
        shutting down, it runs here and now instead of waiting."""
        future = None
        with self._lock:
            if self._lexical_busy < self.settings.lexical_threads:
                if self._lexical_pool is None:
                    self._lexical_pool = ThreadPoolExecutor(self.settings.lexical_threads, thread_name_prefix="rag-bm25")
                try:
                    future = self._lexical_pool.submit(_lexical_hits, index, query, k, doc_ids)
                    self._lexical_busy += 1
                except RuntimeError:  # "cannot schedule new futures after interpreter shutdown"
                    pass
        if future is not None:
            future.add_done_callback(self._lexical_done)  # outside the lock: a done future calls back at once
            return future
        here: Future = Future()
        try:
            here.set_result(_lexical_hits(index, query, k, doc_ids))
        except Exception as exc:  # noqa: BLE001 - raised by result(), as from the pool
            here.set_exception(exc)
        return here

    def _lexical_done(self, _: Future) -> None:
        with self._lock:
            self._lexical_busy -= 1

    def _dense(
        self, index: "Index", vector: Any, k: int, doc_ids: Sequence[str] | None
    ) -> list[tuple[Chunk, float]]:
        """The k nearest chunks of the pinned versions (of `doc_ids` only, when given). Chroma's
        filter costs ~0.1 ms an article, so a long list of articles is kept out of it: the nearest
        chunks of all are read, and Chroma filters only when too few of the chosen are among them."""
        wanted = set(doc_ids) if doc_ids else None
        if wanted is not None and len(wanted) > self.settings.filter_in_store_max_articles:
            found = _pinned(index, index.store.query(vector, max(self.settings.post_filter_fetch, k * OVERFETCH)), wanted)
            if len(found) >= k:
                return found[:k]
        return _pinned(index, index.store.query(vector, k * OVERFETCH, doc_ids))[:k]

    def retrieve(
        self, index: "Index", query: str, doc_ids: Sequence[str] | None = None, top_k: int | None = None
    ) -> list[Chunk]:
        """Passages of the pinned versions, each with text cut from its pinned document. Raises
        StaleIndex when a pinned version is gone (the caller moves to the newer generation)."""
        top_k = top_k or self.settings.top_k
        k = self.settings.candidate_k
        if not index.manifest:
            return []
        # BM25 runs on another thread while this one embeds the question (ONNX Runtime runs outside
        # the GIL; Chroma's query does not): the lexical side costs no time of its own
        lexical_side = self._start_lexical(index, query, k, doc_ids) if index.lexical is not None else None
        vector = self.embedder.embed([query])[0]
        dense = self._dense(index, vector, k, doc_ids)
        lexical = lexical_side.result() if lexical_side is not None else []
        sides = [dense, lexical] if index.lexical is not None else [dense]
        found = fuse(sides, self.settings.fusion, top_k)
        docs = index.fetch([c.doc_id for c, _ in found])
        return [Chunk(c.chunk_id, c.doc_id, c.title, docs[c.doc_id].text[c.start : c.end], c.start, c.end, score,
                      c.sentences) for c, score in found]


__all__ = ["HybridRetriever", "Lexical", "chunk_node"]
