"""What every answerer shares: the protocol, the evidence it reads, and how answers are worded."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ..names import acronyms_in, has_number, lowercase_names, question_names, variants
from ..sentences import terms, words
from ..types import Answer, Chunk, Citation, Document, Event, Turn

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


STATS_VERSION = 7  # bump when CorpusStats gains or changes a field: saved copies are then rebuilt


@dataclass
class CorpusStats:
    """Vocabulary and sentence frequencies of the whole corpus: what "rare" and "unknown" mean.
    `numbered` holds word pairs with a number in them ("python 3.7"), `acronyms` the initials of
    multi-word names ("g7" for "Group of 7"): a question about "Python 4.0" or "the G7" is checked
    against them."""

    sentence_count: int = 0
    df: Counter = field(default_factory=Counter)
    vocabulary: frozenset[str] = frozenset()
    numbered: frozenset[str] = frozenset()
    acronyms: frozenset[str] = frozenset()
    capitals: frozenset[str] = frozenset()  # words the corpus writes in capitals (NATO, ERROR), lower-cased

    @classmethod
    def from_chunks(cls, chunks: Iterable[Chunk]) -> "CorpusStats":
        """The same statistics from stored chunks and the sentence offsets they carry: no
        document has to be read or split again."""
        df: Counter = Counter()
        vocab: set[str] = set()
        numbered: set[str] = set()
        acronyms: set[str] = set()
        capitals: set[str] = set()
        seen: set[tuple[str, int]] = set()
        for chunk in chunks:
            vocab.update(words(chunk.title))
            for a, b in chunk.sentences or ((chunk.start, chunk.end),):
                if (chunk.doc_id, a) in seen:
                    continue
                seen.add((chunk.doc_id, a))
                sentence = chunk.text[a - chunk.start : b - chunk.start]
                ws = words(sentence)
                vocab.update(ws)
                df.update(set(terms(sentence)))
                numbered.update(_number_pairs(ws))
                acronyms.update(acronyms_in(sentence))
                capitals.update(w.lower() for w in _CAPITALS.findall(sentence))
        return cls(len(seen), df, frozenset(vocab), frozenset(numbered), frozenset(acronyms), frozenset(capitals))

    def save(self, folder) -> None:
        import json

        data = {
            "version": STATS_VERSION,
            "sentence_count": self.sentence_count, "df": dict(self.df), "vocabulary": sorted(self.vocabulary),
            "numbered": sorted(self.numbered), "acronyms": sorted(self.acronyms), "capitals": sorted(self.capitals),
        }
        (folder / "stats.json").write_text(json.dumps(data), encoding="utf-8")

    @classmethod
    def load(cls, folder) -> "CorpusStats":
        import json

        data = json.loads((folder / "stats.json").read_text(encoding="utf-8"))
        if data.get("version") != STATS_VERSION:
            raise ValueError(f"saved statistics are version {data.get('version')}, not {STATS_VERSION}")
        return cls(
            data["sentence_count"], Counter(data["df"]), frozenset(data["vocabulary"]),
            frozenset(data["numbered"]), frozenset(data["acronyms"]), frozenset(data["capitals"]),
        )

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

    def knows_name(self, token: str) -> bool:
        """True when the corpus mentions this name in any of its known forms: itself, a variant
        ("US" / "United States" / "American") or a multi-word name it abbreviates ("G7")."""
        if len(token) > 1 and token.isupper() and token.isalpha() and token.lower() not in self.capitals:
            # a name in capitals (TRACE, NATO) is a name as written, not the common word "trace"
            return token.lower() in self.acronyms or any(
                all(p in self.vocabulary for p in form.split()) for form in variants(token) if form != token.lower()
            )
        for form in variants(token):
            parts = form.split()
            if parts and all(self.knows(p) for p in parts):
                return True
        return token.lower().replace(".", "").replace("-", "") in self.acronyms


_CAPITALS = re.compile(r"\b[A-Z]{2,}\b")


def _number_pairs(ws: list[str]) -> set[str]:
    return {f"{a} {b}" for a, b in zip(ws, ws[1:]) if a[:1].isdigit() or b[:1].isdigit()}


def unknown_names(question: str, stats: CorpusStats) -> list[str]:
    """Names and numbers in the question that the corpus never mentions, in any known form.
    A name with a number ("Python 4.0") must stand with that number somewhere in the corpus."""
    found = []
    for run in question_names(question):
        missing = [t for t in run if not stats.knows_name(t)]
        if has_number(run) and len(run) > 1 and (missing or not _number_pairs(words(" ".join(run))) <= stats.numbered):
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
