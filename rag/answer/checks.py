"""What a candidate quote must state to answer at all; the offline answerer abstains when none does.

Each rule holds on any corpus: an owner the answering article never names ("Rust's standard
library"), a compared name the answering sentence never names ("faster than Java"), a role or an
event the answering sentence does not state ("Who is the president of ...", "When was X born?"),
and the numbered name a further quote must be about ("Who wrote PEP 530?")."""

from __future__ import annotations

import functools
import re

from ..names import has_number, possessors, question_names, variants
from ..sentences import terms, words
from ..types import Document
from .units import Unit, heading_of, section_terms, unit_terms

# What a question compares with: "than Java", "compared with Go", "versus Rust".
_COMPARED = re.compile(r"\b(?:than|compared (?:with|to)|versus|vs\.?)\s+((?:the\s+)?[A-Z][\w’'.+#-]*(?:\s+[A-Z\d][\w’'.+#-]*)*)")

# A role or an event a question asks about, which the answering sentence must state: "Who is the
# president of X?" is not answered by a sentence about X that names no president, nor "When was X
# born?" by a date near X. (Only these forms: other questions may paraphrase freely.)
_ROLE_QUESTION = re.compile(r"^\s*who\s+(?:is|was|are|were)\s+(?:the\s+)?(?:(?:current|new|former|next|first)\s+)?"
                            r"([a-z][\w-]+)\s+(?:of|at|for|in|to)\b", re.I)
_PASSIVE_WHEN = re.compile(r"^\s*when\s+(?:was|were)\s+.+\s((?-i:[a-z]+(?:ed|en|n|t)))\s*\?*\s*$", re.I)
# "Who maintains X?" asks who does it now: a sentence that names people near X without saying it is no answer.
_WHO_DOES = re.compile(r"^\s*who\s+((?-i:[a-z]+[^s\W]s))\b", re.I)
_AUXILIARIES = frozenset("is was has does".split())
# Changes a text states in many ways ("New in version 3.9", "now supports"): not asked of the sentence.
_CHANGES = frozenset("added introduced changed removed deprecated made done improved updated fixed".split())
PREFIX = 5  # "president" / "presidency", "spokesman" / "spokesperson": the same role


def asked_predicate(question: str) -> str | None:
    """The role or event the answering sentence must state, or None when the question may be paraphrased."""
    m = _ROLE_QUESTION.match(question) or _PASSIVE_WHEN.match(question) or _WHO_DOES.match(question)
    return m.group(1) if m and m.group(1).lower() not in _AUXILIARIES | _CHANGES else None


def states(predicate: str, doc: Document, unit: Unit) -> bool:
    """True when the sentence (or the heading it stands under) holds the asked role or event."""
    have = unit_terms(unit) | section_terms(doc, unit.start)
    want = terms(predicate)
    return bool(want) and all(t in have or any(h[:PREFIX] == t[:PREFIX] for h in have if len(h) >= PREFIX)
                              for t in want)


def unmentioned(question: str, doc: Document, unit: Unit) -> list[str]:
    """What the question asks about the belongings of ("Rust's standard library") that this
    article never mentions, or compares with ("... faster than Java?") that this sentence (or the
    article's title) never mentions, in any known form: it cannot answer. (Other names are not
    asked of every article: "Moscow" may stand for Russia in a paraphrase, and a rule that asked it
    of rare names cost more right answers than it saved, on both gold sets.)"""
    owners, compared = _asked_names(question)
    if not owners and not compared:
        return []
    known = _folded(doc.title, doc.text)
    near = " " + " ".join(words(doc.title + " " + unit.text)) + " "

    def absent(name: str, where: str) -> bool:
        return not any(f" {' '.join(words(f))} " in where for f in variants(name))

    return [t for t in owners if absent(t, known)] + [t for t in compared if absent(t, near)]


@functools.lru_cache(maxsize=256)
def _asked_names(question: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The owners and the compared names of a question, worked out once (every candidate is checked)."""
    owners = tuple(possessors(question))
    compared = tuple(re.sub(r"[’']s$", "", t) for phrase in _COMPARED.findall(question) for t in phrase.split()
                     if t.lower() != "the")
    return owners, compared


def numbers_asked(question: str) -> frozenset[str]:
    """The numbers of the numbered names a question asks about: "530" in "Who wrote PEP 530?"."""
    return frozenset(w for run in question_names(question) if has_number(run) and len(run) > 1
                     for w in words(" ".join(run)) if w[:1].isdigit())


def holds(numbers: frozenset[str], doc: Document, unit: Unit) -> bool:
    """True when the sentence, its heading or its article's title has every number the question names."""
    found = heading_of(doc, unit.start)
    near = words(unit.text) + words(doc.title) + (words(doc.text[found[0][0] : found[0][1]]) if found else [])
    return numbers <= set(near)


@functools.lru_cache(maxsize=64)  # whole article texts: a few dozen at a time is plenty
def _folded(title: str, text: str) -> str:
    """An article's words, space-separated and padded, for "is this name mentioned" checks."""
    return " " + " ".join(words(title + " " + text)) + " "
