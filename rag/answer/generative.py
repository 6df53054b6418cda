"""The generative answerer: a chat model writes short lines that cite numbered sentences of the
passages, and nothing it writes is shown until its citation is verified.

It is never worse than the offline answerer it is given: the offline answer is computed first
(it takes milliseconds); when it abstains the model is not asked; the quotes it chose always
stay in the answer; and when the model's reply yields no supported statement (unparseable, all
claims removed, cut off, a refusal, too slow, unreachable) the offline answer is shown with a
notice saying why.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from difflib import SequenceMatcher
from dataclasses import dataclass, field, replace

from .. import prompts
from ..citations import claim_supported, cite, locate, normalized
from ..config import Settings
from ..errors import ModelUnavailable
from ..followup import clean_rewrite, rewrite_problem, standalone_offline
from ..llm import ChatModel
from ..sentences import QUESTION_WORDS, STOPWORDS, stem, terms, words
from ..types import Answer, Citation, Delta, Document, Event, Reset, Status, Turn
from .base import Answerer, Evidence, Question, numbered
from .context import Context, budget_chars, build_context
from .reply import LIST_LEAD, MAX_LINES, OPENING_MARK, SENTENCE_ENDS, reply_lines, statements, with_marks

MIN_FOUND_OVERLAP = 0.6  # share of a claim's words a sentence needs to support it when the model cited none
NUMBER_WINDOW = 3  # words on each side of a number in a claim that should stand near it in the quote...
QUOTE_WINDOW = 10  # ...within this many words ("70 per cent of Russia's approximately $900 million in machine tools")
MIN_QUESTION_COVERAGE = 0.3  # share of the question's (idf-weighted) words a cited sentence must contain
MIN_CLAIM_WORDS = 3  # shorter lines without a citation are noise, not removed statements
CONDENSE_TOKENS = 60
ECHO_RATIO = 0.8  # a statement this similar to its whole quote repeats it: the quote is shown alone
CONDENSE_SHARE = 0.25  # of the answer's deadline, for rewriting a follow-up first

_QUOTED = re.compile(r"[\"“]([^\"“”]{12,}?)[\"”]")


class GenerativeAnswerer:
    def __init__(self, model: ChatModel, fallback: Answerer, settings: Settings | None = None) -> None:
        settings = settings or Settings()
        self.model = model
        self.fallback = fallback
        self.timeout = settings.llm_timeout
        self.max_tokens = settings.llm_max_tokens
        self.context_tokens = settings.llm_context_tokens
        self.max_citations = settings.max_citations

    @property
    def mode(self) -> str:
        return self.model.name

    # --- follow-ups ------------------------------------------------------------------------------
    def condense(self, question: str, history: tuple[Turn, ...]) -> str:
        """The question rewritten to stand alone by the model, when its rewrite passes the checks;
        otherwise the offline rewrite."""
        offline = standalone_offline(question, history)
        lines = [f"{t.role}: {' '.join(t.content.split())[:600]}" for t in history[-6:]]
        messages = prompts.condense_messages("\n".join(lines), question)
        deadline = time.monotonic() + self.timeout * CONDENSE_SHARE
        try:
            reply = self.model.stream(messages, max_tokens=CONDENSE_TOKENS, stop=prompts.STOP, deadline=deadline)
            rewrite = clean_rewrite(reply.read())
        except ModelUnavailable:
            return offline
        problem = rewrite_problem(rewrite, question, history, messages[-1]["content"])
        return offline if problem else rewrite

    # --- answering -------------------------------------------------------------------------------
    def answer(self, question: Question, evidence: Evidence) -> Answer:
        final = None
        for event in self.stream(question, evidence):
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final

    def stream(self, question: Question, evidence: Evidence) -> Iterator[Event]:
        """Status while the model writes, each statement once its quote is verified, then the
        Answer. A Reset withdraws what was shown when the offline answer takes over."""
        offline = self.fallback.answer(question, evidence)
        if offline.abstained or not evidence.passages:
            yield Delta(offline.text)
            yield offline  # abstain only when the offline answerer does: the model is not asked
            return
        context = build_context(evidence, offline.citations, self._context_chars())
        draft = Draft(context, evidence, question.standalone, self.max_citations)
        yield Status("Writing…")
        shown = ""
        try:
            reply = self.model.stream(
                prompts.answer_messages(context.text, question.standalone),
                max_tokens=self.max_tokens,
                stop=prompts.STOP,
                deadline=time.monotonic() + self.timeout,
            )
            for line, ended in reply_lines(reply):
                if not ended and reply.truncated and not line.rstrip().endswith(SENTENCE_ENDS):
                    draft.cut_off()  # the token limit cut its last sentence
                    break
                if draft.add(line):
                    piece = draft.summary()[len(shown):]
                    shown += piece
                    yield Delta(piece)
                if draft.done:
                    break
            reply.close()
            yield Status("Checking quotes…")
        except ModelUnavailable as exc:
            yield from self._offline(offline, f"{exc}; this is the offline answer.", bool(shown))
            return
        problem = draft.problem()
        if problem:
            notice = f"The model's answer could not be verified ({problem}); this is the offline answer."
            yield from self._offline(offline, notice, bool(shown))
            return
        answer = draft.answer(offline, self.mode)
        yield Delta(answer.text[len(shown):])
        yield answer

    def _offline(self, offline: Answer, notice: str, shown: bool) -> Iterator[Event]:
        if shown:
            yield Reset("the model's answer is replaced by the offline answer")
        yield Delta(offline.text)
        yield replace(offline, notice=notice)

    def _context_chars(self) -> int:
        return budget_chars(self.context_tokens, self.max_tokens)


@dataclass
class Draft:
    """The statements of one reply that passed verification, with their citations in the order
    first cited (their [n] numbers never change once shown)."""

    context: Context
    evidence: Evidence
    question: str
    max_citations: int
    statements: list[str] = field(default_factory=list)  # shown sentences, with their [n] markers
    citations: list[Citation] = field(default_factory=list)
    unsupported: int = 0  # statements whose cited sentence does not state them
    uncited: int = 0  # statements citing nothing that could be found
    lines: int = 0
    cut: bool = False
    rambling: bool = False
    refused: bool = False
    kept: int = 0

    @property
    def done(self) -> bool:
        return self.kept >= self.max_citations or self.lines >= MAX_LINES or self.rambling

    def summary(self) -> str:
        return " ".join(self.statements)

    def add(self, line: str) -> bool:
        """Verify one line of the reply; True when it added a sentence to the summary."""
        line = LIST_LEAD.sub("", line).strip()
        if not line:
            return False
        self.lines += 1
        if prompts.NOT_IN_ARTICLES in line.upper().replace(" ", "_"):
            self.refused = True
            return False
        opening = OPENING_MARK.match(line)
        if opening and int(opening.group(1)) > len(self.context.sentences):
            self.rambling = True  # it numbers sentences of its own: this line may stand, no more are read
        added = False
        for text, numbers in statements(line):
            added |= self._add(text, numbers)
        return added

    def _add(self, text: str, numbers: list[int]) -> bool:
        docs = self.evidence.documents
        cited = [c for c in (self.context.citation(n, docs) for n in numbers) if c is not None]
        support = cited or [c for c in (self._located(q) for q in _QUOTED.findall(text) or [text]) if c]
        if text:
            support = [c for c in support if claim_supported(text, [c], docs, strict=False)]
            if not support or not _stated(text, support, self.evidence):
                support = self._supporting_sentence(text)  # a wrong or missing number
        if not support or not self._about_question(support):
            if cited:
                self.unsupported += 1
            elif len(text.split()) >= MIN_CLAIM_WORDS:
                self.uncited += 1
            return False
        self.kept += 1
        marks = "".join(dict.fromkeys(f"[{self._number(c)}]" for c in support))
        if not text or _echoes(text, support):
            return False  # the quote says it in its own words: it is listed, not repeated
        self.statements.append(with_marks(text, marks))
        return True

    def _supporting_sentence(self, text: str) -> list[Citation]:
        """The sentence of the context that states the claim, when the model cited a wrong number
        or none: most of the claim's words, all its numbers and names must be in it."""
        claim = set(terms(text))
        if len(claim) < MIN_CLAIM_WORDS:
            return []
        best, best_overlap = None, 0.0
        for n in self.context.sentences:
            c = self.context.citation(n, self.evidence.documents)
            overlap = len(claim & set(terms(c.quote))) / len(claim) if c else 0.0
            if overlap > best_overlap:
                best, best_overlap = c, overlap
        if best is None or best_overlap < MIN_FOUND_OVERLAP:
            return []
        return [best] if _stated(text, [best], self.evidence) else []

    def _about_question(self, support: list[Citation]) -> bool:
        """The quotes cover enough of the question's words, weighted by rarity (a sentence that
        shares only "China" with the question is not an answer to it)."""
        asked = {t for t in terms(self.question) if t not in QUESTION_WORDS}
        if not asked:
            return True
        quoted = set(terms(" ".join(c.quote for c in support)))
        idf = self.evidence.stats.idf
        total = sum(idf(t) for t in asked) or 1.0
        return sum(idf(t) for t in asked & quoted) / total >= MIN_QUESTION_COVERAGE

    def _number(self, citation: Citation) -> int:
        if citation not in self.citations:
            self.citations.append(citation)
        return self.citations.index(citation) + 1

    def _located(self, words: str) -> Citation | None:
        """Words copied from the passages instead of a sentence number: found where they stand."""
        if len(words.split()) < 5:
            return None
        for doc_id in self.context.doc_ids:
            doc: Document = self.evidence.documents[doc_id]
            span = locate(words, doc.text)
            if span:
                return cite(doc, *span)
        return None

    def cut_off(self) -> None:
        self.cut = True
        self.uncited += 1

    def problem(self) -> str | None:
        """Why the reply cannot stand, or None."""
        if self.kept:
            return None
        if self.refused:
            return "the model found no answer in the articles, but the offline answerer did"
        if self.cut and not self.lines:
            return "the reply was cut off before its first complete statement"
        if self.unsupported:
            return "no statement of the model was supported by the sentence it cited"
        return "the reply cited no sentence of the articles"

    def answer(self, offline: Answer, mode: str) -> Answer:
        """The verified statements, then every quote: the model's and the offline answerer's
        (which are never dropped, so the model can only add to what the offline answer says)."""
        citations = list(self.citations)
        added = False
        for o in offline.citations:
            if any(c.doc_id == o.doc_id and c.start <= o.start and o.end <= c.end for c in citations):
                continue
            inside = [
                i for i, c in enumerate(citations) if c.doc_id == o.doc_id and o.start <= c.start and c.end <= o.end
            ]
            if inside:
                citations[inside[0]] = o  # the offline quote is the wider one: it keeps the number
            else:
                citations.append(o)
                added = True
        quotes = numbered(citations, self.evidence.documents)
        text = f"{self.summary()}\n\n{quotes}" if self.statements else quotes
        notice = None
        removed = self.unsupported + self.uncited
        if removed:
            notice = f"{removed} statement(s) of the model were removed: no quote from the articles supported them."
        return Answer(
            text=text,
            citations=citations,
            abstained=False,
            mode=f"{mode} + offline quotes" if added else mode,
            notice=notice,
            passages=self.evidence.passages,
        )


