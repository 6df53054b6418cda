"""The package's shape: data shipped inside it, no side effects on import, one Answerer protocol,
question checks, and an explicit lifecycle."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import threading

import pytest

from rag import Answer, Assistant, Delta, QuestionError, Settings
from rag.answer.base import Answerer
from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.generative import GenerativeAnswerer
from rag.questions import checked_text
from rag.resources import corpus_dir, evals_dir

from .fakes import HashEmbedder


def test_the_bundled_corpus_and_gold_sets_are_package_data():
    assert corpus_dir() == Settings().corpus_dir
    assert len(list(corpus_dir().glob("*.md"))) == 3
    for name in ("gold.yaml", "gold-pydocs.yaml", "gate.yaml", "baseline-offline.json"):
        assert (evals_dir() / name).is_file()
    assert list((evals_dir() / "corpora" / "pydocs").glob("*.html"))


def test_importing_the_package_and_its_edges_sets_no_environment_and_starts_nothing():
    code = (
        "import os, sys; before = dict(os.environ); import rag, rag.cli, rag.ui, rag.evals.runner; "
        "print(sorted(set(os.environ.items()) ^ set(before.items())), 'torch' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("GRADIO_ANALYTICS_ENABLED", "HF_HUB_OFFLINE")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.split() == ["[]", "False"]


@pytest.mark.parametrize("kind", [ExtractiveAnswerer, GenerativeAnswerer])
def test_every_answerer_has_the_whole_protocol(kind):
    for name in ("answer", "stream", "condense"):
        ours = inspect.signature(getattr(kind, name))
        theirs = inspect.signature(getattr(Answerer, name))
        assert list(ours.parameters) == list(theirs.parameters), name


@pytest.mark.parametrize("question", ["", "   ", None, 42])
def test_an_empty_question_is_refused(question):
    with pytest.raises(QuestionError, match="type a question"):
        checked_text(question, 100)


def test_a_long_question_is_refused_with_its_length_and_the_limit():
    with pytest.raises(QuestionError, match="101 characters long; the limit is 100"):
        checked_text("x" * 101, 100)


def test_a_question_is_put_on_one_line():
    assert checked_text("  What share\n of   Russia's chips? ", 100) == "What share of Russia's chips?"


def test_the_offline_answer_streams_as_one_delta_then_the_answer(tmp_path):
    with Assistant(Settings(data_dir=tmp_path / "data"), embedder=HashEmbedder()) as assistant:
        events = list(assistant.stream("What share of Russia's microelectronics came from China in 2023?"))
    assert [type(e) for e in events] == [Delta, Answer] and events[0].text == events[1].text


def test_a_closed_assistant_opens_the_store_again_on_the_next_question(tmp_path):
    before = set(threading.enumerate())  # other tests' assistants may have search threads of their own
    assistant = Assistant(Settings(data_dir=tmp_path / "data"), embedder=HashEmbedder())
    with assistant as same:
        assert same is assistant
        first = assistant.ask("What share of Russia's microelectronics came from China in 2023?")
    again = assistant.ask("What share of Russia's microelectronics came from China in 2023?")
    assistant.close()
    assert again.text == first.text and again.citations == first.citations
    assert not [t for t in set(threading.enumerate()) - before if t.name.startswith("rag-bm25")]  # close stops its own
