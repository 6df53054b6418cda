"""The local model: its ONNX export and the int8 graph built from it. A damaged file is made
again rather than silently replaced by the slow path on every run, and the int8 vectors stay
within cosine MIN_COSINE of the full model's on real text."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from rag.config import BUNDLED_CORPUS
from rag.corpus import read_document
from rag.embed import MiniLMEmbedder
from rag.embed.quantise import MIN_COSINE
from rag.sentences import sentence_spans

from .test_text import PYDOCS


def _sentences() -> list[str]:
    paths = sorted(BUNDLED_CORPUS.glob("*")) + sorted(PYDOCS.glob("*.html"))
    out = []
    for path in paths:
        doc = read_document(path)
        out += [doc.text[s:e] for s, e in sentence_spans(doc.text)]
    return list(dict.fromkeys(out))


@pytest.mark.slow
def test_int8_vectors_stay_within_the_bar_of_the_full_models_on_real_text(minilm, model_cache):
    """Every sentence of the bundled news and the docs eval pages (short code lines included)."""
    texts = _sentences()
    assert len(texts) > 2000
    full = MiniLMEmbedder(cache_dir=model_cache, precision="fp32")
    assert (minilm.name, full.name) == ("all-MiniLM-L6-v2-int8", "all-MiniLM-L6-v2")  # never one collection
    cosines = (minilm.embed(texts) * full.embed(texts)).sum(1)
    assert cosines.min() >= MIN_COSINE, texts[int(np.argmin(cosines))]


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_a_truncated_model_file_is_made_again(minilm, tmp_path, precision):
    text = "The harbour reopened on Monday."
    reference = MiniLMEmbedder(cache_dir=minilm.cache_dir, precision=precision).embed([text])[0]
    cache = tmp_path / "models"
    shutil.copytree(minilm.cache_dir, cache)
    files = sorted(cache.glob("*.onnx"), key=lambda p: "int8" in p.name)  # the export, then the int8 graph
    damaged = files[-1] if precision == "int8" else files[0]
    size = damaged.stat().st_size
    with open(damaged, "r+b") as f:
        f.truncate(size // 3)
    fresh = MiniLMEmbedder(cache_dir=cache, precision=precision)
    vector = fresh.embed([text])[0]
    assert fresh._model is None  # the fast path, not the sentence-transformers fallback
    assert damaged.stat().st_size == size
    assert np.abs(vector - reference).max() < 1e-5


def test_a_question_runs_on_all_cores_and_an_ingest_one_single_threaded_batch_per_core(model_cache):
    """A call that is one batch (a question) runs on a multi-threaded session, the only one a
    process that just answers opens; a call of several batches opens a single-threaded one and
    runs its batches side by side. A question's vector is the same bits either way."""
    question = "Which companies sent machine tools to Russia?"
    two = MiniLMEmbedder(cache_dir=model_cache, single_run_threads=2)
    one = MiniLMEmbedder(cache_dir=model_cache, single_run_threads=1)
    assert np.array_equal(two.embed([question]), one.embed([question]))
    assert list(two._sessions) == [2] and list(one._sessions) == [1]
    assert two._sessions[2].get_session_options().intra_op_num_threads == 2
    # its threads stop spinning when a run returns (else they burn a core between questions)
    assert two._sessions[2].get_session_options().get_session_config_entry("session.force_spinning_stop") == "1"
    texts = _sentences()[:120]
    assert len(two.plan(texts)) > 1
    assert np.array_equal(two.embed(texts), one.embed(texts))  # batches: single-threaded in both
    assert sorted(two._sessions) == [1, 2]
    assert two._sessions[1].get_session_options().intra_op_num_threads == 1
    assert two.factory()().single_run_threads == 1  # an ingest's child: one session, runs beside the parsing


def test_the_precision_is_checked():
    with pytest.raises(ValueError, match="int8 or fp32"):
        MiniLMEmbedder(precision="fp16")


@pytest.mark.slow
def test_an_int8_graph_outside_the_bar_is_refused_once_and_the_full_model_used(minilm, tmp_path, monkeypatch):
    """As on a runtime whose int8 sums saturate: the check refuses the graph, remembers it, and the
    full model (whose vectors meet the bar by definition) runs instead."""
    import rag.embed.onnx as onnx_module

    text = "The harbour reopened on Monday."
    cache = tmp_path / "models"
    cache.mkdir()
    export = next(p for p in minilm.cache_dir.glob("*.onnx") if "int8" not in p.name)
    shutil.copy(export, cache / export.name)
    monkeypatch.setattr(onnx_module, "MIN_COSINE", 1.01)  # a bar no quantised graph clears
    vector = MiniLMEmbedder(cache_dir=cache).embed([text])[0]
    full = MiniLMEmbedder(cache_dir=minilm.cache_dir, precision="fp32").embed([text])[0]
    assert np.abs(vector - full).max() < 1e-5
    assert list(cache.glob("*.refused")) and not list(cache.glob("*int8*.onnx"))
    monkeypatch.setattr(onnx_module, "quantise", None)  # a later process does not try again
    assert np.abs(MiniLMEmbedder(cache_dir=cache).embed([text])[0] - full).max() < 1e-5


# --- the ingest's embedding process ---------------------------------------------------------------
def test_the_embedding_process_gives_this_process_s_vectors_outlives_ctrl_c_and_ends_with_close(minilm):
    from rag.chunking import normalise
    from rag.embed.process import ProcessEmbedder

    import os
    import signal

    texts = _sentences()[:120] + ["Note", "Note"]
    with ProcessEmbedder(minilm.factory(), minilm.name) as child:
        child.warm_up()
        os.kill(child._child.process.pid, signal.SIGINT)  # Ctrl-C reaches the child too; the parent decides
        got = child.embed(texts)
    np.testing.assert_allclose(normalise(got), normalise(minilm.embed(texts)), atol=1e-5)
    assert child._child.process.poll() == 0


def test_a_failure_in_the_embedding_process_is_a_provider_error(minilm):
    import functools

    from rag.embed.process import ProcessEmbedder
    from rag.errors import ProviderError

    with ProcessEmbedder(functools.partial(MiniLMEmbedder, precision="int4"), "broken") as child:
        with pytest.raises(ProviderError, match="precision must be int8 or fp32"):
            child.embed(["a sentence"])
    with ProcessEmbedder(minilm.factory(), minilm.name) as child:
        child._child.process.kill()
        child._child.process.wait()
        with pytest.raises(ProviderError, match="embedding process stopped"):
            child.embed(["a sentence"])
    with pytest.raises(ProviderError, match="closed"):
        child.embed(["a sentence"])


ORPHAN = """
import os, signal, sys
from rag.embed import MiniLMEmbedder
from rag.embed.process import ProcessEmbedder

child = ProcessEmbedder(MiniLMEmbedder().factory(), "m")
print(child._child.process.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_embedding_process_ends_when_its_parent_is_killed():
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    killed = subprocess.run([sys.executable, "-c", ORPHAN], cwd=root, capture_output=True, text=True, timeout=60)
    assert killed.returncode == -9
    status = Path(f"/proc/{int(killed.stdout.split()[0])}/status")
    deadline = time.monotonic() + 30
    while status.exists() and "\nState:\tZ" not in status.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not status.exists() or "\nState:\tZ" in status.read_text()
