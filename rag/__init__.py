"""rag: answers questions about news articles, backing every answer with verbatim quotes.

    from rag import Assistant
    answer = Assistant().ask("What share of Russia's microelectronics came from China in 2023?")
"""

from .assistant import Assistant
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
