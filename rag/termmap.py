"""The terms of every sentence of one store generation, in one memory-mapped file beside its
sentence vectors and texts: an answer reads the terms of the sentences it ranks instead of
working them out from the text (stemming ~200 candidate sentences, most of them new to the
process, was a third of an answer's time at 150 pages).

Saved terms are only as good as the rules that made them: the file records the fingerprint of
`sentences.terms`' rules, and a folder written under other rules is refused (and rebuilt)."""

from __future__ import annotations

import json
import mmap
from collections.abc import Iterable
from pathlib import Path

from .derived import read_index
from .sentences import terms, terms_fingerprint
from .types import Chunk

TERMS_FILE, INDEX_FILE = "terms.txt", "terms.json"  # beside the sentence vectors' files
TERMS_VERSION = 1  # bump when the layout changes: saved copies are then rebuilt


def write_terms(folder: Path, chunks: Iterable[Chunk]) -> None:
    """Each chunk's sentences' terms, a line a sentence (its distinct terms, sorted, spaced), the
    chunk's lines one block; the index says where each chunk's block is."""
    at: dict[str, list[int]] = {}
    size = 0
    with open(folder / TERMS_FILE, "wb") as out:
        for c in chunks:
            if c.chunk_id in at or not c.text:
                continue
            block = "\n".join(" ".join(sorted(set(terms(c.text[s - c.start : e - c.start])))) for s, e in c.sentences)
            data = block.encode("utf-8")
            out.write(data)
            at[c.chunk_id] = [size, len(data), len(c.sentences)]
            size += len(data)
    index = {"version": TERMS_VERSION, "rules": terms_fingerprint(), "at": at}
    (folder / INDEX_FILE).write_text(json.dumps(index), encoding="utf-8")


class SentenceTerms:
    """Read side: the terms of a chunk's sentences by offsets, or None when it was not saved."""

    def __init__(self, data: mmap.mmap | bytes, at: dict[str, list[int]]) -> None:
        self._data, self._at = data, at

    @classmethod
    def load(cls, folder: Path) -> "SentenceTerms":
        index = read_index(folder / INDEX_FILE, TERMS_VERSION, "sentence terms")
        if index.get("rules") != terms_fingerprint():
            raise ValueError("saved sentence terms were made under other rules")
        at = index["at"]
        path = folder / TERMS_FILE
        size = path.stat().st_size
        if at and max(o + n for o, n, _ in at.values()) > size:
            raise ValueError(f"{path} is shorter than its index says")
        if size == 0:
            return cls(b"", at)
        with open(path, "rb") as handle:  # the mapping outlives the file (another process may prune it)
            return cls(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ), at)

    def of(self, chunk_id: str, spans: tuple[tuple[int, int], ...]) -> dict[tuple[int, int], frozenset[str]] | None:
        where = self._at.get(chunk_id)
        if where is None or where[2] != len(spans):
            return None
        offset, length, _ = where
        lines = self._data[offset : offset + length].decode("utf-8").split("\n") if spans else []
        return {span: frozenset(line.split()) for span, line in zip(spans, lines)}


__all__ = ["SentenceTerms", "write_terms"]
