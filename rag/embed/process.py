"""An embedder that runs in a child process (rag/child.py), for big ingests.

In one process, every Python step of an ingest (parsing, chunking, and above all Chroma's upserts,
which hold the GIL for their whole call) stops the embedding threads as soon as their batch ends,
and the cores wait. In a child process the embedding keeps both cores busy whatever the parent
does: at 150 pages, three alternating runs each took 43.3-44.0 s of sync against 45.6-47.1 s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..child import Child, ChildError, ChildStopped
from ..errors import ProviderError


class ProcessEmbedder:
    """Embeds with `factory()` built in a child process. Thread-safe (one call at a time)."""

    def __init__(self, factory: Callable[[], Any], name: str) -> None:
        self.name = name
        try:
            self._child = Child(factory, "the embedding process")
        except ChildError as exc:
            raise ProviderError(str(exc)) from exc

    def warm_up(self) -> None:
        """Load the model in the child now (an ingest does it while the first files are parsed)."""
        self._call("warm_up")

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.asarray(self._call("embed", texts), dtype=np.float32)

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return self._child.call(method, *args)
        except ChildStopped as exc:
            raise ProviderError(f"{exc}; run the ingest again") from exc
        except ChildError as exc:
            raise ProviderError(f"embedding failed: {exc}") from exc

    def close(self) -> None:
        self._child.close()

    def __enter__(self) -> "ProcessEmbedder":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
