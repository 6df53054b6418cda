"""Corpus statistics of one store generation: sentence frequencies (what "rare" means), the
vocabulary, numbered word pairs, acronyms and words written in capitals (what "the corpus mentions"
means). Built from the stored chunks at ingest, saved beside BM25, loaded by every reader."""

from __future__ import annotations

import bisect
import functools
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from .names import acronyms_in, variants
from .sentences import terms_of, words
from .types import Chunk

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
                df.update(set(terms_of(ws)))
                numbered.update(number_pairs(ws))
                acronyms.update(acronyms_in(sentence))
                capitals.update(w.lower() for w in _CAPITALS.findall(sentence))
        return cls(len(seen), df, frozenset(vocab), frozenset(numbered), frozenset(acronyms), frozenset(capitals))

    def with_names(self, names: Iterable[str]) -> "CorpusStats":
        """These statistics, knowing the names given besides the text too (the outlets of the
        articles: "What did the Telegraph report?" asks about an article, whose text need not name
        its outlet). Sentence frequencies are unchanged."""
        vocab, acronyms, capitals = set(), set(), set()
        for name in names:
            vocab.update(words(name))
            acronyms.update(acronyms_in(name))
            capitals.update(w.lower() for w in _CAPITALS.findall(name))
        if vocab <= self.vocabulary and acronyms <= self.acronyms and capitals <= self.capitals:
            return self
        return CorpusStats(self.sentence_count, self.df, self.vocabulary | vocab, self.numbered,
                           self.acronyms | acronyms, self.capitals | capitals)

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
        from .derived import read_index

        data = read_index(folder / "stats.json", STATS_VERSION, "statistics")
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
        # the first word at or after the stem starts with it if any word does (a scan of the whole
        # vocabulary grew with the corpus: 12.8 ms per unknown word at 494 pages, 50,040 words)
        ordered = self._ordered
        at = bisect.bisect_left(ordered, stem)
        return at < len(ordered) and ordered[at].startswith(stem)

    @functools.cached_property
    def _ordered(self) -> list[str]:
        return sorted(self.vocabulary)

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


def builder() -> type[CorpusStats]:
    """What a child process (rag/child.py) builds statistics with: `from_chunks` is called there."""
    return CorpusStats


_CAPITALS = re.compile(r"\b[A-Z]{2,}\b")


def number_pairs(ws: list[str]) -> set[str]:
    """Adjacent word pairs with a number in them: "python 3.7", "pep 557"."""
    return {f"{a} {b}" for a, b in zip(ws, ws[1:]) if a[:1].isdigit() or b[:1].isdigit()}
