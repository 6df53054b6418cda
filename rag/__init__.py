"""rag: answers questions about news articles, backing every answer with verbatim quotes.

    from rag import Assistant
    answer = Assistant().ask("What share of Russia's microelectronics came from China in 2023?")
"""

from .config import Settings
from .errors import (
    ConfigError,
    CorpusError,
    ModelUnavailable,
    ProviderError,
    QuestionError,
    RagError,
    StoreError,
)
from .types import Answer, Chunk, Citation, Delta, Document, Event, Reset, Status, Turn


def __getattr__(name: str):
    # The Assistant (llama-index, Chroma: 1.4 s of imports) loads on first use, so a process that
    # needs only a part of the package, such as an ingest's embedding process, never pays for it.
    if name == "Assistant":
        from .assistant import Assistant

        return Assistant
    raise AttributeError(f"module 'rag' has no attribute {name!r}")


__all__ = [
    "Answer",
    "Assistant",
    "Chunk",
    "Citation",
    "Delta",
    "ConfigError",
    "CorpusError",
    "Document",
    "Event",
    "ModelUnavailable",
    "ProviderError",
    "QuestionError",
    "RagError",
    "Reset",
    "Settings",
    "Status",
    "StoreError",
    "Turn",
]
