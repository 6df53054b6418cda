"""Turning a follow-up question into one that stands alone, without a model."""

from __future__ import annotations

import re

from .types import Turn

_ANAPHORA = re.compile(
    r"\b(?:they|them|their|theirs|it|its|that|those|these|this|he|him|his|she|her|hers|there|"
    r"former|latter|same|such|first|second|third|last|other|others|both|either|neither|each|"
    r"the (?:company|companies|country|official|officials|article|report|firm|firms|one|ones|two|three))\b",
    re.I,
)
_OPENERS = re.compile(r"^\s*(?:and|but|also|so|what about|how about|why|who else|what else)\b", re.I)


def needs_context(question: str) -> bool:
    """True when the question leans on the conversation ("What do they make?", "And the AP?")."""
    return bool(_ANAPHORA.search(question) or _OPENERS.search(question) or len(question.split()) <= 3)


def standalone_offline(question: str, history: tuple[Turn, ...] | list[Turn]) -> str:
    """Prefix a follow-up with the last user question, so retrieval and scoring see what its
    pronouns point at. (The last answer is left out: its words would pull the same quotes back.)"""
    if not history or not needs_context(question):
        return question
    last_user = next((t.content for t in reversed(history) if t.role == "user"), "")
    return f"{last_user} {question}".strip()
