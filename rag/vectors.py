"""The sentence vectors of one store generation in one memory-mapped file, derived from the chunk
rows like BM25 and saved beside it: an answer reads the few rows it needs from the page cache
instead of asking the store for whole chunk rows (and their base64) on every question."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .chunking import decode_vectors
from .derived import read_index

VECTORS_FILE, INDEX_FILE = "vectors.f32", "index.json"
# bump when the folder's layout changes: saved copies are then rebuilt (2: texts beside them; 3: the sentence map)
VECTORS_VERSION = 3


class VectorWriter:
    """Appends each chunk row's sentence vectors (float32, exactly as stored) while the rows are
    read, so the vectors never all sit in memory at once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._out: BinaryIO = open(folder / VECTORS_FILE, "wb")  # noqa: SIM115 - closed by close()
        self.ids: list[str] = []
        self.starts: list[int] = []
        self.rows = 0
        self.dim = 0

    def add(self, chunk_id: str, encoded: object, sentences: int) -> None:
        """One chunk row's `vectors` metadata (base64 float32) for its `sentences` sentences; rows
        without readable vectors are left out (the answerer embeds those sentences itself)."""
        matrix = decode_vectors(encoded, sentences)
        if matrix is None or (self.dim and matrix.shape[1] != self.dim):
            return
        self.dim = matrix.shape[1]
        self._out.write(matrix.tobytes())
        self.ids.append(chunk_id)
        self.starts.append(self.rows)
        self.rows += sentences

    def close(self) -> None:
        self._out.close()
        index = {"version": VECTORS_VERSION, "dim": self.dim, "rows": self.rows, "ids": self.ids, "starts": self.starts}
        (self.folder / INDEX_FILE).write_text(json.dumps(index), encoding="utf-8")


class SentenceVectors:
    """Read side: a chunk's sentence vectors by chunk id, as rows of the memory map."""

    def __init__(self, matrix: np.ndarray, starts: dict[str, int]) -> None:
        # a plain array over the map's pages: a slice of an np.memmap is a memmap, whose making
        # cost 25 us a chunk (0.2-0.6 ms of every answer)
        self.matrix, self._starts = np.asarray(matrix), starts

    @classmethod
    def load(cls, folder: Path) -> "SentenceVectors":
        index = read_index(folder / INDEX_FILE, VECTORS_VERSION, "vectors")
        rows, dim = int(index["rows"]), int(index["dim"])
        path = folder / VECTORS_FILE
        if rows == 0 or dim == 0:
            matrix: Any = np.zeros((0, dim), dtype="<f4")
        else:
            if path.stat().st_size != rows * dim * 4:
                raise ValueError(f"{path} holds {path.stat().st_size} bytes, not {rows} x {dim} float32")
            matrix = np.memmap(path, dtype="<f4", mode="r", shape=(rows, dim))
        return cls(matrix, dict(zip(index["ids"], index["starts"])))

    def of(self, chunk_id: str, spans: tuple[tuple[int, int], ...]) -> dict[tuple[int, int], np.ndarray] | None:
        """The vectors of a chunk's sentences by offsets (None when the chunk has none saved)."""
        start = self._starts.get(chunk_id)
        if start is None:
            return None
        rows = np.array(self.matrix[start : start + len(spans)])  # a copy: the file may be pruned later
        return dict(zip(spans, rows))


__all__ = ["SentenceVectors", "VectorWriter"]
