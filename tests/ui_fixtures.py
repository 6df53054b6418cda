"""Helpers shared by the chat tests: a corpus with an article full of markup, a scripted answerer
that streams every kind of event, and the launched app."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag import Assistant, Settings
from rag.answer.base import Evidence, Question
from rag.followup import standalone_offline
from rag.types import Answer, Citation, Delta, Reset, Status

from .conftest import ROOT, free_port

MARKUP_ID = "markup-zebra-council"
MARKUP_ARTICLE = """---
title: Zebra council <img src=x-title> report <b>bold</b>
outlet: <svg onload="window.pwned=2">Evil Outlet</svg>
published: 2024-05
url: javascript:window.pwned=3
---
The zebra council met on Tuesday in the old barn near the river.

The zebra council chair said <img src=x-quote onerror="window.pwned=1"> and <script>window.pwned=4</script> were found in the barn, next to an <svg><circle r="5"/></svg> logo and the braces ${value} and {{value}}.

Nobody else spoke at the zebra council meeting.
"""
MARKUP_QUESTION = "What did the zebra council chair say was found in the barn?"


def corpus_with_markup(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in (ROOT / "corpus").glob("*.md"):
        shutil.copy(path, folder / path.name)
    (folder / f"{MARKUP_ID}.md").write_text(MARKUP_ARTICLE, encoding="utf-8")
    return folder


@contextmanager
def running_chat(assistant: Assistant) -> Iterator[str]:
    from rag.ui import launch

    server = launch(assistant, "127.0.0.1", free_port(), block=False)
    try:
        yield server.url
    finally:
        server.close()


class ScriptedAnswerer:
    """Streams Status, Delta, Reset, Delta, Status, then an Answer quoting the first retrieved sentence."""

    mode = "scripted"

    def answer(self, question: Question, evidence: Evidence) -> Answer:
        return [e for e in self.stream(question, evidence) if isinstance(e, Answer)][0]

    def condense(self, question: str, history) -> str:
        return standalone_offline(question, history)

    def stream(self, question: Question, evidence: Evidence):
        chunk = evidence.passages[0]
        start, end = chunk.sentences[0]
        doc = evidence.documents[chunk.doc_id]
        yield Status("Writing…")
        yield Delta("A first draft ")
        yield Reset("The model timed out; starting again.")
        yield Delta("The article says so [1].")
        yield Status("Checking quotes…")
        citation = Citation(chunk.doc_id, doc.title, doc.text[start:end], start, end)
        yield Answer("The article says so [1]. <b>not bold</b> [7]", [citation], mode=self.mode,
                     notice="One statement was removed: no quote supported it.")


def settings_for(tmp: Path, **extra) -> Settings:
    return Settings(data_dir=tmp / "data", corpus_dir=corpus_with_markup(tmp / "corpus"), **extra)
