"""A user's question made ready for retrieval: checked (not empty, not too long), its spacing
tidied, and a follow-up rewritten to stand alone."""

from __future__ import annotations

from collections.abc import Sequence

from .answer.base import Answerer, Question
from .errors import QuestionError, RagError
from .followup import standalone_offline
from .types import Turn


def checked_text(question: object, max_chars: int) -> str:
    """The question on one line; QuestionError when it is empty or longer than `max_chars`."""
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("Please type a question.")
    text = " ".join(question.split())
    if len(text) > max_chars:
        raise QuestionError(f"The question is {len(text)} characters long; the limit is {max_chars}. Please shorten it.")
    return text


def prepare(question: object, history: Sequence[Turn], answerer: Answerer, max_chars: int) -> Question:
    """The checked question and its standalone form: a follow-up is rewritten by the answerer
    (a model, when there is one), and the offline rewrite stands in when that fails."""
    text = checked_text(question, max_chars)
    turns = tuple(history)
    standalone = standalone_offline(text, turns)
    if standalone != text:
        try:
            standalone = answerer.condense(text, turns)
        except RagError:
            pass  # the offline rewrite stands in
    # a follow-up's quotes step back from what the last answer showed (see the offline answerer)
    earlier = next((t.content for t in reversed(turns) if t.role == "assistant"), "") if standalone != text else ""
    return Question(text=text, standalone=standalone, earlier=earlier)
