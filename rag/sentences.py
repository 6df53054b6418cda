"""Blocks and sentences with exact offsets (one segmentation for ingest, answerers and evals),
and the word terms that lexical matching compares."""

from __future__ import annotations

import bisect
import functools
import importlib.abc
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(r"[^\r\n]*")
_WORD = re.compile(r"[\w’']+(?:[-.][\w’']+)*", re.U)
# A piece that starts like this continues the previous sentence (Punkt split after "U.S." or "Co.").
_CONTINUATION = re.compile(r"\A[\s\"“”’)\]]*[a-z0-9,;:%)]")
# What opens a line that starts a block of its own: a list item, a Markdown heading, a table row, a quote.
_MARKER = re.compile(r"[ \t]*(?:[-*•‣◦▪]|\d{1,3}[.)]|\(?[a-z][.)]|#{1,6}|>)[ \t]+|[ \t]*\|")
_ENDS_SENTENCE = re.compile(r"[.!?:;][\"”’')\]]*\s*$")

# How a hard line wrap is told from a paragraph break (plain text keeps its source's wraps).
WRAP_MIN_WIDTH = 40  # text wrapped narrower than this is a list of short lines, not a paragraph
WRAP_MAX_WIDTH = 120  # a line longer than this was not wrapped by hand: it is a paragraph of its own
WRAP_MIN_FILL = 0.6  # a line that fills less of the width than this ends its paragraph
MAX_SENTENCE_CHARS = 1000  # a longer "sentence" (code, a table) is cut at its line breaks


def _import_nltk() -> None:
    """NLTK's package import loads SciPy's statistics (0.55 s of its 1.1 s) for collocation
    measures that Punkt never uses; NLTK falls back when they cannot be imported. An ingest cannot
    start embedding before its first sentences are split, so this is on its critical path. Only
    this thread's import of them is refused: another thread (a model export, say) gets SciPy."""
    finder = _NoStatsHere(threading.get_ident())
    sys.meta_path.insert(0, finder)
    try:
        import nltk  # noqa: F401
    finally:
        sys.meta_path.remove(finder)


class _NoStatsHere(importlib.abc.MetaPathFinder):
    def __init__(self, thread: int) -> None:
        self.thread = thread

    def find_spec(self, name, path=None, target=None):  # noqa: ANN001 - the finder protocol
        if (name == "scipy.stats" or name.startswith("scipy.stats.")) and threading.get_ident() == self.thread:
            raise ImportError(f"{name} is not needed to split sentences")
        return None


@functools.cache
def _punkt():
    if "nltk" not in sys.modules:
        _import_nltk()
    import nltk
    from nltk.tokenize.punkt import PunktTokenizer

    import llama_index.core as li_core

    # llama-index ships the Punkt tables; nothing is downloaded.
    cache = Path(li_core.__file__).parent / "_static" / "nltk_cache"
    if str(cache) not in nltk.data.path:
        nltk.data.path.append(str(cache))
    return PunktTokenizer("english")


@dataclass(frozen=True)
class Block:
    """A paragraph, heading, list item, label/value pair or table row: `text[start:end]`."""

    start: int
    end: int
    kind: str  # "heading", "item" or "paragraph"


def is_wrap(prev: str, line: str) -> bool:
    """True when `line` continues the paragraph that `prev` belongs to (a hard wrap of the
    source), False when it starts a block of its own."""
    body = line.lstrip()
    if not body or not prev.strip() or _MARKER.match(line) or prev.lstrip().startswith("#"):
        return False
    if _ENDS_SENTENCE.search(prev):
        return False  # a break after a full stop never cuts a sentence: it is safe to call it one
    if body[0].islower():
        return True
    width = max(len(prev.rstrip()), len(line.rstrip()))
    return WRAP_MIN_WIDTH <= width <= WRAP_MAX_WIDTH and len(prev.rstrip()) >= WRAP_MIN_FILL * width


