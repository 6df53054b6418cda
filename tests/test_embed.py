"""The local model's ONNX export: a damaged file is exported again rather than silently replaced
by the slow path on every run."""

from __future__ import annotations

import shutil

import pytest

from rag.embed import MiniLMEmbedder


@pytest.mark.slow
def test_a_truncated_onnx_export_is_exported_again(minilm, tmp_path):
    reference = minilm.embed(["The harbour reopened on Monday."])[0]
    exported = next(minilm.cache_dir.glob("*.onnx"))
    cache = tmp_path / "models"
    cache.mkdir()
    shutil.copy(exported, cache / exported.name)
    with open(cache / exported.name, "r+b") as f:
        f.truncate(exported.stat().st_size // 3)
    fresh = MiniLMEmbedder(cache_dir=cache)
    vector = fresh.embed(["The harbour reopened on Monday."])[0]
    assert fresh._model is None  # the fast path, not the sentence-transformers fallback
    assert (cache / exported.name).stat().st_size == exported.stat().st_size
    assert max(abs(a - b) for a, b in zip(vector, reference)) < 1e-5
