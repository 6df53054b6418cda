"""The offline answerer on the bundled articles: facts in the answer, exact quotes, abstentions."""

from __future__ import annotations

import pytest

from rag import Assistant, QuestionError, Turn


def assert_exact(assistant: Assistant, answer) -> None:
    for c in answer.citations:
        assert assistant.document(c.doc_id).text[c.start : c.end] == c.quote


@pytest.mark.parametrize(
    "question, facts",
    [
        ("What share of Russia's microelectronics came from China in 2023?", ["90"]),
        ("How much were Russia's machine tool imports worth in the last quarter of 2023?", ["$900 million"]),
        ("Who is the spokesman of the Chinese Embassy in Washington?", ["Liu Pengyu"]),
        ("What did Russia's semiconductor imports from China grow to in 2022?", ["$500 million"]),
        ("Which two US companies did China sanction?", ["General Atomics", "General Dynamics"]),
        ("How much did trade between China and Russia reach in 2023?", ["$240 billion"]),
        ("What is nitrocellulose used for?", ["propellant"]),
    ],
)
def test_answers_contain_the_facts_and_every_quote_is_exact(bundled, question, facts):
    answer = bundled.ask(question)
    assert not answer.abstained, answer.text
    assert answer.citations
    for fact in facts:
        assert fact in answer.text
        assert any(fact in c.quote for c in answer.citations)
    assert_exact(bundled, answer)
    for n in range(1, len(answer.citations) + 1):
        assert f"[{n}]" in answer.text


@pytest.mark.parametrize(
    "question",
    [
        "What did Emmanuel Macron say about the war?",
        "What is the capital of Australia?",
        "How big is the commercial paper bag market?",
        "What is the history of online gambling?",
        "What did Angela Merkel tell Putin in 2019?",
    ],
)
def test_questions_the_articles_do_not_answer_are_abstained_on(bundled, question):
    answer = bundled.ask(question)
    assert answer.abstained, answer.text
    assert answer.citations == []
    assert answer.text


def test_several_articles_stating_a_fact_can_each_be_cited(bundled):
    answer = bundled.ask("What share of Russia's microelectronics came from China in 2023?")
    assert len({c.doc_id for c in answer.citations}) >= 2


def test_search_can_be_limited_to_given_articles(bundled):
    doc = "telegraph-china-cruise-missile-drone-tank-parts"
    answer = bundled.ask("What share of Russia's microelectronics came from China?", doc_ids=[doc])
    assert answer.citations and {c.doc_id for c in answer.citations} == {doc}
    with pytest.raises(QuestionError):
        bundled.ask("anything?", doc_ids=["no-such-article"])


def test_follow_up_uses_the_conversation(bundled):
    first = "Which Chinese companies provide optical components for Russian tanks?"
    history = [Turn("user", first), Turn("assistant", bundled.ask(first).text)]
    answer = bundled.chat("Which of them make military optics?", history=history)
    assert not answer.abstained
    assert any("iRay" in c.quote or "Hikvision" in c.quote for c in answer.citations)
    assert_exact(bundled, answer)


@pytest.mark.parametrize("question", ["", "   ", "x" * 5000])
def test_empty_or_huge_questions_get_a_clear_error(bundled, question):
    with pytest.raises(QuestionError):
        bundled.ask(question)
