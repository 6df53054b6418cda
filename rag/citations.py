"""Locating and verifying quotes: the trust boundary. Nothing reaches a reader as a quote
unless it is exactly `document.text[start:end]`."""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Mapping

from rapidfuzz import fuzz
from rapidfuzz.distance import Indel

from .sentences import block_at, sentence_spans, terms
from .types import Citation, Document

# Characters that writers (and models) swap freely; folded before comparing.
_FOLD = str.maketrans({
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'",
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"',
    "–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-",
    "\u00a0": " ", "\u2009": " ", "\u202f": " ",
})


def cite(doc: Document, start: int, end: int) -> Citation:
    """A citation for doc.text[start:end], trimmed of surrounding whitespace."""
    if not 0 <= start < end <= len(doc.text):
        raise ValueError(f"span {start}:{end} is outside {doc.doc_id}")
    while start < end and doc.text[start].isspace():
        start += 1
    while end > start and doc.text[end - 1].isspace():
        end -= 1
    return Citation(doc_id=doc.doc_id, title=doc.title, quote=doc.text[start:end], start=start, end=end)


def is_exact(citation: Citation, doc: Document) -> bool:
    """The one check every shown quote must pass."""
    return (
        citation.doc_id == doc.doc_id
        and 0 <= citation.start < citation.end <= len(doc.text)
        and doc.text[citation.start : citation.end] == citation.quote
    )


def _normalize(text: str) -> tuple[str, list[int]]:
    """Fold quotes, dashes, case and runs of whitespace; return the folded text and, for each of
    its characters, the offset of the original character it came from."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        ch = unicodedata.normalize("NFKC", ch.translate(_FOLD)).lower()
        for c in ch:
            if c.isspace():
                if out and out[-1] == " ":
                    continue
                c = " "
            out.append(c)
            where.append(i)
    return "".join(out), where


def normalized(text: str) -> str:
    """Folded text for comparisons (evals use it too)."""
    return _normalize(text)[0].strip()


def locate(quote: str, text: str, min_ratio: float = 0.9) -> tuple[int, int] | None:
    """Where `quote` stands in `text`: exactly, then up to quote/dash/space/case folding, then as
    a near miss (a dropped or changed word) of at least `min_ratio` similarity. Returns offsets
    into the original `text`, or None when the quote is not there."""
    quote = quote.strip().strip("\"'“”‘’").strip()
    if not quote:
        return None
    pos = text.find(quote)
    if pos >= 0:
        return pos, pos + len(quote)
    norm_text, where = _normalize(text)
    norm_quote = _normalize(quote)[0].strip()
    if len(norm_quote) < 8:
        return None
    pos = norm_text.find(norm_quote)
    if pos >= 0:
        return where[pos], where[pos + len(norm_quote) - 1] + 1
    return _near_miss(norm_quote, norm_text, where, min_ratio)


_WORD = re.compile(r"\S+")
_TRAILING = ",;:-'\"("
# The aligned window has the quote's length, so a quote that dropped or added words scores lower there
# than on its best word window: candidates this far below min_ratio are still refined.
ALIGN_SLACK = 0.15


def _near_miss(quote: str, text: str, where: list[int], min_ratio: float) -> tuple[int, int] | None:
    """The window of whole words of the text most similar to the quote, if similar enough.
    rapidfuzz finds where the quote aligns best; the window's ends are then tried a few words
    either way, since a near miss may have dropped or added words."""
    if len(quote.split()) < 4:
        return None
    hit = fuzz.partial_ratio_alignment(quote, text)
    if hit is None or hit.score < (min_ratio - ALIGN_SLACK) * 100:
        return None
    words = list(_WORD.finditer(text))
    starts = [m.start() for m in words]
    first = max(0, bisect.bisect_right(starts, hit.dest_start) - 1)
    last = max(0, bisect.bisect_right(starts, max(hit.dest_end - 1, 0)) - 1)
    best: tuple[float, int, int] | None = None
    for s in range(max(0, first - 2), min(len(words), first + 3)):
        for e in range(max(s + 1, last - 2), min(len(words), last + 5) + 1):
            w_start, w_end = words[s].start(), words[e - 1].end()
            while w_end > w_start and text[w_end - 1] in _TRAILING and not quote.endswith(text[w_end - 1]):
                w_end -= 1
            ratio = Indel.normalized_similarity(quote, text[w_start:w_end])
            if best is None or ratio > best[0]:
                best = (ratio, w_start, w_end)
    if best is None or best[0] < min_ratio:
        return None
    return where[best[1]], where[best[2] - 1] + 1


def _sentence_of(c: Citation, documents: Mapping[str, Document]) -> str:
    """The whole sentence(s) a citation stands in, looked for within its block."""
    doc = documents.get(c.doc_id)
    if doc is None:
        return c.quote
    block = block_at(doc.text, c.start)
    spans = [(s, e) for s, e in sentence_spans(doc.text, block.start, block.end) if s < c.end and c.start < e]
    return doc.text[spans[0][0] : spans[-1][1]] if spans else c.quote


_CLAIM_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_CLAIM_NAME = re.compile(r"(?<=\s)[A-Z][\w’'-]*[\w]")
MIN_CLAIM_OVERLAP = 0.34


def claim_supported(
    claim: str, quotes: list[Citation], documents: Mapping[str, Document], strict: bool = True
) -> bool:
    """A deterministic stand-in for entailment: the claim's numbers are in its quotes, its names
    are in the quoted articles, and enough of its content words are in its quotes. With
    `strict=False` only the word overlap is asked (is this quote about the claim at all?)."""
    if not quotes:
        return False
    # judge a quoted clause with the rest of its sentence: "Nearly 70% of ..." may leave out the
    # "in the last quarter of 2023" that the claim repeats
    quoted = normalized(" ".join(_sentence_of(c, documents) for c in quotes))
    claim_terms = set(terms(claim))
    quote_terms = set(terms(quoted))
    overlap = len(claim_terms & quote_terms) / len(claim_terms) if claim_terms else 1.0
    if not strict:
        return overlap > 0
    if overlap < MIN_CLAIM_OVERLAP:
        return False
    compact = quoted.replace(",", "")
    for number in _CLAIM_NUMBER.findall(claim):
        if number.replace(",", "") not in compact:
            return False
    sources = normalized(" ".join(documents[c.doc_id].text for c in quotes if c.doc_id in documents))
    for name in _CLAIM_NAME.findall(claim):
        if normalized(name).removesuffix("'s") not in sources:
            return False
    return True
