"""Fakes that behave: embeddings seeded from word hashes, so retrieval tests still rank."""

from __future__ import annotations

import hashlib
import math

from rag.sentences import terms


class HashEmbedder:
    """Each stemmed word maps to a fixed pseudo-random direction; a text is the normalised sum.
    Texts sharing words are close, unrelated texts are nearly orthogonal."""

    name = "hash-embedder"

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.calls = 0
        self.texts_embedded = 0

    def _word(self, word: str) -> list[float]:
        digest = hashlib.sha256(word.encode()).digest()
        return [(digest[i % len(digest)] / 127.5) - 1.0 for i in range(self.dim)]

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = []
        for text in texts:
            vec = [0.0] * self.dim
            for w in terms(text) or ["empty"]:
                for i, x in enumerate(self._word(w)):
                    vec[i] += x
            norm = math.sqrt(sum(x * x for x in vec)) or 1.0
            out.append([x / norm for x in vec])
        return out