def _stated(claim: str, quotes: list[Citation], evidence: Evidence) -> bool:
    """claim_supported, and each number of the claim stands among the same (rarity-weighted) words in
    a quote: "90% of machine tools" is not what "90 per cent of microelectronics ... 70 per cent of
    machine tools" says."""
    if not claim_supported(claim, quotes, evidence.documents):
        return False
    idf = evidence.stats.idf
    quoted = [_tokens(c.quote) for c in quotes]
    said = _tokens(claim)
    for i, token in enumerate(said):
        if not token[:1].isdigit():
            continue
        near = _content(said[max(0, i - NUMBER_WINDOW) : i + NUMBER_WINDOW + 1])
        total = sum(idf(t) for t in near)
        if near and not any(
            sum(idf(t) for t in near & _content(q[max(0, j - QUOTE_WINDOW) : j + QUOTE_WINDOW + 1]))
            >= total / 2
            for q in quoted for j, other in enumerate(q) if other == token
        ):
            return False
    return True


def _tokens(text: str) -> list[str]:
    return words(text.replace(",", ""))


def _content(tokens: list[str]) -> set[str]:
    return {stem(t) for t in tokens if t not in STOPWORDS and not t[:1].isdigit()}


def _echoes(text: str, support: list[Citation]) -> bool:
    """The statement is the quoted sentence itself (a fragment of it is a summary, and stays)."""
    folded = normalized(text).rstrip(".!?")
    return any(SequenceMatcher(None, folded, normalized(c.quote).rstrip(".!?")).ratio() >= ECHO_RATIO for c in support)
