"""Shared fixtures: no network, a store per test, and the real embedding model loaded once."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from rag import Assistant, Settings  # noqa: E402
from rag.embed import MiniLMEmbedder  # noqa: E402

from . import chroma_server  # noqa: E402
from .fakes import HashEmbedder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT.parent / "shared" / "seeds" / "000_c843986170d10e7e.txt"


def _is_local(address) -> bool:
    if isinstance(address, tuple):
        host = address[0]
    else:
        return True  # unix sockets
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any connection to something other than loopback fails the test."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded(self, address):
        if not _is_local(address):
            raise AssertionError(f"test tried to reach the network: {address}")
        return real_connect(self, address)

    def guarded_ex(self, address):
        if not _is_local(address):
            raise AssertionError(f"test tried to reach the network: {address}")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_ex)
    yield


# Kept for the whole session (and passed to the CLI's processes): the model is exported to ONNX once.
SESSION_KEYS = ("RAG_MODEL_CACHE_DIR", "RAG_TEST_CHROMA_URL")


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory) -> Path:
    """One ONNX export for the whole test session, whatever data folder a test uses."""
    folder = os.environ.get("RAG_MODEL_CACHE_DIR") or str(tmp_path_factory.mktemp("models"))
    os.environ["RAG_MODEL_CACHE_DIR"] = folder
    return Path(folder)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """Tests never pick up a developer's model endpoint or store."""
    for key in list(os.environ):
        if (key.startswith("RAG_") and key not in SESSION_KEYS) or key in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
            monkeypatch.delenv(key, raising=False)


def pytest_collection_modifyitems(config, items):
    """Markers for choosing a subset: `browser` (headless Chromium), `slow` (processes, servers,
    the real model on many texts). The quick subset: pytest -m "not slow and not browser"."""
    for item in items:
        name = item.nodeid
        if "test_ui_browser" in name:
            item.add_marker(pytest.mark.browser)
        if any(part in name for part in SLOW):
            item.add_marker(pytest.mark.slow)


SLOW = ("test_cli.py", "test_concurrency.py", "test_scale.py::test_server_mode", "test_evals.py",
        "test_ingest.py::test_a_killed")


@pytest.fixture(scope="session")
def minilm(model_cache) -> MiniLMEmbedder:
    return MiniLMEmbedder(cache_dir=model_cache)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def hash_assistant(settings) -> Assistant:
    return Assistant(settings, embedder=HashEmbedder())


@pytest.fixture(scope="session")
def bundled(tmp_path_factory, minilm) -> Assistant:
    """The bundled corpus with the real model, ingested once for the answer tests."""
    data = tmp_path_factory.mktemp("bundled")
    assistant = Assistant(Settings(data_dir=data), embedder=minilm)
    assistant.ingest()
    return assistant


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chat_url(tmp_path_factory, minilm):
    """One chat app on the bundled corpus, launched on 127.0.0.1 for the UI tests."""
    from rag.ui import launch

    assistant = Assistant(Settings(data_dir=tmp_path_factory.mktemp("chat")), embedder=minilm)
    port = free_port()
    app = launch(assistant, "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}/"
    app.close()


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    """A `chroma run` server on loopback for one test module (or the one CI names), stopped after it."""
    if os.environ.get("RAG_TEST_CHROMA_URL"):
        yield os.environ["RAG_TEST_CHROMA_URL"]
        return
    proc, url = chroma_server.start(tmp_path_factory.mktemp("chroma-server"))
    yield url
    proc.terminate()
    proc.wait(timeout=30)
