"""The command line, run as a user runs it: a real process, a real store in a temp folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def run(tmp_path, *args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_") and not k.startswith("OPENAI_")}
    env.update({"RAG_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"})
    if os.environ.get("RAG_MODEL_CACHE_DIR"):  # the session's one ONNX export
        env["RAG_MODEL_CACHE_DIR"] = os.environ["RAG_MODEL_CACHE_DIR"]
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "rag", *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli")
    result = run(path, "ingest")
    assert result.returncode == 0, result.stderr
    assert "3 added" in result.stdout
    return path


def test_ask_json_prints_answer_and_exact_citations(store_dir):
    result = run(store_dir, "ask", "--json", "How much did trade between China and Russia reach in 2023?")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= {"text", "abstained", "citations"}
    assert "$240 billion" in data["text"] and not data["abstained"]
    from rag.corpus import load_documents
    from rag.config import BUNDLED_CORPUS

    texts = {d.doc_id: d.text for d in load_documents([BUNDLED_CORPUS]).documents}
    for c in data["citations"]:
        assert set(c) == {"doc_id", "title", "quote", "start", "end"}
        assert texts[c["doc_id"]][c["start"] : c["end"]] == c["quote"]


def test_ask_prints_numbered_quotes_for_a_person(store_dir):
    result = run(store_dir, "ask", "Who", "is", "Liu", "Pengyu?")
    assert result.returncode == 0, result.stderr
    assert "[1]" in result.stdout and "Sources:" in result.stdout and "Liu Pengyu" in result.stdout


def test_reingest_is_a_no_op_and_bad_input_exits_nonzero(store_dir, tmp_path):
    again = run(store_dir, "ingest")
    assert again.returncode == 0 and "0 chunks embedded" in again.stdout
    empty = run(store_dir, "ask", "   ")
    assert empty.returncode == 1 and "Please type a question" in empty.stderr
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\x00\x01")
    skipped = run(store_dir, "ingest", str(bad))
    assert skipped.returncode == 1 and "bad.txt" in skipped.stderr
    missing = run(store_dir, "ingest", str(tmp_path / "nope"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_a_clashing_id_is_refused_and_rebuild_repairs_a_corrupt_store(store_dir, tmp_path):
    from rag.config import BUNDLED_CORPUS

    other = tmp_path / "other"
    other.mkdir()
    name = next(BUNDLED_CORPUS.glob("cnn-*.md")).name
    (other / name).write_text("Another article\n\nSame file name, different source.\n", encoding="utf-8")
    refused = run(store_dir, "ingest", str(other))
    assert refused.returncode == 1 and "refused:" in refused.stderr and "--replace" in refused.stderr

    fresh = tmp_path / "fresh"
    assert run(fresh, "ingest", str(other)).returncode == 0
    (fresh / "data" / "chroma" / "chroma.sqlite3").write_bytes(b"not a database" * 100)  # its message: test_store
    rebuilt = run(fresh, "ingest", "--rebuild")
    assert rebuilt.returncode == 0 and "1 added" in rebuilt.stdout, rebuilt.stderr