def blocks(text: str, start: int = 0, end: int | None = None) -> list[Block]:
    """The blocks of text[start:end]: blank lines always separate blocks; a single line break
    separates them unless it is a hard wrap (see is_wrap)."""
    end = len(text) if end is None else end
    out: list[Block] = []
    cur: list[int] | None = None  # [start, end] of the block being built
    prev = ""
    for m in _LINE.finditer(text, start, end):
        line = m.group()
        if m.start() == m.end() and m.start() > start and text[m.start() - 1] not in "\r\n":
            continue  # the empty match after a line's end
        if not line.strip():
            if cur:
                out.append(_block(text, *cur))
            cur, prev = None, ""
            continue
        if cur is not None and is_wrap(prev, line):
            cur[1] = m.end()
        else:
            if cur:
                out.append(_block(text, *cur))
            cur = [m.start(), m.end()]
        prev = line
    if cur:
        out.append(_block(text, *cur))
    return out


def _block(text: str, start: int, end: int) -> Block:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    head = text[start : start + 8]
    kind = "heading" if head.startswith("#") else "item" if _MARKER.match(head) else "paragraph"
    return Block(start, end, kind)


# A short one-line block with no sentence end is a heading ("PEP 563: Postponed Evaluation of
# Annotations", "Working jointly on drones", an API signature): it says what the blocks under it are about.
HEADING_MAX_WORDS = 12
# Code and its output are no headings: a prompt, a continuation, a literal, an assignment or a comment.
_CODE_LINE = re.compile(r"\s*(?:>>>|\.\.\.|[\[{('\"]|(?:return|import|from\s+\S+\s+import|raise|yield|assert|self\.|super\(\))\b"
                        r"|.*(?:\s[-+*/%]?=\s|\s#\s|[\[\]{}]))")
_CREDITS = re.compile(r"\bby\s+[A-Z]")  # "PEP 553 – ...: PEP written and implemented by Barry Warsaw" states
_NO_HEADING_END = re.compile(r"[.!?:;,][\"”’')\]]*\s*$")


def headings(text: str, start: int = 0, end: int | None = None, given: list[Block] | None = None
             ) -> list[tuple[int, int]]:
    """(start, end) of every heading-like block of text[start:end], in order (`given`: its blocks,
    when the caller has them already)."""
    out = []
    for b in blocks(text, start, end) if given is None else given:
        body = text[b.start : b.end]
        if (b.kind == "item" or "\n" in body or len(body.split()) > HEADING_MAX_WORDS or _NO_HEADING_END.search(body)
                or _CREDITS.search(body) or _CODE_LINE.match(body)):
            continue
        marker = _MARKER.match(text, b.start, b.end)
        out.append((marker.end() if marker else b.start, b.end))
    return out


_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")  # blocks never span one: a scan may start after it
HEADING_SCAN = 2_000  # characters first looked back for a heading (doubled until one is found)


