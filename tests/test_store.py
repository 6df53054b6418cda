"""The store does not surprise: ids independent of the folder passed, no silent replacement or
rebuild, clear messages for an emptied, corrupt, locked or frozen store, loops reported."""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest

from rag import Assistant, Settings, StoreError
from rag.config import BUNDLED_CORPUS
from rag.ingest import writer_lock

from .fakes import HashEmbedder


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def make(tmp_path, **kw) -> Assistant:
    return Assistant(Settings(data_dir=tmp_path / "data", **kw), embedder=HashEmbedder())


def test_ids_do_not_depend_on_the_folder_passed(tmp_path):
    docs = tmp_path / "docs"
    write(docs / "howto" / "annotations.md", "Annotations\n\nAnnotations are read at runtime.\n")
    write(docs / "intro.md", "Intro\n\nThe tutorial starts here.\n")
    assistant = make(tmp_path)
    assert sorted(assistant.ingest([docs]).added) == ["howto/annotations", "intro"]
    again = assistant.ingest([docs / "howto"])  # a subfolder later: same ids, nothing re-embedded
    assert again.unchanged == ["howto/annotations"] and not again.added and not again.removed
    assert [d.doc_id for d in assistant.documents()] == ["howto/annotations", "intro"]


def test_the_same_id_from_another_folder_is_refused_unless_replaced(tmp_path):
    write(tmp_path / "a" / "report.md", "Report A\n\nThe depot shipped 40 crates.\n")
    write(tmp_path / "b" / "report.md", "Report B\n\nThe depot shipped 90 crates.\n")
    assistant = make(tmp_path)
    assistant.ingest([tmp_path / "a"])
    refused = assistant.ingest([tmp_path / "b"])
    assert not refused.updated and len(refused.refused) == 1
    assert "already stored from" in refused.refused[0] and "--replace" in refused.refused[0]
    assert "40 crates" in assistant.document("report").text
    replaced = assistant.ingest([tmp_path / "b"], replace=True)
    assert replaced.updated == ["report"] and "90 crates" in assistant.document("report").text


def test_an_emptied_store_says_so_and_names_what_to_ingest(tmp_path):
    folder = tmp_path / "articles"
    shutil.copytree(BUNDLED_CORPUS, folder)
    make(tmp_path).ingest([folder])
    (tmp_path / "data" / "chroma" / "chroma.sqlite3").unlink()
    with pytest.raises(StoreError) as info:
        make(tmp_path).ask("How much did trade between China and Russia reach in 2023?")
    assert "holds no articles" in str(info.value) and str(folder) in str(info.value)


def test_a_corrupt_store_is_explained_and_rebuild_repairs_it(tmp_path):
    folder = tmp_path / "articles"
    shutil.copytree(BUNDLED_CORPUS, folder)
    make(tmp_path).ingest([folder])
    (tmp_path / "data" / "chroma" / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="rag ingest --rebuild"):
        make(tmp_path).ask("anything at all?")
    report = make(tmp_path).ingest(rebuild=True)  # the folders ingested before
    assert len(report.added) == 3
    assert make(tmp_path).ask("How much did trade between China and Russia reach in 2023?").citations


def test_a_second_writer_is_told_who_is_writing(tmp_path):
    assistant = make(tmp_path)
    with writer_lock(assistant.settings):
        with pytest.raises(StoreError, match="another ingest"):
            assistant.ingest()
    assert assistant.ingest().added  # free again afterwards


def test_a_symlink_loop_is_reported(tmp_path):
    folder = tmp_path / "articles"
    write(folder / "sub" / "note.md", "Note\n\nThe ferry runs daily.\n")
    (folder / "sub" / "loop").symlink_to(folder)
    report = make(tmp_path).ingest([folder])
    assert report.added == ["sub/note"]
    assert any("symlink loop" in str(e) for e in report.errors)


