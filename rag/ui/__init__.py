"""`rag chat`: a Gradio chat whose answers keep their own numbered, verbatim quotes, each opening its article."""

from __future__ import annotations

import os
import sys

# Before gradio is imported: no analytics, no version check, nothing leaves the machine.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ..assistant import Assistant  # noqa: E402
from ..config import Settings  # noqa: E402
from .app import build_app, respond  # noqa: E402
from .server import ChatServer, launch  # noqa: E402

__all__ = ["build_app", "launch", "main", "respond", "ChatServer"]


def main(args) -> int:
    settings = Settings()
    host = args.host or settings.chat_host
    port = args.port or settings.chat_port
    assistant = Assistant(settings)
    print("Loading the articles and the embedding model…", file=sys.stderr)
    docs = assistant.documents()  # ingests the corpus on first use
    assistant.embedder.embed(["warm up"])
    print(f"{len(docs)} articles ready. Open http://{host}:{port} in a browser (Ctrl+C stops).", file=sys.stderr)
    launch(assistant, host, port, allow_remote=args.allow_remote, block=True)
    return 0
