"""Embedding providers: a base that batches, normalises and caches (`base`), and one module per
provider. `build_embedder` turns `settings.embed_model` into one."""

from __future__ import annotations

from ..config import Settings
from ..errors import ConfigError
from .base import BatchingEmbedder, CachingEmbedder, Embedder
from .onnx import MiniLMEmbedder, export_onnx, token_batches


def build_embedder(settings: Settings) -> Embedder:
    """The one place that turns `settings.embed_model` into a provider."""
    kind, _, model = settings.embed_model.partition(":")
    if kind == "local" and model in ("all-MiniLM-L6-v2", ""):
        return MiniLMEmbedder(batch_size=settings.embed_batch_size, cache_dir=settings.model_cache_dir,
                              precision=settings.embed_precision, single_run_threads=settings.embed_question_threads)
    if kind == "openai" and model:
        if not settings.llm_configured:
            raise ConfigError("RAG_EMBED_MODEL=openai:... needs OPENAI_API_KEY or OPENAI_BASE_URL")
        from .openai import OpenAIEmbedder

        return OpenAIEmbedder(settings, model)
    raise ConfigError(
        f"unknown RAG_EMBED_MODEL {settings.embed_model!r}; use local:all-MiniLM-L6-v2 or openai:MODEL"
    )


def __getattr__(name: str):
    # the llama-index adapter and the OpenAI client load only when asked for
    if name == "LlamaIndexEmbedding":
        from .llama_index import LlamaIndexEmbedding

        return LlamaIndexEmbedding
    if name == "OpenAIEmbedder":
        from .openai import OpenAIEmbedder

        return OpenAIEmbedder
    raise AttributeError(name)


__all__ = ["BatchingEmbedder", "CachingEmbedder", "Embedder", "LlamaIndexEmbedding", "MiniLMEmbedder",
           "OpenAIEmbedder", "build_embedder", "export_onnx", "token_batches"]
