"""Retrieval filters: a search limited to some articles returns passages of those articles only,
from the lexical side, the dense side and their fusion alike."""

from __future__ import annotations

import pytest

from rag import Assistant, QuestionError, Settings
from rag.answer.base import Question
from rag.retrieve import Lexical
from rag.types import Chunk

from .fakes import HashEmbedder

ARTICLES = {
    "zebras": "Zebras graze on the savanna.\n\nA zebra herd crossed the river at dawn, the rangers said.",
    "rivers": "The river rose after the storm.\n\nRangers closed the river crossing to every herd.",
    "bakery": "The bakery sells rye bread.\n\nIts ovens run from four in the morning.",
}


def chunks() -> list[Chunk]:
    return [Chunk(f"{doc}-{i}", doc, doc.title(), part, 0, len(part))
            for doc, text in ARTICLES.items() for i, part in enumerate(text.split("\n\n"))]


def test_lexical_search_without_a_filter_ranks_the_best_match_first():
    hits = Lexical.build(chunks()).search("zebra herd river", 3, None)
    assert hits[0][0].doc_id == "zebras"


@pytest.mark.parametrize("doc_ids", [["rivers"], ["bakery"], ["rivers", "bakery"]])
def test_lexical_search_with_a_filter_returns_only_those_articles(doc_ids):
    hits = Lexical.build(chunks()).search("zebra herd river", 5, doc_ids)
    assert {c.doc_id for c, _ in hits} <= set(doc_ids)


def test_lexical_search_in_an_unknown_article_finds_nothing():
    assert Lexical.build(chunks()).search("zebra", 5, ["no-such-article"]) == []


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    for doc, text in ARTICLES.items():
        (folder / f"{doc}.md").write_text(text, encoding="utf-8")
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), corpus_dir=folder, top_k=5, candidate_k=5)
    with Assistant(settings, embedder=HashEmbedder()) as assistant:
        assistant.ingest()
        yield assistant


def passages(assistant, question: str, doc_ids=None) -> list[str]:
    return [p.doc_id for p in assistant.evidence(Question(question, question), doc_ids).passages]


def test_fused_search_without_a_filter_reaches_every_matching_article(assistant):
    assert {"zebras", "rivers"} <= set(passages(assistant, "Did the zebra herd cross the river?"))


@pytest.mark.parametrize("doc_ids", [["rivers"], ["bakery"], ["bakery", "rivers"]])
def test_fused_search_with_a_filter_returns_passages_of_those_articles_only(assistant, doc_ids):
    found = passages(assistant, "Did the zebra herd cross the river?", doc_ids)
    assert found and set(found) <= set(doc_ids)


def test_a_filter_naming_an_unknown_article_is_refused_with_its_name(assistant):
    with pytest.raises(QuestionError, match="no-such-article"):
        passages(assistant, "Did the zebra herd cross the river?", ["zebras", "no-such-article"])


def test_searches_on_several_threads_at_once_each_get_their_own_passages(assistant):
    """One fusion retriever serves every search; each thread's sides hold that thread's hits only
    (with the hits in one shared attribute, this failed two runs in three)."""
    from concurrent.futures import ThreadPoolExecutor

    questions = ["Did the zebra herd cross the river?", "When do the bakery ovens run?", "Why was the crossing closed?",
                 "Where do zebras graze?", "What bread does the bakery sell?"] * 8
    alone = {q: [(p.chunk_id, p.score) for p in assistant.evidence(Question(q, q), None).passages] for q in questions}
    with ThreadPoolExecutor(5) as pool:
        together = list(pool.map(lambda q: [(p.chunk_id, p.score)
                                            for p in assistant.evidence(Question(q, q), None).passages], questions))
    assert together == [alone[q] for q in questions]
    assert len(set(map(tuple, alone.values()))) > 1  # the questions find different passages


