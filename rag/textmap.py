"""The document versions of one store generation in one memory-mapped file, derived from the store
like the sentence vectors and saved beside them: an answer reads the texts it quotes from the page
cache instead of asking the store for them (1-2 ms a question at 150-494 pages, where few documents
are in memory yet)."""

from __future__ import annotations

import json
import mmap
from pathlib import Path
from typing import BinaryIO

from .derived import map_file, read_index
from .types import Document

TEXTS_FILE, INDEX_FILE = "documents.jsonl", "documents.json"  # beside the sentence vectors' files
TEXTS_VERSION = 1  # bump when the record layout changes: saved copies are then rebuilt


def _record(doc: Document) -> bytes:
    headings = None if doc.headings is None else [list(h) for h in doc.headings]
    return json.dumps({"doc_id": doc.doc_id, "title": doc.title, "text": doc.text, "source": doc.source,
                       "metadata": doc.metadata, "headings": headings}, ensure_ascii=False).encode("utf-8")


def _document(data: bytes) -> Document:
    r = json.loads(data)
    headings = None if r["headings"] is None else tuple((int(s), int(e)) for s, e in r["headings"])
    return Document(doc_id=r["doc_id"], title=r["title"], text=r["text"], source=r["source"],
                    metadata=dict(r["metadata"]), headings=headings)


class TextWriter:
    """Appends each version as it is read from the store (each once), so the texts never all sit
    in memory at once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._out: BinaryIO = open(folder / TEXTS_FILE, "wb")  # noqa: SIM115 - closed by close()
        self.at: dict[str, tuple[int, int]] = {}
        self._size = 0

    def add(self, key: str, doc: Document) -> None:
        if key in self.at:
            return
        data = _record(doc)
        self._out.write(data + b"\n")
        self.at[key] = (self._size, len(data))
        self._size += len(data) + 1

    def close(self) -> None:
        self._out.close()
        (self.folder / INDEX_FILE).write_text(json.dumps({"version": TEXTS_VERSION, "at": self.at}), encoding="utf-8")


class TextMap:
    """Read side: a version's Document by `doc_id@version`, or None when it was not saved."""

    def __init__(self, data: mmap.mmap | bytes, at: dict[str, list[int]]) -> None:
        self._data, self._at = data, at

    @classmethod
    def load(cls, folder: Path) -> "TextMap":
        index = read_index(folder / INDEX_FILE, TEXTS_VERSION, "texts")
        return cls(map_file(folder / TEXTS_FILE, index["at"].values()), index["at"])

    def get(self, key: str) -> Document | None:
        where = self._at.get(key)
        if where is None:
            return None
        offset, length = where
        return _document(self._data[offset : offset + length])


__all__ = ["TextMap", "TextWriter"]
