"""The generative answerer: a chat model writes the answer, and every quote it gives is located
in the sources before anyone sees it. Claims left without a verified quote are removed."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .. import prompts
from ..citations import claim_supported, cite, locate
from ..llm import ChatModel
from ..sentences import sentence_spans
from ..types import Answer, Citation, Delta, Document, Turn
from .base import CANNOT_ANSWER, Evidence, Question, abstain

_QUOTES_HEADER = re.compile(r"^\s*(?:\*\*)?\s*(?:QUOTES|SOURCES|CITATIONS)\s*:?\s*(?:\*\*)?\s*$", re.I | re.M)
_ANSWER_HEADER = re.compile(r"^\s*(?:\*\*)?\s*ANSWER\s*:?\s*(?:\*\*)?\s*", re.I)
_QUOTE_LINE = re.compile(
    r"^\s*[-*]?\s*\[(\d+)\]\s*(?:\(?\s*(?:P|passage\s*)(\d+)\s*\)?)?\s*[:\-–—]?\s*(.+?)\s*$", re.I
)
_MARKERS = re.compile(r"(?:\s*\[\d+(?:\s*,\s*\d+)*\])+")
_NUMBER = re.compile(r"\d+")


class GenerativeAnswerer:
    def __init__(self, model: ChatModel) -> None:
        self.model = model
        self.mode = model.name

    # --- follow-ups ------------------------------------------------------------------------------
    def condense(self, question: str, history: tuple[Turn, ...]) -> str:
        """The question rewritten to stand alone, by the model."""
        lines = [f"{t.role}: {_MARKERS.sub('', t.content)[:600]}" for t in history[-6:]]
        prompt = prompts.CONDENSE.format(history="\n".join(lines), question=question)
        text = "".join(self.model.stream([{"role": "user", "content": prompt}], max_tokens=120)).strip()
        text = text.splitlines()[0].strip().strip('"') if text else ""
        return text if 3 <= len(text) <= 600 else question

    # --- answering -------------------------------------------------------------------------------
    def answer(self, question: Question, evidence: Evidence) -> Answer:
        final = None
        for event in self.stream(question, evidence):
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final

    def stream(self, question: Question, evidence: Evidence) -> Iterator[Delta | Answer]:
        """Yield the answer text as the model writes it (up to its quote list), then the verified Answer."""
        if not evidence.passages:
            yield abstain(self.mode)
            return
        messages = [
            {"role": "system", "content": prompts.SYSTEM},
            {"role": "user", "content": prompts.USER.format(
                passages=_passages(evidence), question=question.standalone)},
        ]
        raw = ""
        shown = 0
        for piece in self.model.stream(messages):
            raw += piece
            visible = _visible_answer(raw)
            if len(visible) > shown:
                yield Delta(visible[shown:])
                shown = len(visible)
        yield self._verified(raw, evidence, truncated=getattr(self.model, "truncated", False))

    def _verified(self, raw: str, evidence: Evidence, truncated: bool) -> Answer:
        body, quotes = _parse(raw)
        if prompts.NOT_IN_ARTICLES in raw and not quotes:
            return abstain(self.mode, CANNOT_ANSWER, evidence.passages)
        located = {n: self._locate(passage, text, evidence) for n, (passage, text) in quotes.items()}
        citations: list[Citation] = []
        kept: list[str] = []
        dropped = 0
        claims = _claims(body)
        if truncated and claims and not claims[-1][0].rstrip().endswith((".", "!", "?", "”", '"')):
            claims = claims[:-1]  # the last sentence was cut off mid-way
            dropped += 1
        for sentence, numbers in claims:
            support = [c for c in (located.get(n) for n in numbers) if c is not None]
            support = [c for c in support if claim_supported(sentence, [c], evidence.documents, strict=False)]
            if not support or not claim_supported(sentence, support, evidence.documents):
                dropped += 1
                continue
            marks = []
            for c in support:
                if c not in citations:
                    citations.append(c)
                mark = f"[{citations.index(c) + 1}]"
                if mark not in marks:
                    marks.append(mark)
            kept.append(_with_marks(sentence, "".join(marks)))
        if not kept:
            return abstain(self.mode, CANNOT_ANSWER, evidence.passages)
        notice = None
        if dropped:
            notice = f"{dropped} statement(s) of the model were removed: no quote from the articles supported them."
        return Answer(
            text=" ".join(kept),
            citations=citations,
            abstained=False,
            mode=self.mode,
            notice=notice,
            passages=evidence.passages,
        )

    def _locate(self, passage: int | None, quote: str, evidence: Evidence) -> Citation | None:
        """Find the quote in the passage it names, else in any retrieved document; the citation
        always names the document the words really come from."""
        order: list[Document] = []
        if passage is not None and 1 <= passage <= len(evidence.passages):
            order.append(evidence.documents[evidence.passages[passage - 1].doc_id])
        for p in evidence.passages:
            doc = evidence.documents.get(p.doc_id)
            if doc is not None and doc not in order:
                order.append(doc)
        for doc in order:
            span = locate(quote, doc.text)
            if span:
                return cite(doc, *span)
        return None


def _passages(evidence: Evidence) -> str:
    out = []
    for n, p in enumerate(evidence.passages, 1):
        title = evidence.documents[p.doc_id].title.replace('"', "'")
        out.append(prompts.PASSAGE.format(n=n, title=title, text=p.text))
    return "\n\n".join(out)


def _visible_answer(raw: str) -> str:
    """What to show while streaming: the answer part, without its header and the quote list."""
    match = _QUOTES_HEADER.search(raw)
    text = raw[: match.start()] if match else raw
    head = text.strip().upper()
    if head and ("ANSWER:".startswith(head) or prompts.NOT_IN_ARTICLES.startswith(head[:16])):
        return ""  # a header or the abstention token still being written: show nothing yet
    text = _ANSWER_HEADER.sub("", text, count=1)
    # hold back a partial header that may still become "QUOTES:"
    last_line = text.rsplit("\n", 1)[-1]
    if last_line and "QUOTES:".startswith(last_line.strip().upper()[:7]) and len(last_line.strip()) < 8:
        text = text[: len(text) - len(last_line)]
    return text.rstrip()


def _parse(raw: str) -> tuple[str, dict[int, tuple[int | None, str]]]:
    """Split the model's reply into answer text and {quote number: (passage, quote text)}."""
    match = _QUOTES_HEADER.search(raw)
    body = raw[: match.start()] if match else raw
    body = _ANSWER_HEADER.sub("", body, count=1).strip()
    quotes: dict[int, tuple[int | None, str]] = {}
    if match:
        for line in raw[match.end() :].splitlines():
            m = _QUOTE_LINE.match(line)
            if m:
                text = m.group(3).strip().strip('"“”').strip()
                if text:
                    quotes[int(m.group(1))] = (int(m.group(2)) if m.group(2) else None, text)
    return body, quotes


def _claims(body: str) -> list[tuple[str, list[int]]]:
    """Sentences of the answer with the quote numbers each cites."""
    out: list[tuple[str, list[int]]] = []
    for s, e in sentence_spans(body):
        sentence = body[s:e]
        lead = re.match(r"\s*(?:\[[\d,\s]+\]\s*)+", sentence)
        if lead and out:  # markers that open a sentence belong to the one before ("2023. [1] Next")
            out[-1][1].extend(_numbers(lead.group()))
            sentence = sentence[lead.end() :]
        text = _MARKERS.sub("", sentence).strip()
        if text:
            out.append((text, _numbers(sentence)))
    return [(text, list(dict.fromkeys(numbers))) for text, numbers in out]


def _with_marks(sentence: str, marks: str) -> str:
    """Put markers before the final full stop: "... in 2023 [1]." """
    sentence = sentence.rstrip()
    m = re.search(r"(?<![.!?])[.!?]$", sentence)
    if m:
        return f"{sentence[: m.start()].rstrip()} {marks}{sentence[m.start():]}"
    return f"{sentence} {marks}"


def _numbers(text: str) -> list[int]:
    return [int(n) for group in re.findall(r"\[([\d,\s]+)\]", text) for n in _NUMBER.findall(group)]