class HeadingIndex:
    """The headings of one text, worked out only around the places asked about: a region that
    starts after a blank line has the same blocks as a scan of the whole text, so regions grow
    from there as needed (an answer touches a few passages of a long page, not all of it)."""

    def __init__(self, text: str, known: tuple[tuple[int, int], ...] | None = None) -> None:
        self.text = text
        spans = list(known) if known is not None else []  # all of them, as found at ingest
        # (lo, hi, spans, ends): the headings of text[lo:hi] (lo and hi are block boundaries) and
        # their ends, which lookups bisect (a key function costs 3x a call). Replaced whole, under a
        # lock, so a reader on another thread sees one consistent state, never a mix of two.
        self._state = (0, len(text) + 1 if known is not None else 0, spans, [e for _, e in spans])
        self._lock = threading.Lock()

    @property
    def spans(self) -> list[tuple[int, int]]:
        return self._state[2]

    def before(self, pos: int) -> tuple[int, int] | None:
        """The last heading ending at or before `pos` (None when there is none)."""
        reach = HEADING_SCAN
        while True:
            lo, _, spans, ends = self._cover(max(0, pos - reach), pos)
            i = bisect.bisect_right(ends, pos) - 1
            if i >= 0 or lo == 0:
                return spans[i] if i >= 0 else None
            reach *= 2

    def ends_at(self, pos: int) -> bool:
        """True when a heading ends exactly at `pos`."""
        ends = self._cover(pos, pos)[3]
        i = bisect.bisect_left(ends, pos)
        return i < len(ends) and ends[i] == pos

    def _cover(self, lo: int, hi: int) -> tuple[int, int, list[tuple[int, int]], list[int]]:
        """A state that knows the headings of text[lo:hi] (worked out now if need be)."""
        state = self._state
        if state[0] <= lo and hi < state[1]:
            return state  # known already
        with self._lock:
            known_lo, known_hi, spans, _ = state = self._state
            if known_lo <= lo and hi < known_hi:
                return state  # another thread worked it out meanwhile
            lo, hi = self._boundary_before(lo), self._boundary_after(hi)
            if known_hi == 0:  # nothing known yet
                known_lo, known_hi, spans = lo, hi, headings(self.text, lo, hi)
            if lo < known_lo:
                spans = headings(self.text, lo, known_lo) + spans
                known_lo = lo
            if hi > known_hi:
                spans = spans + headings(self.text, known_hi, hi)
                known_hi = hi
            self._state = state = (known_lo, known_hi, spans, [e for _, e in spans])
            return state

    def _boundary_before(self, pos: int) -> int:
        while pos > 0:
            last = 0
            for m in _BLANK_LINE.finditer(self.text, max(0, pos - HEADING_SCAN), pos):
                last = m.end()
            if last:
                return last
            pos -= HEADING_SCAN
        return 0

    def _boundary_after(self, pos: int) -> int:
        m = _BLANK_LINE.search(self.text, pos)
        return m.end() if m else len(self.text)


def continues(text: str, end: int, start: int) -> bool:
    """True when the sentence starting at `start` is in the same block as the one ending at `end`."""
    gap = text[end:start]
    if "\n" not in gap and "\r" not in gap:
        return True
    if gap.count("\n") > 1:
        return False
    line_start = text.rfind("\n", 0, end) + 1
    nl = text.find("\n", end)
    line_end = text.find("\n", nl + 1)
    return is_wrap(text[line_start:nl], text[nl + 1 : len(text) if line_end < 0 else line_end])


def block_at(text: str, pos: int) -> Block:
    """The block that holds position `pos`."""
    lo = text.rfind("\n\n", 0, pos)
    lo = 0 if lo < 0 else lo + 2
    hi = text.find("\n\n", pos)
    hi = len(text) if hi < 0 else hi
    for b in blocks(text, lo, hi):
        if b.start <= pos < max(b.end, b.start + 1):
            return b
    return Block(pos, pos, "paragraph")


def sentence_spans(text: str, start: int = 0, end: int | None = None, given: list[Block] | None = None
                   ) -> list[tuple[int, int]]:
    """(start, end) of each sentence in text[start:end]. A sentence never crosses a block
    boundary, but does cross a hard line wrap; list and heading markers are not part of it
    (`given`: the blocks of text[start:end], when the caller has them already)."""
    spans: list[tuple[int, int]] = []
    for block in blocks(text, start, end) if given is None else given:
        s0 = block.start
        marker = _MARKER.match(text, s0, block.end)
        if marker:
            s0 = marker.end()
        body = text[s0 : block.end]
        if not body.strip():
            continue
        if block.kind == "heading":
            spans.append((s0, block.end))
            continue
        pieces: list[list[int]] = []
        for s, e in _punkt().span_tokenize(body):
            if pieces and _CONTINUATION.match(body[s:e]):
                pieces[-1][1] = e
            else:
                pieces.append([s, e])
        for s, e in pieces:
            spans.extend(_cut_long(text, s0 + s, s0 + e))
    return spans


