"""The errors the assistant raises; each message says what to do about it.

    RagError
     ├── ConfigError      a setting is missing or contradictory
     ├── CorpusError      an article file cannot be read (names the file)
     ├── StoreError       the Chroma store cannot be opened, read or written
     ├── QuestionError    the question is empty or too long
     └── ProviderError    an embedding or language model failed
          └── ModelUnavailable   the endpoint is down, slow or refusing (fallback is possible)
"""

from __future__ import annotations


class RagError(Exception):
    """Base class: everything the assistant raises on purpose."""


class ConfigError(RagError):
    """A setting is missing or contradictory."""


class CorpusError(RagError):
    """An article file is unreadable, empty, binary or not UTF-8; `path` names it."""

    def __init__(self, message: str, path: object = None) -> None:
        super().__init__(message)
        self.path = path


class StoreError(RagError):
    """The vector store cannot be opened, read or written."""


class QuestionError(RagError):
    """The question cannot be answered as asked (empty, too long)."""


class ProviderError(RagError):
    """A model provider failed in a way retrying will not fix (bad key, unknown model)."""


class ModelUnavailable(ProviderError):
    """The model endpoint is down, timed out or kept refusing; the offline answer can stand in."""