def test_closing_the_retriever_while_a_search_starts_fails_no_search(assistant, monkeypatch):
    """BM25 runs on the retriever's own threads; close() stops them. A close() from another
    thread at the very moment a search hands its BM25 job over (forced here, every time) waits
    for the hand-over, and the search still finds its passages."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import rag.retrieve

    q = "Did the zebra herd cross the river?"
    expected = [p.chunk_id for p in assistant.evidence(Question(q, q), None).passages]
    retriever = assistant.retriever
    raced = []

    class Racing(ThreadPoolExecutor):
        def submit(self, *args, **kwargs):
            closer = threading.Thread(target=retriever.close)
            closer.start()
            closer.join(timeout=0.2)  # close() runs now, unless it must wait for the hand-over
            raced.append(closer.is_alive())
            return super().submit(*args, **kwargs)

    retriever.close()
    monkeypatch.setattr(rag.retrieve, "ThreadPoolExecutor", Racing)
    assert [p.chunk_id for p in assistant.evidence(Question(q, q), None).passages] == expected
    assert raced == [True]  # the close waited for the hand-over
    retriever.close()


def test_with_every_search_thread_busy_a_search_runs_on_the_asking_thread(assistant, monkeypatch):
    """More questions at once than `lexical_threads`: BM25 runs where the question is asked
    rather than waiting for a thread, and finds the same passages."""
    q = "Did the zebra herd cross the river?"
    expected = [(p.chunk_id, p.score) for p in assistant.evidence(Question(q, q), None).passages]
    retriever = assistant.retriever
    monkeypatch.setattr(retriever, "_lexical_busy", retriever.settings.lexical_threads)
    called = []
    monkeypatch.setattr(retriever, "_lexical_done", lambda f: called.append(f))  # not used on this path
    found = [(p.chunk_id, p.score) for p in assistant.evidence(Question(q, q), None).passages]
    assert found == expected and not called and retriever._lexical_busy == retriever.settings.lexical_threads


@pytest.mark.parametrize("doc_ids", [["rivers"], ["bakery"], ["bakery", "rivers"], ["zebras", "rivers", "bakery"]])
def test_a_long_list_of_articles_filtered_after_the_search_gives_the_same_dense_passages(assistant, doc_ids):
    """Chroma's filter costs ~0.1 ms an article, so beyond `filter_in_store_max_articles` the nearest
    chunks of all are read and the chosen articles' kept; Chroma filters when too few are among them
    (the bakery is far from a zebra question). Either way the dense side returns the same chunks."""
    index = assistant._current()
    vector = assistant.embedder.embed(["Did the zebra herd cross the river?"])[0]
    retriever = assistant.retriever
    kept = retriever.settings
    found = {}
    try:
        for name, changes in {"in store": {}, "after, 2 read": {"filter_in_store_max_articles": 0, "post_filter_fetch": 2},
                              "after, all read": {"filter_in_store_max_articles": 0, "post_filter_fetch": 50}}.items():
            retriever.settings = kept.model_copy(update=changes)
            found[name] = [(c.chunk_id, round(s, 6)) for c, s in retriever._dense(index, vector, 1, doc_ids)]
    finally:
        retriever.settings = kept
    assert found["in store"] and found["in store"] == found["after, 2 read"] == found["after, all read"]
    assert {cid.split("@")[0] for cid, _ in found["in store"]} <= set(doc_ids)


@pytest.mark.parametrize("mode", ["relative_score", "dist_based_score", "reciprocal_rerank"])
def test_fusion_gives_what_llama_index_fusion_gives(mode):
    """`fuse` applies llama-index QueryFusionRetriever's formulas to ids and scores: on random
    sides (overlapping hits, ties, one side empty or alone) it returns the same chunks, in the same
    order, with the same scores as the retriever itself fusing the same hits as nodes."""
    import random

    from llama_index.core.llms import MockLLM
    from llama_index.core.retrievers import QueryFusionRetriever
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

    from rag.fusion import fuse

    class Fixed:  # a retriever that returns the given hits as fresh nodes
        def __init__(self, hits):
            self.hits = hits

        def retrieve(self, query):
            return [NodeWithScore(node=TextNode(id_=c.chunk_id, text=f"text of {c.chunk_id}"), score=s)
                    for c, s in self.hits]

    rng = random.Random(mode)
    pool = [Chunk(f"c{i}", f"d{i % 7}", "", "", 0, 1) for i in range(40)]
    for trial in range(200):
        sides = []
        for _ in range(rng.choice([1, 2, 2, 2])):
            hits = rng.sample(pool, rng.randint(0, 20))
            scores = [round(rng.random(), 1) if trial % 3 == 0 else rng.random() for _ in hits]  # ties, often
            sides.append(list(zip(hits, scores)))
        top_k = rng.randint(1, 25)
        reference = QueryFusionRetriever([Fixed(s) for s in sides], llm=MockLLM(), num_queries=1, mode=mode,
                                         use_async=False, similarity_top_k=top_k).retrieve(QueryBundle("q"))
        ours = fuse(sides, mode, top_k)
        assert [c.chunk_id for c, _ in ours] == [n.node.node_id for n in reference]
        assert [s for _, s in ours] == pytest.approx([n.score for n in reference], abs=1e-12)
