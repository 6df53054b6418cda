"""The model-reply parser: lines as they stream, statements with the sentence numbers they cite,
and the [n] markers put into what is shown."""

from __future__ import annotations

import pytest

from rag.answer.reply import cited_numbers, reply_lines, statements, with_marks


def test_lines_arrive_whole_across_pieces_and_the_last_one_is_marked_unended():
    pieces = ["About 90% came ", "from China [S1].\nNearly 70", "% of machine tools [S2]"]
    assert list(reply_lines(pieces)) == [
        ("About 90% came from China [S1].", True), ("Nearly 70% of machine tools [S2]", False)]


def test_reading_stops_at_a_blank_line_after_the_answer():
    assert list(reply_lines(["A fact [S1].\n\nQuestion: another one?\nMore [S2].\n"])) == [("A fact [S1].", True)]


def test_template_tokens_before_the_answer_are_skipped_and_after_it_end_the_reply():
    reply = ["<start_of_turn>model\n", "A fact [S1].\n", "<end_of_turn>\n<start_of_turn>user\nAsk again"]
    assert [line for line, _ in reply_lines(reply)] == ["A fact [S1]."]


@pytest.mark.parametrize(
    "marks, numbers",
    [("[S1]", [1]), ("[S1, S3]", [1, 3]), ("[S2; S4]", [2, 4]), ("(S5)", [5]), ("[3]", [3]), ("[s 7]", [7]),
     ("no marker", []), ("(2023)", [])],
)
def test_cited_numbers_read_every_marker_form_a_model_writes(marks, numbers):
    assert cited_numbers(f"A fact {marks}.") == numbers


def test_each_sentence_keeps_its_own_numbers_and_loses_its_markers():
    line = "About 90% of microelectronics came from China [S1]. Nearly 70% of machine tools did too [S2, S3]."
    assert statements(line) == [
        ("About 90% of microelectronics came from China.", [1]),
        ("Nearly 70% of machine tools did too.", [2, 3]),
    ]


def test_a_marker_opening_the_next_sentence_belongs_to_the_one_before():
    assert statements("China sent parts. [S4] Russia used them [S5].") == [
        ("China sent parts.", [4]), ("Russia used them.", [5])]


def test_a_line_of_markers_alone_is_a_statement_without_text():
    assert statements("[S2]") == [("", [2])]


def test_a_repeated_number_counts_once():
    assert statements("A fact [S1][S1].") == [("A fact.", [1])]


@pytest.mark.parametrize(
    "sentence, shown",
    [("In 2023 about 90% came from China.", "In 2023 about 90% came from China [1]."),
     ("Is that so?", "Is that so [1]?"),
     ("No full stop", "No full stop [1]."),
     ("Ends with an ellipsis...", "Ends with an ellipsis... [1].")],
)
def test_markers_stand_before_the_final_full_stop(sentence, shown):
    assert with_marks(sentence, "[1]") == shown
