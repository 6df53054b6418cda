"""The nouns passed between stages. Offsets always point into the original document text."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Document:
    """One article, its text exactly as published."""

    doc_id: str
    title: str
    text: str
    source: str = ""
    metadata: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    # (start, end) of its heading-like blocks, worked out at ingest (None: not known, work them out)
    headings: tuple[tuple[int, int], ...] | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True)
class Chunk:
    """A retrieved passage: `text == document.text[start:end]`."""

    chunk_id: str
    doc_id: str
    title: str
    text: str
    start: int
    end: int
    score: float = 0.0
    sentences: tuple[tuple[int, int], ...] = ()  # offsets of its sentences in the document


@dataclass(frozen=True)
class Citation:
    """A verbatim quote: `quote == document(doc_id).text[start:end]`."""

    doc_id: str
    title: str
    quote: str
    start: int
    end: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """What the user sees: text with [n] markers that refer to `citations[n-1]`."""

    text: str
    citations: list[Citation]
    abstained: bool = False
    mode: str = "offline"
    notice: str | None = None
    passages: list[Chunk] = field(default_factory=list, repr=False, compare=False)

    def to_dict(self) -> dict:
        data = {
            "text": self.text,
            "abstained": self.abstained,
            "citations": [c.to_dict() for c in self.citations],
            "mode": self.mode,
        }
        if self.notice:
            data["notice"] = self.notice
        return data


@dataclass(frozen=True)
class Turn:
    """One message of a conversation, for follow-up questions."""

    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class Delta:
    """A piece of streamed answer text, shown as it arrives; the final Answer replaces it."""

    text: str


@dataclass(frozen=True)
class Status:
    """What the assistant is doing now ("Searching…", "Writing…", "Checking quotes…"); not answer text."""

    text: str


@dataclass(frozen=True)
class Reset:
    """Everything streamed so far is withdrawn (a fallback or a retry restarts the answer)."""

    reason: str = ""


Event = Delta | Status | Reset | Answer  # what Assistant.stream yields; the Answer always comes last
