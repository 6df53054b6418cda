"""What the answerer reads from each sentence's text alone (its terms, and its shape: label, last
character, code or table header), worked out once per store generation and saved in one
memory-mapped file beside its sentence vectors and texts. Stemming the ~200 candidate sentences
of an answer, most of them new to the process, and shaping them were half of an answer's time at
150 pages; reading them back costs a tenth of that.

Saved facts are only as good as the rules that made them: the file records the fingerprint of
the rules of `sentences.terms` and `answer.shape`, and a folder written under other rules is
refused (and rebuilt)."""

from __future__ import annotations

import json
import mmap
from collections.abc import Iterable
from pathlib import Path

from .answer.shape import Shape, decode, encode, fingerprint, shape
from .derived import map_file, read_index
from .sentences import terms, terms_fingerprint
from .types import Chunk

SENTENCES_FILE, INDEX_FILE = "sentences.txt", "sentences.json"  # beside the sentence vectors' files
SENTENCES_VERSION = 1  # bump when the layout, or the code of terms() or shape(), changes: saved copies are rebuilt


def _rules() -> str:
    return f"{terms_fingerprint()}-{fingerprint()}"


def write_sentences(folder: Path, chunks: Iterable[Chunk]) -> None:
    """A line per sentence (its distinct terms, sorted and spaced; a tab; its encoded shape), a
    chunk's lines one block; the index says where each chunk's block is."""
    at: dict[str, list[int]] = {}
    size = 0
    with open(folder / SENTENCES_FILE, "wb") as out:
        for c in chunks:
            if c.chunk_id in at or not c.text:
                continue
            lines = []
            for s, e in c.sentences:
                text = c.text[s - c.start : e - c.start]
                # shape's uncached self: a generation's sentences would flush the cache answers use for pairs
                lines.append(f"{' '.join(sorted(set(terms(text))))}\t{encode(shape.__wrapped__(text))}")
            data = "\n".join(lines).encode("utf-8")
            out.write(data)
            at[c.chunk_id] = [size, len(data), len(c.sentences)]
            size += len(data)
    index = {"version": SENTENCES_VERSION, "rules": _rules(), "at": at}
    (folder / INDEX_FILE).write_text(json.dumps(index), encoding="utf-8")


class SentenceMap:
    """Read side: the terms and shapes of a chunk's sentences, or None when it was not saved."""

    def __init__(self, data: mmap.mmap | bytes, at: dict[str, list[int]]) -> None:
        self._data, self._at = data, at

    @classmethod
    def load(cls, folder: Path) -> "SentenceMap":
        index = read_index(folder / INDEX_FILE, SENTENCES_VERSION, "sentence terms")
        if index.get("rules") != _rules():
            raise ValueError("saved sentence terms were made under other rules")
        return cls(map_file(folder / SENTENCES_FILE, index["at"].values()), index["at"])

    def of(self, chunk_id: str, sentences: int) -> list[tuple[frozenset[str], Shape]] | None:
        """The terms and shape of each of a chunk's `sentences` sentences, in order."""
        where = self._at.get(chunk_id)
        if where is None or where[2] != sentences:
            return None
        offset, length, _ = where
        if not sentences:
            return []
        out = []
        for line in self._data[offset : offset + length].decode("utf-8").split("\n"):
            found, _, shaped = line.partition("\t")
            out.append((frozenset(found.split()), decode(shaped)))
        return out


__all__ = ["SentenceMap", "write_sentences"]
