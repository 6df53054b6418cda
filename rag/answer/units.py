"""Candidate quotes for the offline answerer, and the document structure around them.

A unit is one sentence, two adjacent sentences of one block, a sentence with the credit that
closes its paragraph ("(Contributed by X in bpo-123.)"), or a sentence with the heading it opens
("PEP 540: ..."). Every unit is `document.text[start:end]`; a two-part unit also records where its
parts are, so its vector is built from the sentences' stored vectors."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..sentences import HeadingIndex, continues, sentence_spans, stem, terms
from ..types import Document
from .base import Evidence

# ...unless the second sentence points back at the first ("They are ...", "It also ...")
_LEANS_BACK = re.compile(r"\A[\s“\"‘']*(?:They|These|Those|It|Its|This|That|He|She|His|Her|Such|The company|Both)\b")
# A closing credit: "(Contributed by Victor Stinner in bpo-123.)", "(Patch by ...)", "Written by ...".
_CREDIT = re.compile(r"\(?\s*(?:[A-Z]\w*\s+){0,3}by\s+[A-Z]")
CREDIT_REACH = 3  # a credit this many sentences on still belongs to the sentence (a short paragraph)
HEADING_REACH = 400  # characters: a sentence this close below a heading opens its section


@dataclass(slots=True)  # not frozen: made by the hundred per question, 5x faster so; never changed once made
class Unit:
    """A candidate quote: `text == document.text[start:end]`."""

    doc_id: str
    start: int
    end: int
    text: str
    pair: bool = False  # two parts: [start, first_end) and [second_start, end)
    leans_back: bool = False  # its second sentence points back at the first ("They are ...")
    first_end: int = 0
    second_start: int = 0
    focus: tuple[int, int] | None = None  # the sentence that won it its place, when it grew into a pair


def candidates(evidence: Evidence) -> list[Unit]:
    """Every sentence of the retrieved passages, each with its next sentence of the same block and
    with the credit that closes its paragraph."""
    seen: set[tuple[str, int, int]] = set()
    units: list[Unit] = []
    for chunk in evidence.passages:
        doc = evidence.documents.get(chunk.doc_id)
        if doc is None:
            continue
        spans = list(chunk.sentences) or sentence_spans(doc.text, chunk.start, chunk.end)
        for i, (s, e) in enumerate(spans):
            options = [(s, e, e)]
            if i + 1 < len(spans) and continues(doc.text, e, spans[i + 1][0]):
                options.append((s, spans[i + 1][1], spans[i + 1][0]))
                credit = _credit(doc.text, spans, i)
                if credit is not None:
                    options.append((s, spans[credit][1], spans[credit][0]))
            for kind, (cs, ce, second) in enumerate(options):
                if (doc.doc_id, cs, ce) in seen:
                    continue
                seen.add((doc.doc_id, cs, ce))
                if not kind:
                    units.append(Unit(doc.doc_id, cs, ce, doc.text[cs:ce]))
                    continue
                leans = kind == 1 and bool(_LEANS_BACK.match(doc.text[second:ce]))
                units.append(Unit(doc.doc_id, cs, ce, doc.text[cs:ce], True, leans, e, second))
    return units


def _credit(text: str, spans: list[tuple[int, int]], i: int) -> int | None:
    """The sentence that closes the block of sentence i by crediting someone, when it comes later
    than the next sentence: it says who did what sentence i says, so the two may be quoted together
    (with what stands between them)."""
    j = i + 1
    while j + 1 < len(spans) and j - i < CREDIT_REACH and continues(text, spans[j][1], spans[j + 1][0]):
        j += 1
    ends_block = j + 1 >= len(spans) or not continues(text, spans[j][1], spans[j + 1][0])
    if j >= i + 2 and ends_block and _CREDIT.match(text, spans[j][0], spans[j][1]):
        return j
    return None


def under_headings(units: list[Unit], evidence: Evidence, noun: str) -> list[Unit]:
    """For "Which PEP ...?": a sentence quoted with the heading it opens ("PEP 540: Forced UTF-8
    Runtime Mode" over "The new -X utf8 command line option ..."), when the heading holds what is
    asked and the sentence does not."""
    wanted = stem(noun)
    shapes = {d: structure(evidence.documents[d]) for d in {u.doc_id for u in units}}
    saved = evidence.sentence_terms
    out = []
    for u in units:
        if u.pair:
            continue
        shape = shapes[u.doc_id]
        found = shape.heading_of(u.start)
        if not found or wanted not in found[1]:
            continue
        if wanted in _sentence_terms(u, saved):
            continue
        (hs, he), _ = found
        if u.start - he <= HEADING_REACH:
            out.append(Unit(u.doc_id, hs, u.end, shape.text[hs:u.end], True, False, he, u.start))
    return out


def heading_of(doc: Document, start: int) -> tuple[tuple[int, int], frozenset[str]] | None:
    """The heading the text at `start` stands under, with its terms (None before the first)."""
    return structure(doc).heading_of(start)


def section_terms(doc: Document, start: int) -> frozenset[str]:
    """The terms of the heading the text at `start` stands under (none before the first)."""
    return structure(doc).section_terms(start)


_NOT_LOOKED_UP = object()


class Structure:
    """A document's headings, and the answers to the questions an answer asks of them, kept per
    place: candidates, ranking and the checks ask about the same sentences in turn, and a passage
    asked about once is often asked about again. Safe across threads: an entry is only ever set
    to the one value it can have."""

    def __init__(self, doc: Document) -> None:
        self.text = doc.text
        self.headings = HeadingIndex(doc.text, doc.headings)
        self._under: dict[int, tuple[tuple[int, int], frozenset[str]] | None] = {}
        self._ends: dict[int, bool] = {}

    def heading_of(self, start: int) -> tuple[tuple[int, int], frozenset[str]] | None:
        """The heading the text at `start` stands under, with its terms (None before the first)."""
        found = self._under.get(start, _NOT_LOOKED_UP)
        if found is _NOT_LOOKED_UP:
            span = self.headings.before(start)
            found = self._under[start] = (span, _text_terms(self.text[span[0] : span[1]])) if span else None
        return found  # type: ignore[return-value]

    def section_terms(self, start: int) -> frozenset[str]:
        found = self.heading_of(start)
        return found[1] if found else frozenset()

    def is_heading(self, end: int) -> bool:
        """True when a heading ends exactly at `end`."""
        found = self._ends.get(end)
        if found is None:
            found = self._ends[end] = self.headings.ends_at(end)
        return found


def unit_terms(unit: Unit) -> frozenset[str]:
    return _text_terms(unit.text)


def _sentence_terms(unit: Unit, saved: Mapping[tuple[str, int, int], frozenset[str]]) -> frozenset[str]:
    """A one-sentence unit's terms as saved with the generation, else from its text."""
    found = saved.get((unit.doc_id, unit.start, unit.end))
    return unit_terms(unit) if found is None else found


def units_terms(units: list[Unit], evidence: Evidence) -> list[frozenset[str]]:
    """Each unit's terms: a sentence's as saved at ingest, else from its text. A two-part unit
    whose parts only white space divides has its parts' terms together (no word spans white
    space), so its text is not read again."""
    saved = evidence.sentence_terms
    alone = {(u.doc_id, u.start, u.end): _sentence_terms(u, saved) for u in units if not u.pair}
    texts = {d: evidence.documents[d].text for d in {u.doc_id for u in units}}
    out = []
    for u in units:
        if u.pair:
            head, tail = alone.get((u.doc_id, u.start, u.first_end)), alone.get((u.doc_id, u.second_start, u.end))
            gap = texts[u.doc_id][u.first_end : u.second_start]
            out.append(head | tail if head is not None and tail is not None and gap.isspace() else unit_terms(u))
        else:
            out.append(alone[(u.doc_id, u.start, u.end)])
    return out


@functools.lru_cache(maxsize=20_000)
def _text_terms(text: str) -> frozenset[str]:
    """A candidate quote's terms, by its text (so no other version's offsets can alias it)."""
    return frozenset(terms(text))


def structure(doc: Document) -> Structure:
    """A document's headings: those found at ingest, or worked out around the passages asked about."""
    return _structure(doc, -1 if doc.headings is None else len(doc.headings))


@functools.lru_cache(maxsize=128)  # whole articles: a few dozen at a time is plenty
def _structure(doc: Document, headings: int) -> Structure:
    """Kept by how many headings came with the text too (-1: none known): a Document's hash and
    equality leave them out, and the same text may come with its ingest-time headings or without
    (a count, not the tuple: hashing a page's thousand headings on every call would cost more)."""
    return Structure(doc)
