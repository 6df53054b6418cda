"""The format of a model's reply, read line by line as it streams: short lines that cite the
numbered sentences of the context ("... in 2023 [S1]."), and the [n] markers put into what is shown."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from .. import prompts
from ..sentences import sentence_spans

MAX_LINES = 4  # lines read from a reply before it is cut: a short answer needs three
MARKS = re.compile(r"\[\s*(S?\s*\d+(?:\s*[,;]\s*S?\s*\d+)*)\s*\]|\(\s*(S\s*\d+(?:\s*[,;]\s*S\s*\d+)*)\s*\)", re.I)
LIST_LEAD = re.compile(r"^\s*(?:[-*•]\s*|\d+[.)]\s+|(?:answer|a)\s*:\s*)", re.I)  # "- ", "1. ", "Answer: "
OPENING_MARK = re.compile(r"\[\s*S\s*(\d+)\s*\]", re.I)
SENTENCE_ENDS = (".", "!", "?", "”", '"', "]", ")")
_TEMPLATE = re.compile(prompts.TEMPLATE_TOKENS, re.I)


def reply_lines(reply: Iterable[str]) -> Iterator[tuple[str, bool]]:
    """(line, ended by a newline) as the reply arrives; the last line comes when the reply ends.
    Reading stops at a blank line after the answer or at a template token after it (the model
    starting a new turn); template lines before any text are skipped."""
    buffer = ""
    seen_text = False
    for piece in reply:
        buffer += piece
        while "\n" in buffer:
            line, buffer = buffer.split("\n", 1)
            if _TEMPLATE.search(line) or not line.strip():
                if seen_text:
                    return
                continue
            seen_text = True
            yield line, True
        if seen_text and _TEMPLATE.search(buffer):
            return
    if buffer.strip() and not _TEMPLATE.search(buffer):
        yield buffer, False


def statements(line: str) -> list[tuple[str, list[int]]]:
    """The sentences of one line with the sentence numbers each cites. Markers that open a
    sentence belong to the one before ("... in 2023. [S1] Next"), except at the line's start."""
    out: list[tuple[str, list[int]]] = []
    for s, e in sentence_spans(line) or [(0, len(line))]:
        sentence = line[s:e]
        lead = re.match(r"\s*(?:(?:\[[^\]]{1,24}\]|\(S[^)]{1,20}\))\s*)+", sentence, re.I)
        if lead and out and cited_numbers(lead.group()):
            out[-1][1].extend(cited_numbers(lead.group()))
            sentence = sentence[lead.end():]
        numbers = cited_numbers(sentence)
        text = MARKS.sub("", sentence).strip()
        text = re.sub(r"\s+([.!?,;:])", r"\1", text)
        if text or numbers:
            out.append((text, numbers))
    return [(text, list(dict.fromkeys(numbers))) for text, numbers in out]


def cited_numbers(text: str) -> list[int]:
    """The sentence numbers that the markers in `text` cite: "[S1, S3]" and "(S2)" give 1, 3, 2."""
    return [int(n) for m in MARKS.finditer(text) for n in re.findall(r"\d+", m.group(1) or m.group(2))]


def with_marks(sentence: str, marks: str) -> str:
    """Put markers before the final full stop: "... in 2023 [1]." """
    sentence = sentence.rstrip()
    m = re.search(r"(?<![.!?])[.!?]$", sentence)
    if m:
        return f"{sentence[: m.start()].rstrip()} {marks}{sentence[m.start():]}"
    return f"{sentence} {marks}."