def _cut_long(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """A "sentence" longer than MAX_SENTENCE_CHARS (code, a long table row) in pieces cut at line breaks."""
    if end - start <= MAX_SENTENCE_CHARS:
        return [(start, end)]
    out: list[tuple[int, int]] = []
    piece = start
    for m in re.finditer(r"\n", text[start:end]):
        cut = start + m.start()
        if cut - piece >= MAX_SENTENCE_CHARS // 2:
            out.append((piece, cut))
            piece = cut + 1
    out.append((piece, end))
    return [(a, b) for a, b in ((a + len(text[a:b]) - len(text[a:b].lstrip()), b) for a, b in out) if b > a]


@functools.cache
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
    now of off on once only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves according said
    say says tell told many much one ones whose kind kinds per cent percent did does according did s""".split()
)

QUESTION_WORDS = frozenset("what which who whom whose when where why how".split())


def words(text: str) -> list[str]:
    """Lower-cased words with curly apostrophes folded and possessives dropped."""
    return [w for w in map(_word, _matches(text)) if w]


def _matches(text: str) -> list[str]:
    if "İ" in text or "Σ" in text:  # the only letters whose lower case is not one letter alike
        return [m.lower().replace("’", "'") for m in _WORD.findall(text)]
    return _WORD.findall(text.lower().replace("’", "'"))  # folded in one pass: twice as fast


# Per distinct token, not per occurrence: a corpus has far fewer distinct words than words, and
# these run on every candidate quote of every answer (a cached call is 4x cheaper than the steps).
# 65,536 tokens each (~20 MB at most): 494 doc pages use ~63,000 distinct words, markup included.
@functools.lru_cache(maxsize=1 << 16)
def _word(match: str) -> str:
    return match.strip("'.").removesuffix("'s")


@functools.lru_cache(maxsize=1 << 17)  # a corpus has far fewer distinct words than words: 3x faster
def stem(word: str) -> str:
    return _stemmer().stemWord(word)


# Verbs whose doer a text names with a label or another word ("Who wrote ...?" / "Author: ...").
SAME_TERM = {"wrote": "author", "written": "author", "write": "author", "writer": "author", "writ": "author"}
AGENT_NOUN_MIN = 6  # "editor" -> "edit", "creator" -> "creat"; shorter ones ("error", "major") are left alone


def terms(text: str) -> list[str]:
    """Stemmed content words: what lexical overlap counts. Agent nouns fold onto their verb
    ("editor" / "edited", "creator" / "created"), which a stemmer leaves apart."""
    return [t for t in map(_match_term, _matches(text)) if t is not None]


def terms_of(ws: list[str]) -> list[str]:
    """`terms` of a text whose `words` are already known."""
    return [t for t in map(_term, ws) if t is not None]


@functools.cache
def terms_fingerprint() -> str:
    """What `terms` depends on besides the text (its word pattern, stopwords, folds and stemmer):
    terms saved under other rules are not the terms this code would find (a change to the code of
    `terms` itself bumps sentencemap.SENTENCES_VERSION)."""
    import hashlib
    import importlib.metadata

    rules = (_WORD.pattern, sorted(STOPWORDS), sorted(SAME_TERM.items()), AGENT_NOUN_MIN,
             importlib.metadata.version("PyStemmer"))
    return hashlib.sha256(repr(rules).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=1 << 16)
def _match_term(match: str) -> str | None:
    word = _word(match)
    return _term(word) if word else None


@functools.lru_cache(maxsize=1 << 16)
def _term(w: str) -> str | None:
    """A word's term (None for a stopword)."""
    if w in STOPWORDS:
        return None
    s = SAME_TERM.get(w) or stem(w)
    if len(s) >= AGENT_NOUN_MIN and s.endswith("or") and w.isalpha():
        s = s[:-2]
    return s
