"""What every answerer shares: the protocol, the evidence it reads, and how answers are worded."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ..sentences import terms, words
from ..types import Answer, Chunk, Citation, Document

CANNOT_ANSWER = "The articles don't answer this question."
NOT_MENTIONED = "The articles don't mention {names}, so they can't answer this question."


@dataclass(frozen=True)
class Question:
    """The user's question, and the standalone version that retrieval and scoring use."""

    text: str
    standalone: str


@dataclass
class Evidence:
    """The retrieved passages, the documents they point into, and corpus statistics."""

    passages: list[Chunk]
    documents: Mapping[str, Document]
    stats: "CorpusStats"
    # vectors of sentences stored at ingest, by (doc_id, start, end); missing ones are embedded
    sentence_vectors: Callable[[list[tuple[str, int, int]]], dict[tuple[str, int, int], list[float]]] = (
        lambda spans: {}
    )


class Answerer(Protocol):
    """Writes an answer whose citations are exact spans of `evidence.documents`."""

    mode: str

    def answer(self, question: Question, evidence: Evidence) -> Answer: ...


@dataclass
class CorpusStats:
    """Vocabulary and sentence frequencies of the whole corpus: what "rare" and "unknown" mean."""

    sentence_count: int = 0
    df: Counter = field(default_factory=Counter)
    vocabulary: frozenset[str] = frozenset()

    @classmethod
    def from_chunks(cls, chunks: Iterable[Chunk]) -> "CorpusStats":
        """The same statistics from stored chunks and the sentence offsets they carry: no
        document has to be read or split again."""
        df: Counter = Counter()
        vocab: set[str] = set()
        seen: set[tuple[str, int]] = set()
        for chunk in chunks:
            vocab.update(words(chunk.text))
            vocab.update(words(chunk.title))
            for a, b in chunk.sentences:
                if (chunk.doc_id, a) not in seen:
                    seen.add((chunk.doc_id, a))
                    df.update(set(terms(chunk.text[a - chunk.start : b - chunk.start])))
        return cls(sentence_count=len(seen), df=df, vocabulary=frozenset(vocab))

    def save(self, folder) -> None:
        import json

        data = {"sentence_count": self.sentence_count, "df": dict(self.df), "vocabulary": sorted(self.vocabulary)}
        (folder / "stats.json").write_text(json.dumps(data), encoding="utf-8")

    @classmethod
    def load(cls, folder) -> "CorpusStats":
        import json

        data = json.loads((folder / "stats.json").read_text(encoding="utf-8"))
        return cls(data["sentence_count"], Counter(data["df"]), frozenset(data["vocabulary"]))

    def idf(self, term: str) -> float:
        return math.log((self.sentence_count + 1) / (self.df.get(term, 0) + 0.5))

    def knows(self, word: str) -> bool:
        """True when the corpus has this word or a close form of it (America / American)."""
        word = word.lower()
        if word in self.vocabulary:
            return True
        if len(word) < 5:
            return False
        stem = word[: max(5, int(len(word) * 0.8))]
        return any(v.startswith(stem) for v in self.vocabulary)


_NAME = re.compile(r"(?<![\w’'])([A-Z][\w’'.-]*[\w]|\d[\d,.]*)")


def unknown_names(question: str, stats: CorpusStats) -> list[str]:
    """Proper names and numbers in the question that the corpus never mentions."""
    found = []
    for m in _NAME.finditer(question):
        token = m.group(1)
        if m.start() == len(question) - len(question.lstrip()):
            continue  # the first word is capitalized anyway
        parts = [p for p in words(token) if p]
        if parts and not all(stats.knows(p) for p in parts):
            found.append(token.rstrip("’'s").rstrip("’'"))
    return found


def abstain(mode: str, text: str = CANNOT_ANSWER, passages: list[Chunk] | None = None) -> Answer:
    return Answer(text=text, citations=[], abstained=True, mode=mode, passages=passages or [])


def source_label(doc: Document) -> str:
    return doc.metadata.get("outlet") or doc.title


def numbered(citations: list[Citation], documents: Mapping[str, Document]) -> str:
    """One line per quote: "CNN: “…” [1]"."""
    lines = []
    for n, c in enumerate(citations, 1):
        # a sentence that opens with its own quotation mark is not wrapped again
        quote = c.quote if c.quote[:1] in "“\"‘'" else f"“{c.quote}”"
        lines.append(f"{source_label(documents[c.doc_id])}: {quote} [{n}]")
    return "\n".join(lines)


def join_names(names: list[str]) -> str:
    names = list(dict.fromkeys(names))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
