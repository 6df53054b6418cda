"""What every embedding provider shares: the protocol, batching and normalising done once (a
provider implements `embed_batch`), and a bounded cache of vectors already computed."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Protocol, runtime_checkable

import numpy as np
from cachetools import LRUCache

from ..chunking import normalise


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors (one row per text). `name` keys the store, so vectors
    of different models never mix."""

    name: str

    def embed(self, texts: list[str]) -> np.ndarray | list[list[float]]: ...


class BatchingEmbedder(ABC):
    """A provider: `embed` splits the texts into batches (`plan`), calls `embed_batch` on each and
    returns unit-length float32 rows in the order given."""

    name: str = ""
    batch_size: int = 64
    workers: int = 1  # batches run at once, each on its own thread (a provider whose runs release the GIL)

    @abstractmethod
    def embed_batch(self, texts: list[str]) -> np.ndarray | list[list[float]]:
        """Vectors of one batch, in order (normalised or not)."""

    def plan(self, texts: list[str]) -> list[list[int]]:
        """Indexes of the texts, batch by batch (a fixed count unless a provider knows better)."""
        return [list(range(i, min(i + self.batch_size, len(texts)))) for i in range(0, len(texts), self.batch_size)]

    def embed(self, texts: list[str]) -> np.ndarray:
        """Each distinct text is embedded once (documentation repeats "Note", "See also", "New in
        version 3.7." dozens of times: 12% of a page's sentences)."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        first: dict[str, int] = {}
        where = [first.setdefault(t, len(first)) for t in texts]
        unique = list(first)
        batches = self.plan(unique)

        def run(idx: list[int]) -> tuple[list[int], np.ndarray]:
            return idx, np.asarray(self.embed_batch([unique[i] for i in idx]), dtype=np.float32)

        out: np.ndarray | None = None
        if self.workers > 1 and len(batches) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(min(self.workers, len(batches)), thread_name_prefix="embed") as pool:
                done = list(pool.map(run, batches))
        else:
            done = map(run, batches)
        for idx, rows in done:
            if out is None:
                out = np.empty((len(unique), rows.shape[1]), dtype=np.float32)
            out[idx] = rows
        return normalise(out)[where] if len(unique) < len(texts) else normalise(out)


class CachingEmbedder:
    """Remembers vectors of texts it has embedded (questions, candidate sentences) so a warm `ask`
    embeds only what is new. Bounded (least recently used go first); thread-safe."""

    def __init__(self, inner: Embedder, max_items: int = 100_000) -> None:
        self.inner = inner
        self.name = inner.name
        self._cache: LRUCache[str, np.ndarray] = LRUCache(maxsize=max_items)
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for t in texts:
                vec = self._cache.get(t)  # a hit counts as a use
                if vec is not None:
                    found[t] = vec
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            vectors = normalise(self.inner.embed(missing))
            with self._lock:
                for text, vec in zip(missing, vectors):
                    self._cache[text] = vec  # the least recently used go first
                    found[text] = vec
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack([found[t] for t in texts])
