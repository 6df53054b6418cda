"""Follow-up questions: which ones lean on the conversation, the offline rewrite, and the checks a
model's rewrite must pass before it replaces the offline one."""

from __future__ import annotations

import pytest

from rag import prompts
from rag.followup import clean_rewrite, needs_context, rewrite_problem, standalone_offline
from rag.types import Turn

HISTORY = (
    Turn("user", "Which Chinese companies provide optical components for Russian tanks?"),
    Turn("assistant", "Wuhan Global Sensor Technology [1]."),
)
PROMPT = prompts.condense_messages("user: ...", "What do they make?")[-1]["content"]


@pytest.mark.parametrize(
    "question", ["What do they make?", "And the AP?", "Why?", "What about its exports?", "How about the other two?"]
)
def test_questions_that_lean_on_the_conversation_need_it(question):
    assert needs_context(question)


@pytest.mark.parametrize(
    "question", ["What share of Russia's microelectronics came from China in 2023?", "Who is Liu Pengyu?"]
)
def test_questions_that_stand_alone_do_not(question):
    assert not needs_context(question)


def test_the_offline_rewrite_puts_the_last_user_question_before_the_follow_up():
    assert standalone_offline("What do they make?", HISTORY) == (
        "Which Chinese companies provide optical components for Russian tanks? What do they make?")


def test_a_question_that_stands_alone_or_has_no_history_is_left_as_it_is():
    assert standalone_offline("Who is Liu Pengyu?", HISTORY) == "Who is Liu Pengyu?"
    assert standalone_offline("What do they make?", ()) == "What do they make?"


@pytest.mark.parametrize(
    "reply, cleaned",
    [("Rewritten question: What do the Chinese optics companies make?\nmore", "What do the Chinese optics companies make?"),
     ("\n\n“What do they make?”", "What do they make?"),
     ("user: What does Wuhan Global Sensor make?", "What does Wuhan Global Sensor make?")],
)
def test_a_models_rewrite_is_its_first_line_without_a_label_or_quotes(reply, cleaned):
    assert clean_rewrite(reply) == cleaned


def test_a_rewrite_naming_what_the_pronoun_points_at_passes():
    assert rewrite_problem("What do the Chinese optical component companies make?", "What do they make?",
                           HISTORY, PROMPT) is None


@pytest.mark.parametrize(
    "rewrite, problem",
    [("", "empty"),
     ("x" * 700, "too long"),
     ("<start_of_turn>What do they make?", "template tokens"),
     ("What do they make?", "the question unchanged"),
     ("Where is the Eiffel tower?", "no word in common with the conversation"),
     ("Which Chinese companies provide optical components?", "drops what the question asks"),
     ("What do they make and sell?", "takes nothing from the conversation")],
)
def test_a_rewrite_that_cannot_stand_in_says_why(rewrite, problem):
    assert rewrite_problem(rewrite, "What do they make?", HISTORY, PROMPT) == problem


def test_a_rewrite_echoing_the_prompts_instructions_is_refused():
    instruction = next(line for line in PROMPT.splitlines() if len(line.strip()) > 40)
    assert rewrite_problem(instruction, "What do they make?", HISTORY, PROMPT) == "an echo of the prompt"