def test_a_frozen_chroma_server_times_out(tmp_path):
    """A server that accepts connections and never answers must not hang a question."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}"
    started = time.monotonic()
    try:
        with pytest.raises(StoreError, match="cannot reach the Chroma server"):
            make(tmp_path, chroma_url=url, chroma_timeout=0.5).ask("anything?")
    finally:
        server.close()
    assert time.monotonic() - started < 10


def test_a_running_reader_finds_the_vectors_another_writer_added(tmp_path):
    """Embedded Chroma never refreshes a loaded vector index; the reader must reopen to see them."""
    write(tmp_path / "a" / "bridge.md", "Bridge vote\n\nThe council approved a footbridge.\n")
    write(tmp_path / "b" / "ferry.md", "Ferry news\n\nThe Kerran ferry resumed its schedule on Tuesday.\n")
    make(tmp_path).ingest([tmp_path / "a"])
    reader = make(tmp_path, generation_check_seconds=0)
    reader.ask("What did the council approve?")  # its vector index is loaded now
    make(tmp_path).ingest([tmp_path / "b"])  # another handle on the store, as another process has
    vector = HashEmbedder().embed(["The Kerran ferry resumed its schedule on Tuesday."])[0]
    hits = [c.doc_id for c, _ in reader._current().store.query(vector, 2)]
    assert hits[0] == "ferry"


def test_the_dense_search_breadth_is_set_on_new_and_existing_chunk_collections(tmp_path):
    """Chroma's default ef_search (100) missed the nearest chunk in some processes at 150 pages:
    rag's reaches a new collection and one made at Chroma's default; a breadth set on purpose is
    changed only on purpose (not back and forth by processes configured differently)."""
    write(tmp_path / "a" / "ferry.md", "Ferry news\n\nThe Kerran ferry resumed its schedule on Tuesday.\n")
    old = make(tmp_path, chroma_ef_search=100)  # as a store made before rag set it
    old.ingest([tmp_path / "a"])
    assert old.store._cols["chunks"].configuration["hnsw"]["ef_search"] == 100
    again = make(tmp_path)  # the default, on the collection as it is
    chunks = again.store._cols["chunks"]
    assert chunks.configuration["hnsw"]["ef_search"] == Settings().chroma_ef_search == 400
    assert again.store._client.get_collection(chunks.name).configuration["hnsw"]["ef_search"] == 400  # kept
    vector = HashEmbedder().embed(["The Kerran ferry resumed its schedule on Tuesday."])[0]
    assert [c.doc_id for c, _ in again.store.query(vector, 1)] == ["ferry"]
    chosen = make(tmp_path, chroma_ef_search=123)
    assert chosen.store._cols["chunks"].configuration["hnsw"]["ef_search"] == 123
    assert make(tmp_path).store._cols["chunks"].configuration["hnsw"]["ef_search"] == 123  # left as chosen
    fresh = make(tmp_path / "other", chroma_ef_search=321)
    fresh.ingest([tmp_path / "a"])
    assert fresh.store._cols["chunks"].configuration["hnsw"]["ef_search"] == 321


def _ferry(tmp_path) -> Assistant:
    """One 60-sentence article ingested in small overlapping chunks (a sentence in several chunks)."""
    text = "Ferry news\n\n" + " ".join(f"The Kerran ferry made crossing {i} on time." for i in range(60)) + "\n"
    write(tmp_path / "a" / "ferry.md", text)
    assistant = make(tmp_path, chunk_size=64, chunk_overlap=16)
    assistant.ingest([tmp_path / "a"])
    return assistant


def test_sentence_vectors_come_back_with_their_chunk_rows_and_equal_a_fresh_embedding(tmp_path):
    """Each sentence is embedded once, at ingest, and kept inside its chunk's row: a pinned index
    reads them back (one read, then kept), equal to embedding the sentence again."""
    import numpy as np

    from rag.sentences import sentence_spans

    assistant = _ferry(tmp_path)
    index = assistant._current()
    doc = assistant.document("ferry")
    spans = [("ferry", s, e) for s, e in sentence_spans(doc.text)]
    vectors = index.passage_vectors(index.lexical.table)  # every chunk, as a search finds them
    assert set(vectors) == set(spans)  # every sentence, whichever chunk (overlapping ones too) holds it
    fresh = HashEmbedder().embed([doc.text[s:e] for _, s, e in spans])
    assert all(np.allclose(vectors[k], v, atol=1e-6) for k, v in zip(spans, fresh))
    assert assistant.store.sentence_vectors(["ferry@gone:0-10"]) == {}  # a replaced version: left out


def test_sentence_vectors_and_texts_are_read_from_the_generations_memory_maps_and_damaged_ones_rebuilt(tmp_path):
    """A reader's sentence vectors and document texts come from memory-mapped files derived with
    BM25 (no store read per question), equal to the rows the store holds; a truncated file is
    rebuilt, not trusted."""
    import numpy as np

    assistant = _ferry(tmp_path)
    index = assistant._current()
    assert index.vectors is not None and index.texts is not None
    keys = [d.key for d in index.manifest.values()]
    for key, doc in assistant.store.texts(keys).items():
        mapped = index.texts.get(key)
        assert (mapped.doc_id, mapped.title, mapped.text, mapped.source, mapped.metadata, mapped.headings) == (
            doc.doc_id, doc.title, doc.text, doc.source, doc.metadata, doc.headings)
        assert doc.headings  # a real comparison: the ferry article has headings
    assert index.texts.get("ferry@unknown") is None
    rows = [c.chunk_id for c in index.lexical.table]
    stored = assistant.store.sentence_vectors(rows)
    for cid in rows:
        mapped = index.vectors.of(cid, index.chunk(cid).sentences)
        assert mapped.keys() == stored[cid].keys()
        assert all(np.array_equal(mapped[k], stored[cid][k]) for k in mapped)  # exactly as stored
    [saved] = list((tmp_path / "data" / "derived").glob("vectors-*/*/vectors.f32"))
    with open(saved, "r+b") as f:
        f.truncate(100)
    again = make(tmp_path, chunk_size=64, chunk_overlap=16)._current()
    assert again.vectors is not None and saved.stat().st_size == again.vectors.matrix.nbytes > 100
    texts = saved.with_name("documents.jsonl")
    size = texts.stat().st_size
    with open(texts, "r+b") as f:
        f.truncate(size // 2)
    third = make(tmp_path, chunk_size=64, chunk_overlap=16)._current()
    assert texts.stat().st_size == size and third.fetch(["ferry"])["ferry"].text == assistant.document("ferry").text


def test_sentence_terms_and_shapes_are_saved_with_the_generation_as_the_text_gives_them_and_refused_under_other_rules(
    tmp_path, monkeypatch
):
    """Every sentence's terms and shape are saved beside the vectors, the same the answerer would
    work out from the text; a folder written under other rules is rebuilt, and an answer is the
    same with the saved ones as without them."""
    import json

    from rag.answer.base import Question
    from rag.answer.shape import shape
    from rag.answer.units import _text_terms
    from rag.sentencemap import _rules

    text = ("Ferry news\n\nEditor: Ann Lee\n\n| Route | Crossings |\n\nIs it late?\n\n"
            + " ".join(f"The Kerran ferry made crossing {i} on time." for i in range(60)) + "\n")
    write(tmp_path / "a" / "ferry.md", text)
    assistant = make(tmp_path, chunk_size=64, chunk_overlap=16)
    assistant.ingest([tmp_path / "a"])
    index = assistant._current()
    assert index.sentences is not None
    doc = index.document("ferry")
    shapes = set()
    for chunk in index.lexical.table:
        saved = index.sentences.of(chunk.chunk_id, len(chunk.sentences))
        assert saved is not None and len(saved) == len(chunk.sentences)
        for (s, e), (found, shaped) in zip(chunk.sentences, saved):
            assert found == _text_terms(doc.text[s:e]) and shaped == shape(doc.text[s:e])
            shapes.add(shaped[1:])
    assert {("?", False, False), (".", False, False)} <= shapes  # a real comparison: several shapes
    question = Question("Was crossing 12 of the Kerran ferry on time?", "Was crossing 12 of the Kerran ferry on time?")
    evidence = assistant.evidence(question)
    assert evidence.sentence_terms and set(evidence.sentence_terms) == set(evidence.sentence_shapes) == {
        (p.doc_id, s, e) for p in evidence.passages for s, e in p.sentences}
    with_saved = assistant.offline.answer(question, evidence)
    assert not with_saved.abstained and "crossing 12 " in with_saved.citations[0].quote
    evidence.sentence_terms, evidence.sentence_shapes = {}, {}
    assert assistant.offline.answer(question, evidence) == with_saved

    [index_file] = list((tmp_path / "data" / "derived").glob("vectors-*/*/sentences.json"))
    data = json.loads(index_file.read_text())
    data["rules"] = "0" * 16  # as if written before a stopword was added
    index_file.write_text(json.dumps(data))
    again = make(tmp_path, chunk_size=64, chunk_overlap=16)._current()
    assert again.sentences is not None and json.loads(index_file.read_text())["rules"] == _rules()


def test_a_shape_survives_its_encoding():
    from rag.answer.shape import decode, encode, shape

    for text in ["Editor: Raymond Hettinger", "Flag | Meaning", "x = f(a[1], {b: c})", "Is it?", "The end.",
                 "The: thing", "PEP 487: Descriptor protocol", "Weird ending é", "def f():\n    return 1"]:
        assert decode(encode(shape(text))) == shape(text), text


def test_chunk_rows_are_cut_from_their_versions_text_and_older_rows_with_their_own_text_still_read(tmp_path):
    """Chunk rows are written without a copy of their text (their version's text row has it): the
    chunks read back are exactly the document's slices. Rows written with a text of their own (by
    earlier versions of rag) read the same, and rows whose text row is gone are an error, not
    empty passages."""
    assistant = _ferry(tmp_path)
    store = assistant.store
    doc = assistant.document("ferry")
    chunks = store.chunks()
    assert len(chunks) > 3 and all(c.text == doc.text[c.start : c.end] for c in chunks)
    rows = store._cols["chunks"].get(include=["documents", "metadatas", "embeddings"])
    assert set(rows["documents"]) == {None}
    old = {"ids": rows["ids"][:2], "embeddings": rows["embeddings"][:2], "metadatas": rows["metadatas"][:2]}
    store._cols["chunks"].upsert(**old, documents=[doc.text[m["start"] : m["end"]] for m in old["metadatas"]])
    assert sorted((c.chunk_id, c.text) for c in store.chunks()) == sorted((c.chunk_id, c.text) for c in chunks)
    store._cols["texts"].delete(ids=[rows["metadatas"][0]["vkey"]])
    with pytest.raises(StoreError, match="not its text"):
        store.chunks()


def test_statistics_built_in_a_child_process_equal_those_built_here_and_a_child_that_cannot_start_is_no_failure(
        tmp_path, monkeypatch, caplog):
    """A big generation's statistics are built in a child process while BM25 is built here; they are
    the same statistics, and when no child can start they are built here instead."""
    import shutil
    import sys

    from rag.index import Index

    assistant = _ferry(tmp_path)
    here = assistant._current().stats
    derived = tmp_path / "data" / "derived"
    for broken in (False, True):
        for saved in derived.glob("stats-*"):
            shutil.rmtree(saved)
        if broken:
            monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python-here"))
        settings = Settings(data_dir=tmp_path / "data", chunk_size=64, chunk_overlap=16, derive_child_min_chunks=0)
        caplog.clear()
        child = Index.load(settings, assistant.store).stats
        fell_back = [r.message for r in caplog.records if "building the statistics here" in r.message]
        assert bool(fell_back) == broken and (not broken or "could not start the statistics process" in fell_back[0])
        assert child.sentence_count == here.sentence_count == 61  # the title line and 60 sentences
        assert (child.df, child.vocabulary, child.numbered, child.acronyms, child.capitals) == (
            here.df, here.vocabulary, here.numbered, here.acronyms, here.capitals)
        assert list(derived.glob("stats-*/*/stats.json"))  # saved for the next reader, as before
