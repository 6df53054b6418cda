"""The trust boundary: quotes are located exactly, near misses snap to the source's own words,
and text that is not in the source is never located."""

from __future__ import annotations

import pytest

from rag.citations import cite, is_exact, locate
from rag.types import Citation, Document

TEXT = (
    "China is helping Russia ramp up its defense industrial base.\n\n"
    "As a demonstration: in 2023, 90% of Russia’s micro-electronics imports came from China, a second official said.\n\n"
    "“The normal trade between China and Russia should not be interfered or restricted,\" said Liu Pengyu."
)
DOC = Document(doc_id="d", title="T", text=TEXT)


def test_exact_quote_is_found_at_its_offsets():
    quote = "in 2023, 90% of Russia’s micro-electronics imports came from China"
    start, end = locate(quote, TEXT)
    assert TEXT[start:end] == quote


@pytest.mark.parametrize(
    "variant",
    [
        "in 2023, 90% of Russia's micro-electronics imports came from China",  # straight apostrophe
        "In 2023,  90% of  Russia’s micro-electronics\nimports came from China",  # case and spaces
        "in 2023, 90% of Russia’s microelectronics imports came from China",  # a hyphen dropped
        "in 2023, 90% of Russia’s micro-electronics came from China",  # a word dropped
    ],
)
def test_near_misses_snap_to_the_sources_own_span(variant):
    start, end = locate(variant, TEXT)
    assert TEXT[start:end].startswith(("in 2023", "In 2023"))
    assert TEXT[start:end].endswith("came from China")


@pytest.mark.parametrize(
    "fabricated",
    [
        "in 2023, 50% of Russia’s oil imports came from India",
        "China has sent troops to fight in Ukraine",
        "ok",
        "",
    ],
)
def test_text_that_is_not_in_the_source_is_not_located(fabricated):
    assert locate(fabricated, TEXT) is None


def test_cite_trims_whitespace_and_is_exact():
    start = TEXT.index("As a demonstration") - 2
    c = cite(DOC, start, start + 40)
    assert not c.quote[0].isspace() and is_exact(c, DOC)


def test_is_exact_rejects_shifted_or_foreign_citations():
    good = cite(DOC, 0, 5)
    assert is_exact(good, DOC)
    shifted = Citation(doc_id="d", title="T", quote=good.quote, start=1, end=6)
    foreign = Citation(doc_id="other", title="T", quote=good.quote, start=0, end=5)
    assert not is_exact(shifted, DOC) and not is_exact(foreign, DOC)


def _c(text: str) -> Citation:
    start = TEXT.index(text)
    return cite(DOC, start, start + len(text))


def test_a_claim_is_supported_by_a_quote_that_states_it():
    from rag.citations import claim_supported

    quote = _c("90% of Russia’s micro-electronics imports came from China")
    docs = {"d": DOC}
    assert claim_supported("In 2023, 90% of Russia's microelectronics imports came from China.", [quote], docs)
    # a number the quote does not contain
    assert not claim_supported("In 2023, 95% of Russia's micro-electronics imports came from China.", [quote], docs)
    # a name the article never mentions
    assert not claim_supported("Officials in Germany said 90% of Russia’s micro-electronics imports came from China.", [quote], docs)
    # a claim about something else, propped up by a real quote
    assert not claim_supported("Beijing has deployed soldiers and warships near Taiwan.", [quote], docs)
    assert not claim_supported("Anything at all.", [], docs)
