"""The offline answerer: picks the sentences that answer the question and quotes them exactly.

The answer opens with a direct line made of the quoted words that answer (the names for "which",
the figure for "how much", the date for "when"), then the quotes; quotes of several outlets that
state the same fact are shown once, naming every outlet."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace

import numpy as np

from ..chunking import normalise
from ..citations import cite
from ..config import ScoringSettings, Settings
from ..embed import Embedder
from ..followup import standalone_offline
from ..sentences import QUESTION_WORDS, terms
from ..types import Answer, Citation, Delta, Event, Turn
from . import checks, direct
from .shape import shape
from .base import NOT_MENTIONED, NOT_NEAR, Evidence, Question, abstain, join_names, quoted, source_label, unknown_names
from .units import Unit, candidates, structure, under_headings, units_terms

_NUMBER = re.compile(
    r"\d|\b(?:once|two|three|four|five|six|seven|eight|nine|ten|dozen|half|hundred|thousand|million|billion|"
    r"twice|double|triple)\b",
    re.I,
)
_DATE = re.compile(
    r"\b(?:\d{4}|january|february|march|april|may(?=\s+\d)|(?<=\d\s)may|june|july|august|september|october|"
    r"november|december|"  # "may" only beside a number: "this may change" dates nothing
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|week|month|year|"
    r"earlier|later|since|ago|era|war)\b|\b(?:version|python|release)\s+\d+\.\d",  # docs date by version
    re.I,
)
# What a sentence must hold at all to answer a question of this kind (lenient: "since the war" may date it);
# "how long" may ask for a length; "which version" needs a version number.
_MUST_HAVE = {"number": _NUMBER, "date": _DATE, "duration": _NUMBER, "version": re.compile(r"\d\.\d")}


_DEFAULTS = Settings.model_fields


class ExtractiveAnswerer:
    mode = "offline"

    def __init__(
        self,
        embedder: Embedder,
        min_relevance: float = _DEFAULTS["min_relevance"].default,  # one default, in Settings
        max_citations: int = _DEFAULTS["max_citations"].default,
        scoring: ScoringSettings | None = None,
    ) -> None:
        self.embedder = embedder
        self.min_relevance = min_relevance
        self.max_citations = max_citations
        self.scoring = scoring or ScoringSettings()

    def answer(self, question: Question, evidence: Evidence) -> Answer:
        missing = unknown_names(question.text, evidence.stats)
        if missing:
            return abstain(self.mode, NOT_MENTIONED.format(names=join_names(missing)), evidence.passages)
        units = candidates(evidence)
        if not units:
            return abstain(self.mode, passages=evidence.passages)
        noun = direct.asked_noun(question.text)
        if noun:
            units += under_headings(units, evidence, noun)
        wants = direct.answer_type(question.text)
        ranked = self._rank(question.standalone, units, evidence, wants)
        if question.earlier and ranked:
            # a follow-up asks for what the last answer did not say: its quotes step back
            seen = " ".join(question.earlier.split())
            penalty = self.scoring.repeat_penalty
            ranked = sorted(((sc - penalty if " ".join(u.text.split()) in seen else sc, u) for sc, u in ranked),
                            key=lambda x: -x[0])
        relevance = {id(u): sc for sc, u in ranked}  # of the question as it stands alone: what abstention weighs
        if question.standalone != question.text and ranked:
            # A follow-up: the new words say what is asked, the earlier question says about what.
            alone = {id(u): sc for sc, u in self._rank(question.text, units, evidence, wants)}
            weight = self.scoring.followup_context_weight
            ranked = sorted(
                ((max((sc + alone.get(id(u), sc)) / 2, weight * sc), u) for sc, u in ranked), key=lambda x: -x[0]
            )
        if not ranked or relevance[id(ranked[0][1])] < self.min_relevance:
            return abstain(self.mode, passages=evidence.passages)
        asked = checks.asked_predicate(question.text)
        if asked:
            ranked = [(sc, u) for sc, u in ranked if checks.states(asked, evidence.documents[u.doc_id], u)]
            if not ranked:
                return abstain(self.mode, passages=evidence.passages)
        # checked in order, only as far as the quotes chosen reach (not every candidate)
        mentioned = ((sc, u) for sc, u in ranked
                     if not checks.unmentioned(question.text, evidence.documents[u.doc_id], u))
        first = next(mentioned, None)
        if first is None:
            names = checks.unmentioned(question.text, evidence.documents[ranked[0][1].doc_id], ranked[0][1])
            known = all(evidence.stats.knows_name(n) for n in names)  # elsewhere in the corpus
            message = NOT_NEAR if known else NOT_MENTIONED
            return abstain(self.mode, message.format(names=join_names(names)), evidence.passages)
        if relevance[id(first[1])] < self.min_relevance:
            return abstain(self.mode, passages=evidence.passages)
        numbers = checks.numbers_asked(question.standalone)
        if numbers:  # "Who wrote PEP 530?": a further quote must be about PEP 530 too, not another PEP
            mentioned = ((sc, u) for sc, u in mentioned if checks.holds(numbers, evidence.documents[u.doc_id], u))
        chosen = self._choose(itertools.chain([first], mentioned))
        citations = [cite(evidence.documents[u.doc_id], u.start, u.end) for u in chosen]
        lead = chosen[0].focus or (chosen[0].start, chosen[0].end)
        focus = (lead[0] - chosen[0].start, lead[1] - chosen[0].start)
        return Answer(
            text=compose(question.standalone, wants, citations, evidence.documents, self.scoring.same_fact_overlap,
                         focus),
            citations=citations,
            abstained=False,
            mode=self.mode,
            passages=evidence.passages,
        )

    def stream(self, question: Question, evidence: Evidence) -> Iterator[Event]:
        """The whole answer at once: it takes milliseconds."""
        answer = self.answer(question, evidence)
        yield Delta(answer.text)
        yield answer

    def condense(self, question: str, history: tuple[Turn, ...]) -> str:
        return standalone_offline(question, history)

    def _rank(
        self, query: str, units: list[Unit], evidence: Evidence, wants: str | None
    ) -> list[tuple[float, Unit]]:
        """Score = dense similarity and IDF-weighted coverage of the question's terms, plus a bonus
        for holding the kind of answer asked for; units that lack a figure or a date when one is
        asked for are dropped."""
        must = _MUST_HAVE.get(wants or "")
        units = [u for u in units if must is None or must.search(u.text)]
        if not units:
            return []
        w = self.scoring
        q_vec = np.asarray(self.embedder.embed([query])[0], dtype=np.float32)
        dense_scores = self._unit_vectors(units, evidence) @ q_vec
        stats = evidence.stats
        q_terms = {t for t in terms(query) if t not in QUESTION_WORDS}
        weights = {t: stats.idf(t) for t in q_terms}
        total = sum(weights.values()) or 1.0
        weighted = list(weights.items())
        ranked = []
        docs = {d: evidence.documents[d] for d in {u.doc_id for u in units}}
        # an article's title and outlet name it: "the Telegraph" in a question is matched as its title is
        titles = {d: frozenset(terms(f"{doc.title} {doc.metadata.get('outlet', '')}")) for d, doc in docs.items()}
        structures = {d: structure(doc) for d, doc in docs.items()}
        shapes = evidence.sentence_shapes  # a single sentence's, saved; a pair's is worked out
        # the weights as locals: read ~250 times per question each, a model attribute costs 3x a local
        dense_w, section_w, title_w = w.dense_weight, w.section_context_weight, w.title_context_weight
        lexical_w = 1 - dense_w
        # what each asked term earns a unit that lacks it, per article and section (its heading's
        # terms, else its title's), and their sum: most units hold none of the asked terms
        outside: dict[tuple[str, frozenset[str]], tuple[list[float], float]] = {}
        for unit, dense, u_terms in zip(units, dense_scores.tolist(), units_terms(units, evidence)):
            if u_terms <= q_terms:
                continue  # it only echoes the question (a heading, a title): it cannot answer it
            title = titles[unit.doc_id]
            outline = structures[unit.doc_id]
            context = outside.get((unit.doc_id, section := outline.section_terms(unit.start)))
            if context is None:
                earned = [wt * section_w if t in section else wt * title_w if t in title else 0.0 for t, wt in weighted]
                # a list, not a generator: faster, and sum() as before (compensated from 3.12)
                context = outside[(unit.doc_id, section)] = (earned, sum(earned) / total)
            if u_terms.isdisjoint(q_terms):
                lexical = context[1]  # the same list summed in the same order: the same float
            else:
                lexical = sum([wt if t in u_terms else e for (t, wt), e in zip(weighted, context[0])]) / total
            score = dense_w * dense + lexical_w * lexical
            if unit.pair and not unit.leans_back:
                score -= w.pair_penalty
            named, ending, code, header = shapes.get((unit.doc_id, unit.start, unit.end)) or shape(unit.text)
            # the label, not the page, is asked: in full ("Editor:") more than in part ("New documentation translations:")
            if named is not None:
                asked = (named & q_terms) - title
                if asked:
                    score += w.label_bonus * len(asked) / len(named)
            if ending == "?":
                score -= w.question_penalty
            elif ending == ":":
                score -= w.lead_in_penalty
            elif named is None and (header or outline.is_heading(unit.end)):
                score -= w.heading_penalty
            if code:
                score -= w.code_penalty
            if wants:  # it holds the kind of answer asked for, or it only refers to it ("two companies")
                score += w.type_bonus if direct.find(wants, unit.text, query) else -w.type_bonus
            ranked.append((score, unit))
        # A pair whose second sentence continues the first ("They are ...") is worth at least
        # its first sentence alone: quoting the continuation completes the answer.
        firsts = {(u.doc_id, u.start): sc for sc, u in ranked if not u.pair}
        ranked = [
            (max(sc, firsts.get((u.doc_id, u.start), sc) + 0.001) if u.leans_back else sc, u) for sc, u in ranked
        ]
        ranked.sort(key=lambda x: -x[0])
        return ranked

    def _unit_vectors(self, units: list[Unit], evidence: Evidence) -> np.ndarray:
        """Sentence vectors stored at ingest (embedded now only if missing); a pair of sentences
        is the normalised sum of its two, which ranks like embedding the pair, at no cost."""
        at: dict[tuple[str, int, int], int] = {}  # each sentence's row, in the order first met
        first, second = [], []  # each unit's sentence rows (-1: it has one)
        for u in units:
            if u.pair:
                first.append(at.setdefault((u.doc_id, u.start, u.first_end), len(at)))
                second.append(at.setdefault((u.doc_id, u.second_start, u.end), len(at)))
            else:
                first.append(at.setdefault((u.doc_id, u.start, u.end), len(at)))
                second.append(-1)
        stored = evidence.sentence_vectors
        missing = [k for k in at if k not in stored]
        fresh = dict(zip(missing, self.embedder.embed([evidence.documents[d].text[s:e] for d, s, e in missing])))
        matrix = np.array([fresh[k] if k in fresh else stored[k] for k in at], dtype=np.float32)  # 3x vstack's speed
        rows, other = np.array(first), np.array(second)
        out = matrix[rows]
        paired = other >= 0
        if paired.any():  # summed and normalised at once: the same bits as row by row
            out[paired] = normalise(matrix[rows[paired]] + matrix[other[paired]])
        return out

    def _choose(self, ranked: Iterable[tuple[float, Unit]]) -> list[Unit]:
        """Quotes in rank order, while they score near the best (read only as far as needed)."""
        best: float | None = None
        chosen: list[Unit] = []
        for score, unit in ranked:
            best = score if best is None else best
            # (a follow-up's mixed score may sit below the threshold its standalone relevance passed)
            floor = max(min(self.min_relevance, best), best * self.scoring.keep_ratio)
            if len(chosen) >= self.max_citations or score < floor:
                break
            if any(c.doc_id == unit.doc_id and c.text == unit.text for c in chosen):
                continue  # the same words elsewhere in the page ("json.dump" and "json.dumps" share a paragraph)
            overlaps = [i for i, c in enumerate(chosen)
                        if c.doc_id == unit.doc_id and c.start < unit.end and unit.start < c.end]
            if not overlaps:
                chosen.append(unit)
            elif unit.pair and len(overlaps) == 1 and not chosen[overlaps[0]].pair:
                # two sentences that both score well, the quoted one and its neighbour: quote both
                single = chosen[overlaps[0]]
                chosen[overlaps[0]] = replace(unit, focus=(single.start, single.end))
        return chosen


def compose(
    question: str, wants: str | None, citations: list[Citation], documents, same_fact_overlap: float,
    focus: tuple[int, int] | None = None,
) -> str:
    """The answer text: the direct line (when the best quote holds the kind of answer asked for),
    then one line per fact, each naming every outlet that states it."""
    groups: list[list[int]] = []
    keys = [_fact_key(wants, c, question) for c in citations]
    for i, c in enumerate(citations):
        for group in groups:
            lead = citations[group[0]]
            if lead.doc_id != c.doc_id and _same_fact(keys[group[0]], keys[i], lead, c, same_fact_overlap):
                group.append(i)
                break
        else:
            groups.append([i])
    lines = []
    best = citations[0]
    lo, hi = focus or (0, len(best.quote))  # the direct line comes from the sentence that ranked best
    span = direct.line(wants, best.quote[lo:hi], question)
    span = (span[0] + lo, span[1] + lo) if span else None
    if span:
        marks = "".join(f"[{i + 1}]" for i in groups[0])
        lines.append(f"{best.quote[span[0]:span[1]]} {marks}")
    for group in groups:
        lead = citations[group[0]]
        marks = "".join(f"[{i + 1}]" for i in group)
        labels = [source_label(documents[citations[i].doc_id]) for i in group]
        who = f"Reported by {join_names(labels, 'and')}" if len(group) > 1 else labels[0]
        lines.append(f"{who}: {quoted(lead.quote)} {marks}")
    return "\n".join(lines)


def _fact_key(wants: str | None, c: Citation, question: str) -> str | None:
    span = direct.find(wants, c.quote, question)
    return direct.value_key(wants, c.quote[span[0]:span[1]]) if span else None


def _same_fact(key_a, key_b, a: Citation, b: Citation, overlap: float) -> bool:
    """Two quotes state the same fact: the same answer value, or mostly the same content words."""
    if key_a and key_b:
        return key_a == key_b
    ta, tb = set(terms(a.quote)), set(terms(b.quote))
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) >= overlap

