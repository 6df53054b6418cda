"""Sentence spans with exact offsets, and the word terms that lexical matching compares."""

from __future__ import annotations

import functools
import re
from pathlib import Path

_PARAGRAPH = re.compile(r"[^\r\n]+")
_WORD = re.compile(r"[\w’']+(?:[-.][\w’']+)*", re.U)
# A piece that starts like this continues the previous sentence (Punkt split after "U.S." or "Co.").
_CONTINUATION = re.compile(r"\A[\s\"“”’)\]]*[a-z0-9,;:%)]")


@functools.cache
def _punkt():
    import nltk
    from nltk.tokenize.punkt import PunktTokenizer

    import llama_index.core as li_core

    # llama-index ships the Punkt tables; nothing is downloaded.
    cache = Path(li_core.__file__).parent / "_static" / "nltk_cache"
    if str(cache) not in nltk.data.path:
        nltk.data.path.append(str(cache))
    return PunktTokenizer("english")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each sentence in text[start:end]; a sentence never crosses a line break."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for para in _PARAGRAPH.finditer(text, start, end):
        body = para.group()
        if not body.strip():
            continue
        pieces: list[list[int]] = []
        for s, e in _punkt().span_tokenize(body):
            if pieces and _CONTINUATION.match(body[s:e]):
                pieces[-1][1] = e
            else:
                pieces.append([s, e])
        offset = para.start()
        spans.extend((offset + s, offset + e) for s, e in pieces)
    return spans


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
    out = []
    for match in _WORD.finditer(text):
        word = match.group().lower().replace("’", "'").strip("'.")
        word = word.removesuffix("'s")
        if word:
            out.append(word)
    return out


def stem(word: str) -> str:
    return _stemmer().stemWord(word)


def terms(text: str) -> list[str]:
    """Stemmed content words: what lexical overlap counts."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]
