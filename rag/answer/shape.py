"""What ranking reads from a candidate quote's text alone: the label it opens with, its last
character, whether it reads as code, whether it is a table's header row. A sentence's shape is
saved with its generation (`sentencemap.py`) in the few characters `encode` writes."""

from __future__ import annotations

import functools
import hashlib
import re

from ..sentences import terms

# (label terms or None, last character, reads as code, is a table's header row)
Shape = tuple[frozenset[str] | None, str, bool, bool]

# A label and its value ("Editor: Raymond Hettinger") or a table row's first cell ("ERROR | 40").
_LABEL = re.compile(r"\A\s*([^:|\n]{1,40}?)(?::\s+|\s+\|\s+)\S")
_CODE_CHARS = b"()[]{}=<>_;'\"#@"  # ASCII: counted in the UTF-8 bytes, which is 6x faster than in the str
CODE_CHAR_SHARE = 0.08  # prose has about 1-2% of these characters; code has 10% and more
_INDENTED_LINE = re.compile(r"\n[ \t]+\S")  # prose never indents its second line; code and config do
# A table's header row: short cells of words only ("Flag | Meaning", "Method/Attribute | Purpose"); a row
# that states something has a figure or a longer cell ("ERROR | 40", "DEBUG | Detailed information, ...").
# A cell starts and ends with a character that is not white space: were spaces both in a cell and around a
# bar, a row of many bars (an ASCII diagram) would take the pattern exponential time to refuse.
_HEADER_ROW = re.compile(r"\A\s*[^\s|\d](?:[^\n|\d]{0,23}[^\s|\d])?(?:\s+\|\s+[^\s|\d](?:[^\n|\d]{0,23}[^\s|\d])?)+\s*\Z")
HEADER_CELL_WORDS = 3  # a header cell names a column in a few words


def _code_like(text: str) -> bool:
    raw = text.encode()
    code_chars = len(raw) - len(raw.translate(None, _CODE_CHARS))
    return bool(_INDENTED_LINE.search(text)) or code_chars > CODE_CHAR_SHARE * max(len(text), 1)


@functools.lru_cache(maxsize=20_000)  # retrieved passages recur from question to question
def shape(text: str) -> Shape:
    """The terms of the label the text opens with (None without one), its last character, whether
    it reads as code, and whether it is a table's header row (which names columns, as a heading
    names a section: it answers nothing)."""
    header = bool(_HEADER_ROW.match(text)) and all(len(cell.split()) <= HEADER_CELL_WORDS for cell in text.split(" | "))
    label = None if header else _LABEL.match(text)  # a header's first cell labels nothing
    if label and re.search(r"\d", label.group(1)):
        label = None  # "PEP 487: Descriptor ..." titles a section; a label names a role ("Editor: ...")
    named = frozenset(terms(label.group(1))) if label else None
    return named, text.rstrip()[-1:], _code_like(text), header


def encode(found: Shape) -> str:
    """A shape in one line without tabs: flags, last character (never white space), then the
    label's terms after a tab when there is a label."""
    named, ending, code, header = found
    flags = f"{int(code)}{int(header)}{ending}"
    return flags if named is None else f"{flags}\t{' '.join(sorted(named))}"


@functools.lru_cache(maxsize=4096)  # most sentences share a handful of shapes ("00." above all)
def decode(line: str) -> Shape:
    flags, _, label = line.partition("\t")
    named = frozenset(label.split()) if len(flags) < len(line) else None
    return named, flags[2:], flags[0] == "1", flags[1] == "1"


def fingerprint() -> str:
    """What a shape depends on besides the text: saved shapes made under other rules are not the
    shapes this code would find (a change to the code itself bumps sentencemap.SENTENCES_VERSION)."""
    rules = (_LABEL.pattern, _CODE_CHARS, CODE_CHAR_SHARE, _INDENTED_LINE.pattern, _HEADER_ROW.pattern,
             HEADER_CELL_WORDS)
    return hashlib.sha256(repr(rules).encode()).hexdigest()[:16]


__all__ = ["Shape", "decode", "encode", "fingerprint", "shape"]
