"""An embedding model served by the configured OpenAI-compatible endpoint."""

from __future__ import annotations

import numpy as np

from ..config import Settings
from ..errors import ProviderError
from .base import BatchingEmbedder


class OpenAIEmbedder(BatchingEmbedder):
    batch_size = 256  # inputs per request (endpoints cap it; 2,048 for OpenAI's)

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

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        import openai

        try:
            data = self._client.embeddings.create(model=self._model, input=texts).data
        except openai.OpenAIError as exc:
            raise ProviderError(f"embedding model {self._model!r} failed: {exc}") from exc
        return np.asarray([item.embedding for item in sorted(data, key=lambda d: d.index)], dtype=np.float32)
