"""Chunks and sentences keep exact offsets into the original text."""

from __future__ import annotations

from rag.config import BUNDLED_CORPUS, Settings
from rag.corpus import load_documents
from rag.chunking import chunk_document, chunk_spans
from rag.sentences import sentence_spans


def test_every_chunk_is_an_exact_slice_and_chunks_cover_every_sentence():
    settings = Settings()
    for doc in load_documents([BUNDLED_CORPUS]).documents:
        nodes = chunk_document(doc, settings)
        assert nodes
        for node in nodes:
            assert doc.text[node.start_char_idx : node.end_char_idx] == node.text
            assert node.node_id == f"{doc.doc_id}:{node.start_char_idx}-{node.end_char_idx}"
        covered = set()
        for node in nodes:
            covered.update(range(node.start_char_idx, node.end_char_idx))
        for s, e in sentence_spans(doc.text):
            assert s in covered and e - 1 in covered


def test_chunks_respect_size_and_overlap():
    text = " ".join(f"Sentence number {i} is here." for i in range(200))
    spans = chunk_spans(text, chunk_size=60, chunk_overlap=15)
    assert len(spans) > 5
    for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
        assert s1 < s2 < e1 <= e2  # overlapping, always advancing
    assert spans[0][0] == 0 and spans[-1][1] == len(text)


def test_sentences_do_not_break_at_abbreviations_or_cross_paragraphs():
    text = (
        "Wuhan Global Sensor Technology Co., Wuhan Tongsheng Technology Co. Ltd. and Hikvision are named. "
        "The U.S. has also determined that more is coming.\n\nGen. Chris Cavoli spoke. Next one."
    )
    sents = [text[s:e] for s, e in sentence_spans(text)]
    assert sents == [
        "Wuhan Global Sensor Technology Co., Wuhan Tongsheng Technology Co. Ltd. and Hikvision are named.",
        "The U.S. has also determined that more is coming.",
        "Gen. Chris Cavoli spoke.",
        "Next one.",
    ]


def test_a_sentence_longer_than_a_chunk_becomes_its_own_chunk():
    text = "Short one. " + "word " * 400 + "end. Another short one."
    spans = chunk_spans(text, chunk_size=50, chunk_overlap=10)
    assert any(e - s > 1500 for s, e in spans)
    assert spans[-1][1] == len(text)


def test_a_chunk_rows_codec_gives_back_exactly_what_was_stored():
    import numpy as np

    from rag.chunking import decode_spans, decode_vectors, encode_spans, encode_vectors, parse_span_id, span_id

    vectors = np.random.default_rng(7).standard_normal((3, 384)).astype(np.float32)
    assert np.array_equal(decode_vectors(encode_vectors(vectors), 3), vectors)  # bit for bit: answers unchanged
    assert decode_vectors("", 3) is None and decode_vectors(encode_vectors(vectors), 5) is None
    spans = ((0, 57), (58, 140))
    assert decode_spans(encode_spans(spans)) == spans
    assert parse_span_id(span_id("news/a@b:c@v1", 12, 90)) == ("news/a@b:c", "news/a@b:c@v1", 12, 90)
