"""The eval suite: the gold file checks itself against the corpus, and the metrics score
answers the way their definitions say."""

from __future__ import annotations

from collections import Counter

from rag.citations import cite
from rag.config import BUNDLED_CORPUS
from rag.corpus import load_documents
from rag.evals.gold import Case, load_gold, check_gold
from rag.evals.metrics import score_case, statements
from rag.evals.runner import Report, aggregate, check, gate_config
from rag.types import Answer, Chunk, Citation

DOCS = {d.doc_id: d for d in load_documents([BUNDLED_CORPUS]).documents}
AP = "ap-china-surging-equipment-sales-russia"


def test_gold_file_is_verbatim_and_covers_every_kind_of_question():
    gold = load_gold()
    assert check_gold(gold, DOCS) == []
    assert len(gold.cases) >= 60
    tags = Counter(t for c in gold.cases for t in c.tags)
    assert sum(not c.answerable for c in gold.cases) >= 12
    assert tags["footer"] >= 2
    assert sum(bool(c.history) for c in gold.cases) >= 5
    for kind in ["figure", "money", "date", "people", "organisations", "place", "cause", "single-source",
                 "compare", "paraphrase"]:
        assert tags[kind] >= 3, kind
    cited_docs = {ev.doc for c in gold.cases for ev in c.evidence}
    assert cited_docs == set(DOCS)


def test_gold_check_catches_a_span_that_is_not_verbatim_and_a_variant_not_in_evidence():
    gold = load_gold()
    case = gold.cases[0].model_copy(deep=True)
    case.evidence[0].span = case.evidence[0].span.replace("’", "'")
    case.facts = [["90%", "ninety percent"]]
    gold.cases = [case]
    problems = check_gold(gold, DOCS)
    assert any("not verbatim" in p for p in problems)
    assert any("ninety percent" in p for p in problems)


def _case() -> Case:
    return Case(
        id="t",
        question="Who is Liu Pengyu?",
        facts=[["spokesman of the Chinese Embassy in Washington"]],
        evidence=[{"doc": AP, "span": "said Liu Pengyu, spokesman of the Chinese Embassy in Washington"}],
    )


def _quote(text: str) -> Citation:
    start = DOCS[AP].text.index(text)
    return cite(DOCS[AP], start, start + len(text))


def test_a_faithful_answer_scores_full_marks():
    c = _quote("said Liu Pengyu, spokesman of the Chinese Embassy in Washington")
    answer = Answer(text=f"AP: “{c.quote}” [1]", citations=[c])
    r = score_case(_case(), answer, DOCS, [], 0.1)
    assert (r.facts_found, r.facts_supported, r.citations_exact) == (1, 1, 1)
    assert (r.statements, r.statements_supported, r.citations_precise) == (1, 1, 1)
    assert r.passed and r.reasons == []


def test_a_direct_first_line_is_scored_for_holding_a_fact():
    c = _quote("said Liu Pengyu, spokesman of the Chinese Embassy in Washington")
    right = Answer(text=f"spokesman of the Chinese Embassy in Washington [1]\nAP: “{c.quote}” [1]", citations=[c])
    wrong = Answer(text=f"Liu Pengyu [1]\nAP: “{c.quote}” [1]", citations=[c])
    plain = Answer(text=f"AP: “{c.quote}” [1]", citations=[c])
    assert score_case(_case(), right, DOCS, [], 0.1).direct_ok is True
    r = score_case(_case(), wrong, DOCS, [], 0.1)
    assert (r.direct_line, r.direct_ok) == ("Liu Pengyu", False)
    assert score_case(_case(), plain, DOCS, [], 0.1).direct_ok is None  # no direct line: nothing to score


def test_an_inexact_quote_and_a_padding_citation_are_caught():
    good = _quote("said Liu Pengyu, spokesman of the Chinese Embassy in Washington")
    padding = _quote("General Atomics produces the Predator and Reaper drones")
    forged = Citation(AP, "t", "Liu Pengyu is the ambassador", good.start, good.end)
    answer = Answer(text=f"Liu Pengyu is the spokesman of the Chinese Embassy in Washington [1][2][3].",
                    citations=[good, padding, forged])
    r = score_case(_case(), answer, DOCS, [], 0.1)
    assert r.citations_exact == 2 and "quote not exact" in r.reasons
    assert r.statements_supported == 1
    assert r.citations_precise == 1  # the padding quote supports nothing; the forged one is not counted


def test_missing_fact_wrong_abstention_and_retrieval_miss_are_named():
    chunk = Chunk("x", AP, "t", DOCS[AP].text[:50], 0, 50)
    answer = Answer(text="The articles don't answer this question.", citations=[], abstained=True, passages=[chunk])
    r = score_case(_case(), answer, DOCS, [chunk, Chunk("y", AP, "t", "", 0, len(DOCS[AP].text))], 0.1)
    assert "wrong abstention" in r.reasons
    assert r.hit == 0.0 and any("retrieval miss" in x for x in r.reasons)


def test_statements_split_on_sentences_and_keep_their_markers():
    parts = statements("First claim [1]. Second “quoted.” [2][3]\nThird line [1]")
    assert [n for _, n in parts] == [[1], [2, 3], [1]]


def test_gate_fails_on_threshold_and_lists_cases_that_regressed():
    good = _quote("said Liu Pengyu, spokesman of the Chinese Embassy in Washington")
    ok = score_case(_case(), Answer(text=f"“{good.quote}” [1]", citations=[good]), DOCS, [], 0.1)
    bad = score_case(_case(), Answer(text="Nothing.", citations=[], abstained=True), DOCS, [], 0.1)
    baseline = {"metrics": aggregate([ok]), "cases": {"t": {"passed": True, "reasons": []}}}
    result = check(Report("offline", aggregate([bad]), [bad], "", 0.0), baseline, gate_config())
    assert not result.ok
    assert any("fact_recall" in f for f in result.failures)
    assert result.regressions and "was right, now wrong: wrong abstention" in result.regressions[0]
    same = check(Report("offline", aggregate([ok]), [ok], "", 0.0), baseline, gate_config())
    assert same.ok or all("abstention" in f for f in same.failures)
