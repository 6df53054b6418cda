"""The chat in the browser: `build_app` makes the Gradio app, `launch` serves it (`rag chat` in rag.cli)."""

from __future__ import annotations

from .app import build_app, respond
from .server import ChatServer, launch

__all__ = ["build_app", "launch", "respond", "ChatServer"]
