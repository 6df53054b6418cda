"""What every answerer shares: the protocol, the evidence it reads, and how answers are worded."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ..names import has_number, lowercase_names, question_names
from ..sentences import words
from ..stats import CorpusStats, number_pairs
from ..types import Answer, Chunk, Citation, Document, Event, Turn
from .shape import Shape

CANNOT_ANSWER = "The articles don't answer this question."
NOT_MENTIONED = "The articles don't mention {names}, so they can't answer this question."
NOT_NEAR = "The passages closest to this question don't mention {names}, so they can't answer it."


@dataclass(frozen=True)
class Question:
    """The user's question, and the standalone version that retrieval and scoring use."""

    text: str
    standalone: str
    earlier: str = ""  # for a follow-up: the answer it follows (what the reader has already seen)


@dataclass
class Evidence:
    """The retrieved passages, the documents they point into, and corpus statistics: data only."""

    passages: list[Chunk]
    documents: Mapping[str, Document]
    stats: "CorpusStats"
    # vectors of the passages' sentences stored at ingest, by (doc_id, start, end); missing ones are embedded
    sentence_vectors: Mapping[tuple[str, int, int], list[float]] = field(default_factory=dict)
    # the same sentences' terms and shapes saved with the generation; missing ones are worked out from the text
    sentence_terms: Mapping[tuple[str, int, int], frozenset[str]] = field(default_factory=dict)
    sentence_shapes: Mapping[tuple[str, int, int], Shape] = field(default_factory=dict)


class Answerer(Protocol):
    """Writes an answer whose citations are exact spans of `evidence.documents`."""

    mode: str

    def answer(self, question: Question, evidence: Evidence) -> Answer: ...

    def stream(self, question: Question, evidence: Evidence) -> Iterator[Event]:
        """Delta, Status and Reset events as the answer is written, then the Answer, always last.
        Raises ModelUnavailable when a model fails before its Answer (the offline one stands in)."""
        ...

    def condense(self, question: str, history: tuple[Turn, ...]) -> str:
        """The follow-up `question` rewritten to stand alone, given the earlier turns."""
        ...


def unknown_names(question: str, stats: CorpusStats) -> list[str]:
    """Names and numbers in the question that the corpus never mentions, in any known form.
    A name with a number ("Python 4.0") must stand with that number somewhere in the corpus."""
    found = []
    for run in question_names(question):
        missing = [t for t in run if not stats.knows_name(t)]
        if has_number(run) and len(run) > 1 and (missing or not number_pairs(words(" ".join(run))) <= stats.numbered):
            missing = [" ".join(run)]
        found.extend(missing)
    found += [name for name in lowercase_names(question) if not stats.knows(name)]
    return list(dict.fromkeys(found))


def abstain(mode: str, text: str = CANNOT_ANSWER, passages: list[Chunk] | None = None) -> Answer:
    return Answer(text=text, citations=[], abstained=True, mode=mode, passages=passages or [])


def source_label(doc: Document) -> str:
    return doc.metadata.get("outlet") or doc.title


def numbered(citations: list[Citation], documents: Mapping[str, Document]) -> str:
    """One line per quote: "CNN: “…” [1]"."""
    return "\n".join(f"{source_label(documents[c.doc_id])}: {quoted(c.quote)} [{n}]" for n, c in enumerate(citations, 1))


def quoted(text: str) -> str:
    """A quote in quotation marks; a sentence that opens with its own mark is not wrapped again."""
    return text if text[:1] in "“\"‘'" else f"“{text}”"


def join_names(names: list[str], conjunction: str = "or") -> str:
    names = list(dict.fromkeys(names))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" {conjunction} " + names[-1]
