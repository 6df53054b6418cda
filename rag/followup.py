"""Turning a follow-up question into one that stands alone: the offline rewrite, and the check a
model's rewrite must pass before it replaces it."""

from __future__ import annotations

import re

from . import prompts
from .sentences import QUESTION_WORDS, terms
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


_TEMPLATE = re.compile(prompts.TEMPLATE_TOKENS, re.I)
_ROLE = re.compile(r"^\s*(?:user|assistant|system|model|question|last question|rewritten(?: question)?)\s*:\s*", re.I)
MAX_REWRITE_CHARS = 600


def clean_rewrite(reply: str) -> str:
    """The first non-empty line of a model's rewrite, without a role label or wrapping quotes."""
    line = next((ln for ln in reply.splitlines() if ln.strip()), "")
    return _ROLE.sub("", line).strip().strip("\"'“”‘’").strip()


def rewrite_problem(rewrite: str, question: str, history: tuple[Turn, ...] | list[Turn], prompt: str) -> str | None:
    """Why a model's rewrite of a follow-up cannot be used, or None when it can: it must be a
    question of its own, not an echo of the prompt or a template token, and about the same things."""
    if not rewrite:
        return "empty"
    if len(rewrite) > MAX_REWRITE_CHARS:
        return "too long"
    if _TEMPLATE.search(rewrite):
        return "template tokens"
    folded = _fold(rewrite)
    if folded == _fold(question):
        return "the question unchanged"
    instructions = [_fold(ln) for ln in prompt.splitlines() if len(ln.strip()) > 15 and not _fold(ln).startswith(
        ("user", "assistant", "last question"))]
    if any(folded in ln or ln in folded for ln in instructions):
        return "an echo of the prompt"
    asked, rewritten = set(terms(question)), set(terms(rewrite))
    earlier = set().union(*(terms(t.content) for t in history)) if history else set()
    if not rewritten & (asked | earlier):
        return "no word in common with the conversation"
    if len(asked & rewritten) < KEEP_SHARE * len(asked) or not _asks(question) <= _asks(rewrite):
        return "drops what the question asks"
    if history and not (rewritten - asked) & earlier:
        return "takes nothing from the conversation"
    return None


KEEP_SHARE = 2 / 3  # of the follow-up's content words a rewrite keeps ("make" may become "manufacture")


def _asks(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if w in QUESTION_WORDS}


def _fold(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .?!:")
