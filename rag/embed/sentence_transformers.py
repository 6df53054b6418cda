"""The bundled MiniLM weights through sentence-transformers (PyTorch): the slow path, used only
when the ONNX export cannot be made or run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import BatchingEmbedder


class SentenceTransformersEmbedder(BatchingEmbedder):
    def __init__(self, model_dir: Path, name: str, batch_size: int = 64) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        self.name, self.batch_size = name, batch_size
        self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(texts, batch_size=len(texts), normalize_embeddings=True, show_progress_bar=False)
