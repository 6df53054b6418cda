"""The offline answerer: picks the sentences that answer the question and quotes them exactly."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..citations import cite
from ..embed import Embedder
from ..sentences import QUESTION_WORDS, sentence_spans, terms
from ..types import Answer
from .base import NOT_MENTIONED, Evidence, Question, abstain, join_names, numbered, unknown_names

DENSE_WEIGHT = 0.55
PAIR_PENALTY = 0.03  # two sentences must beat one by this much to be quoted together
# ...unless the second sentence points back at the first ("They are ...", "It also ...")
_LEANS_BACK = re.compile(r"\A[\s“\"‘']*(?:They|These|Those|It|Its|This|That|He|She|His|Her|Such|The company|Both)\b")
FOLLOWUP_CONTEXT_WEIGHT = 0.85  # a follow-up answered by the context alone scores a little lower
TYPE_BONUS = 0.04  # a sentence with a specific figure or date, for questions that ask for one
_SPECIFIC = {
    "duration": re.compile(r"\d[\d.]*[ -](?:year|month|week|day|decade|hour)s?\b", re.I),
    "number": re.compile(r"\d"),
    "date": re.compile(r"\b(?:\d{4}|January|February|March|April|May|June|July|August|September|October|"
                       r"November|December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b"),
}
KEEP_RATIO = 0.85  # further quotes must score at least this share of the best

_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|dozen|half|hundred|thousand|million|billion|"
    r"twice|double|triple)\b",
    re.I,
)
_DATE = re.compile(
    r"\b(?:\d{4}|january|february|march|april|may|june|july|august|september|october|november|december|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|week|month|year|"
    r"earlier|later|since|ago|era|war)\b",
    re.I,
)
_ASKS_NUMBER = re.compile(
    r"\b(?:how (?:many|much)|what (?:share|percentage|proportion|fraction|portion|"
    r"amount|value|number|sum|figure)|what per ?cent)\b",
    re.I,
)
_ASKS_DURATION = re.compile(r"\bhow long\b", re.I)
_DURATION = re.compile(r"\b(?:year|month|week|day|decade|hour)s?\b|-(?:year|month|week|day)-old", re.I)
_ASKS_DATE = re.compile(r"\b(?:when|what (?:year|date|day|month)|which (?:year|date|day|month))\b", re.I)


@dataclass(frozen=True)
class _Unit:
    """A candidate quote: one sentence, or two adjacent sentences of a paragraph."""

    doc_id: str
    start: int
    end: int
    text: str
    pair: bool = False
    leans_back: bool = False
    first_end: int = 0  # for a pair: where its first sentence ends
    second_start: int = 0  # ... and where its second begins


class ExtractiveAnswerer:
    mode = "offline"

    def __init__(self, embedder: Embedder, min_relevance: float = 0.42, max_citations: int = 3) -> None:
        self.embedder = embedder
        self.min_relevance = min_relevance
        self.max_citations = max_citations
        self._span_cache: dict[tuple[str, int, int], list[tuple[int, int]]] = {}
        self._term_cache: dict[tuple[str, int, int], frozenset[str]] = {}

    def answer(self, question: Question, evidence: Evidence) -> Answer:
        missing = unknown_names(question.text, evidence.stats)
        if missing:
            return abstain(self.mode, NOT_MENTIONED.format(names=join_names(missing)), evidence.passages)
        units = self._units(evidence)
        if not units:
            return abstain(self.mode, passages=evidence.passages)
        wants = _answer_type(question.text)
        ranked = self._rank(question.standalone, units, evidence, wants)
        if question.standalone != question.text and ranked:
            # A follow-up: the new words say what is asked, the earlier question says about what.
            alone = {id(u): sc for sc, u in self._rank(question.text, units, evidence, wants)}
            ranked = sorted(
                ((max((sc + alone.get(id(u), sc)) / 2, FOLLOWUP_CONTEXT_WEIGHT * sc), u) for sc, u in ranked),
                key=lambda x: -x[0],
            )
        if not ranked or ranked[0][0] < self.min_relevance:
            return abstain(self.mode, passages=evidence.passages)
        chosen = self._choose(ranked)
        citations = [cite(evidence.documents[u.doc_id], u.start, u.end) for u in chosen]
        return Answer(
            text=numbered(citations, evidence.documents),
            citations=citations,
            abstained=False,
            mode=self.mode,
            passages=evidence.passages,
        )

    def _units(self, evidence: Evidence) -> list[_Unit]:
        seen: set[tuple[str, int, int]] = set()
        units: list[_Unit] = []
        for chunk in evidence.passages:
            doc = evidence.documents.get(chunk.doc_id)
            if doc is None:
                continue
            spans = list(chunk.sentences) or [
                sp for sp in self._sentences(doc) if sp[0] >= chunk.start and sp[1] <= chunk.end
            ]
            for i, (s, e) in enumerate(spans):
                candidates = [(s, e)]
                if i + 1 < len(spans) and "\n" not in doc.text[e : spans[i + 1][0]]:
                    candidates.append((s, spans[i + 1][1]))
                for pair, (cs, ce) in enumerate(candidates):
                    if (doc.doc_id, cs, ce) not in seen:
                        seen.add((doc.doc_id, cs, ce))
                        if not pair:
                            units.append(_Unit(doc.doc_id, cs, ce, doc.text[cs:ce]))
                            continue
                        second = spans[i + 1][0]
                        leans = bool(_LEANS_BACK.match(doc.text[second:ce]))
                        units.append(_Unit(doc.doc_id, cs, ce, doc.text[cs:ce], True, leans, e, second))
        return units

    def _rank(
        self, query: str, units: list[_Unit], evidence: Evidence, wants: str | None
    ) -> list[tuple[float, _Unit]]:
        """Score = dense similarity and IDF-weighted coverage of the question's terms; units that
        lack the kind of answer asked for (a figure, a date) are dropped."""
        units = [u for u in units if _has_type(u.text, wants)]
        if not units:
            return []
        q_vec = np.asarray(self.embedder.embed([query])[0], dtype=np.float32)
        dense_scores = self._unit_vectors(units, evidence) @ q_vec
        stats = evidence.stats
        q_terms = {t for t in terms(query) if t not in QUESTION_WORDS}
        weights = {t: stats.idf(t) for t in q_terms}
        total = sum(weights.values()) or 1.0
        ranked = []
        for unit, dense in zip(units, dense_scores.tolist()):
            u_terms = self._terms(unit)
            lexical = sum(w for t, w in weights.items() if t in u_terms) / total
            score = DENSE_WEIGHT * dense + (1 - DENSE_WEIGHT) * lexical
            if unit.pair and not unit.leans_back:
                score -= PAIR_PENALTY
            if wants and _SPECIFIC[wants].search(unit.text):
                score += TYPE_BONUS
            ranked.append((score, unit))
        # A pair whose second sentence continues the first ("They are ...") is worth at least
        # its first sentence alone: quoting the continuation completes the answer.
        firsts = {(u.doc_id, u.start): sc for sc, u in ranked if not u.pair}
        ranked = [
            (max(sc, firsts.get((u.doc_id, u.start), sc) + 0.001) if u.leans_back else sc, u) for sc, u in ranked
        ]
        ranked.sort(key=lambda x: -x[0])
        return ranked

    def _sentences(self, doc) -> list[tuple[int, int]]:
        """The document's sentence spans, as ingestion split them (so stored vectors match)."""
        key = (doc.doc_id, len(doc.text), hash(doc.text))
        spans = self._span_cache.get(key)
        if spans is None:
            spans = sentence_spans(doc.text)
            if len(self._span_cache) > 5000:
                self._span_cache.clear()
            self._span_cache[key] = spans
        return spans

    def _terms(self, unit: _Unit) -> frozenset[str]:
        key = (unit.doc_id, unit.start, unit.end)
        found = self._term_cache.get(key)
        if found is None:
            found = frozenset(terms(unit.text))
            if len(self._term_cache) > 200_000:
                self._term_cache.clear()
            self._term_cache[key] = found
        return found

    def _unit_vectors(self, units: list[_Unit], evidence: Evidence) -> np.ndarray:
        """Sentence vectors stored at ingest (embedded now only if missing); a pair of sentences
        is the normalised sum of its two, which ranks like embedding the pair, at no cost."""
        keys: list[tuple[str, int, int]] = []
        for u in units:
            keys += [(u.doc_id, u.start, u.first_end), (u.doc_id, u.second_start, u.end)] if u.pair else [
                (u.doc_id, u.start, u.end)]
        keys = list(dict.fromkeys(keys))
        vectors = dict(evidence.sentence_vectors(keys))
        missing = [k for k in keys if k not in vectors]
        texts = [evidence.documents[d].text[s:e] for d, s, e in missing]
        for key, vec in zip(missing, self.embedder.embed(texts)):
            vectors[key] = vec
        rows = []
        for u in units:
            if not u.pair:
                rows.append(np.asarray(vectors[(u.doc_id, u.start, u.end)], dtype=np.float32))
                continue
            total = np.asarray(vectors[(u.doc_id, u.start, u.first_end)], dtype=np.float32) + np.asarray(
                vectors[(u.doc_id, u.second_start, u.end)], dtype=np.float32
            )
            rows.append(total / (np.linalg.norm(total) or 1.0))
        return np.vstack(rows)

    def _choose(self, ranked: list[tuple[float, _Unit]]) -> list[_Unit]:
        best = ranked[0][0]
        chosen: list[_Unit] = []
        for score, unit in ranked:
            if len(chosen) >= self.max_citations or score < max(self.min_relevance, best * KEEP_RATIO):
                break
            if any(c.doc_id == unit.doc_id and c.start < unit.end and unit.start < c.end for c in chosen):
                continue
            chosen.append(unit)
        return chosen


def _answer_type(question: str) -> str | None:
    if _ASKS_NUMBER.search(question):
        return "number"
    if _ASKS_DATE.search(question):
        return "date"
    if _ASKS_DURATION.search(question):
        return "duration"
    return None


def _has_type(text: str, wants: str | None) -> bool:
    if wants == "number":
        return bool(_NUMBER.search(text))
    if wants == "date":
        return bool(_DATE.search(text))
    if wants == "duration":
        return bool(_DURATION.search(text))
    return True

