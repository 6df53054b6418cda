"""The public API stays small and importable without loading models."""

from __future__ import annotations

import subprocess
import sys

import rag


def test_exported_names():
    assert sorted(rag.__all__) == sorted(
        ["Answer", "Assistant", "Chunk", "Citation", "Delta", "ConfigError", "CorpusError", "Document", "Event",
         "ModelUnavailable", "ProviderError", "QuestionError", "RagError", "Reset", "Settings", "Status", "StoreError",
         "Turn"]
    )
    for name in rag.__all__:
        assert hasattr(rag, name)


def test_importing_rag_loads_no_model_and_opens_no_store():
    code = "import sys, rag; rag.Assistant(); print('torch' in sys.modules, 'chromadb' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
