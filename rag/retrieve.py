"""Hybrid retrieval: dense (Chroma) and lexical (BM25) retrievers from llama-index, fused by
reciprocal rank, with an optional filter to given documents."""

from __future__ import annotations

import contextlib
import io
import logging
import threading
from typing import Any

from llama_index.core import VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import QueryFusionRetriever
from llama_index.core.schema import NodeWithScore
from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters

from .config import Settings
from .derived import load_or_build
from .embed import Embedder, LlamaIndexEmbedding
from .store import Store, node_to_chunk
from .types import Chunk

# bm25s warns when k exceeds the corpus size; we clamp k ourselves.
logging.getLogger("llama_index.retrievers.bm25.base").setLevel(logging.ERROR)


class HybridRetriever:
    """Finds passages for a query. The BM25 index is rebuilt only when the store changes."""

    def __init__(self, settings: Settings, store: Store, embedder: Embedder) -> None:
        self.settings = settings
        self.store = store
        self._embed_model = LlamaIndexEmbedding(embedder)
        self._index = VectorStoreIndex.from_vector_store(store.vector_store, embed_model=self._embed_model)
        self._bm25: Any = None
        self._bm25_generation: str | None = None
        self._lock = threading.Lock()

    def prepare(self, generation: str) -> None:
        """Build (or load) the lexical index for this generation ahead of the first query."""
        self._lexical(generation)

    def _lexical(self, generation: str) -> Any:
        with self._lock:
            if self._bm25 is None or self._bm25_generation != generation:
                from llama_index.retrievers.bm25 import BM25Retriever

                def build() -> Any:
                    nodes = self.store.chunk_nodes()
                    return BM25Retriever(nodes=nodes, similarity_top_k=min(len(nodes), 10)) if nodes else None

                def save(bm25: Any, folder) -> None:
                    if bm25 is not None:
                        with contextlib.redirect_stderr(io.StringIO()):
                            bm25.persist(str(folder))

                def load(folder) -> Any:
                    with contextlib.redirect_stderr(io.StringIO()):  # bm25s draws a progress bar
                        return BM25Retriever.from_persist_dir(str(folder))

                self._bm25 = load_or_build(self.settings, self.store.name, "bm25", generation, build, save, load)
                self._bm25_generation = generation
            return self._bm25

    def retrieve(
        self, query: str, doc_ids: list[str] | None = None, top_k: int | None = None, generation: str | None = None
    ) -> list[Chunk]:
        top_k = top_k or self.settings.top_k
        generation = self.store.generation() if generation is None else generation
        if not generation:
            return []
        filters = None
        if doc_ids:
            filters = MetadataFilters(
                filters=[MetadataFilter(key="doc_id", value=list(doc_ids), operator=FilterOperator.IN)]
            )
        retrievers = [self._index.as_retriever(similarity_top_k=self.settings.candidate_k, filters=filters)]
        bm25 = self._lexical(generation)
        if bm25 is not None:
            retrievers.append(_FilteredBM25(bm25, self.settings.candidate_k, doc_ids))
        fusion = QueryFusionRetriever(
            retrievers,
            llm=MockLLM(),  # one query: the LLM is never called, but must not default to OpenAI
            num_queries=1,
            mode=self.settings.fusion,
            use_async=False,
            similarity_top_k=top_k,
        )
        return [node_to_chunk(n.node, float(n.score or 0.0)) for n in fusion.retrieve(query)]


class _FilteredBM25:
    """Queries the shared BM25 index for the top k, optionally only within given documents.
    It asks bm25s for k hits (with a weight mask for the filter) and turns only those into
    nodes: turning every node of a large corpus into an object on each query is what is slow."""

    def __init__(self, retriever: Any, k: int, doc_ids: list[str] | None) -> None:
        self._r, self._k, self._doc_ids = retriever, k, set(doc_ids or [])

    def retrieve(self, query: Any) -> list[NodeWithScore]:
        import bm25s
        import numpy as np
        from llama_index.core.vector_stores.utils import metadata_dict_to_node

        r = self._r
        text = query.query_str if hasattr(query, "query_str") else str(query)
        tokens = bm25s.tokenize(text, stemmer=r.stemmer, token_pattern=r.token_pattern, show_progress=False)
        total = int(r.bm25.scores.get("num_docs", 0))
        mask = None
        if self._doc_ids:
            mask = np.array([int(r.corpus[i].get("doc_id") in self._doc_ids) for i in range(total)])
            if not mask.any():
                return []
        k = min(self._k, total)
        if k <= 0:
            return []
        indexes, scores = r.bm25.retrieve(tokens, k=k, weight_mask=mask, show_progress=False)
        hits = []
        for idx, score in zip(indexes[0], scores[0]):
            if score <= 0:
                continue
            entry = idx if isinstance(idx, dict) else r.corpus[int(idx)]
            hits.append(NodeWithScore(node=metadata_dict_to_node(entry), score=float(score)))
        return hits
