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


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """Tests never pick up a developer's model endpoint or store."""
    for key in list(os.environ):
        if key.startswith("RAG_") or key in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
            monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="session")
def minilm(tmp_path_factory) -> MiniLMEmbedder:
    return MiniLMEmbedder(cache_dir=tmp_path_factory.mktemp("models"))


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
