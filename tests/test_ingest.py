"""Ingestion is idempotent, replaces changed articles, drops removed ones, and never lets a bad
file or a broken store damage what is already stored."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from rag import Assistant, Settings, StoreError
from rag.config import BUNDLED_CORPUS

from .fakes import HashEmbedder


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    shutil.copytree(BUNDLED_CORPUS, folder)
    return folder


def make(tmp_path, corpus, embedder=None):
    settings = Settings(data_dir=tmp_path / "data", corpus_dir=corpus)
    return Assistant(settings, embedder=embedder or HashEmbedder())


def test_reingesting_an_unchanged_corpus_embeds_nothing(tmp_path, corpus):
    embedder = HashEmbedder()
    first = make(tmp_path, corpus, embedder).ingest()
    assert len(first.added) == 3 and first.chunks_embedded > 0
    count = embedder.texts_embedded
    # a new process (new Assistant) on the same store
    again = make(tmp_path, corpus, embedder).ingest()
    assert again.unchanged == first.added and not again.added and not again.updated
    assert again.chunks_embedded == 0 and embedder.texts_embedded == count


def test_changed_article_is_replaced_and_removed_article_deleted(tmp_path, corpus):
    assistant = make(tmp_path, corpus)
    assistant.ingest()
    before = assistant.store.chunk_count()
    cnn = next(corpus.glob("cnn-*.md"))
    cnn.write_text(cnn.read_text(encoding="utf-8") + "\nA brand new closing paragraph about zeppelins.\n", encoding="utf-8")
    next(corpus.glob("ap-*.md")).unlink()
    report = assistant.ingest()
    assert report.updated == [cnn.stem]
    assert report.removed == ["ap-china-surging-equipment-sales-russia"]
    assert report.unchanged == ["telegraph-china-cruise-missile-drone-tank-parts"]
    ids = [d.doc_id for d in assistant.documents()]
    assert "ap-china-surging-equipment-sales-russia" not in ids
    assert "zeppelins" in assistant.document(cnn.stem).text
    assert assistant.store.chunk_count() < before
    # the current chunks are those of the new CNN version; none of the deleted AP article remain
    for chunk in assistant.store.chunks():
        doc = assistant.document(chunk.doc_id)
        assert doc.text[chunk.start : chunk.end] == chunk.text


def test_bad_file_is_reported_by_name_and_the_store_is_untouched(tmp_path, corpus):
    assistant = make(tmp_path, corpus)
    assistant.ingest()
    before = {d.doc_id: d.fingerprint for d in assistant.documents()}
    # an article that was fine becomes unreadable garbage
    tele = next(corpus.glob("telegraph-*.md"))
    tele.write_bytes(b"\x00\x01binary")
    (corpus / "empty.txt").write_text("", encoding="utf-8")
    report = assistant.ingest()
    messages = " ".join(str(e) for e in report.errors)
    assert "telegraph-" in messages and "empty.txt" in messages
    after = {d.doc_id: d.fingerprint for d in assistant.documents()}
    assert after == before  # the old Telegraph version is kept, nothing else changed


def test_ingesting_extra_files_keeps_the_corpus(tmp_path, corpus):
    assistant = make(tmp_path, corpus)
    assistant.ingest()
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "local-news.txt").write_text("Local council approves new bridge.\n\nIt opens in May.\n", encoding="utf-8")
    report = assistant.ingest([extra])
    assert report.added == ["local-news"]
    assert len(assistant.documents()) == 4


def test_first_question_on_an_empty_store_ingests_the_corpus(tmp_path, corpus):
    assistant = make(tmp_path, corpus)
    answer = assistant.ask("Which Chinese companies provide optical components?")
    assert len(assistant.documents()) == 3
    assert answer.citations


def test_corrupt_store_gives_a_clear_error(tmp_path, corpus):
    data = tmp_path / "data" / "chroma"
    data.mkdir(parents=True)
    (data / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    assistant = make(tmp_path, corpus)
    with pytest.raises(StoreError) as info:
        assistant.ask("anything at all?")
    assert "rag ingest" in str(info.value) or "cannot" in str(info.value)


KILLER = """
import os, signal, sys
from pathlib import Path
from rag import Assistant, Settings
from tests.fakes import HashEmbedder

def progress(done, total, label):
    if done >= int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)  # as a user's Ctrl-\\\\ or the OOM killer would

Assistant(Settings(data_dir=Path(sys.argv[1])), embedder=HashEmbedder()).ingest([Path(sys.argv[2])], progress=progress)
"""


def _depots(folder, n=120):
    folder.mkdir()
    for i in range(n):
        body = " ".join(f"The depot {i} shipped {i * 7 + k} crates of grain on day {k}." for k in range(10))
        (folder / f"n{i:03}.md").write_text(f"Depot {i}\n\n{body}\n")
    return folder


def _whole_then_resumed(settings, folder, n=120):
    """After an interrupted ingest: every visible document is whole (its text and every chunk), and
    the next ingest keeps those and adds the rest."""
    reader = Assistant(settings, embedder=HashEmbedder())
    visible = [d.doc_id for d in reader.documents()]
    assert 0 < len(visible) < n  # some groups were written, not all
    stored = reader.store.chunks()
    for doc_id in visible:
        doc = reader.document(doc_id)
        chunks = [c for c in stored if c.doc_id == doc_id]
        assert chunks and all(doc.text[c.start : c.end] == c.text for c in chunks)
    resumed = reader.ingest([folder])
    assert sorted(resumed.unchanged) == sorted(visible) and len(resumed.added) == n - len(visible)
    assert len(reader.documents()) == n


def test_a_killed_ingest_leaves_whole_documents_and_the_next_one_continues(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    folder = _depots(tmp_path / "many")
    # 11 sentences a file: the fast fake embedder is always idle, so a group goes every 256 sentences
    # (24 files); when the 4th is handed over (file 96) the 2nd is written, and the last is not yet
    root = Path(__file__).resolve().parent.parent
    killed = subprocess.run([sys.executable, "-c", KILLER, str(tmp_path / "data"), str(folder), "100"],
                            cwd=root, env={**os.environ, "PYTHONPATH": str(root), "RAG_INGEST_GROUP_SENTENCES": "500"}, capture_output=True, timeout=120)
    assert killed.returncode == -9
    _whole_then_resumed(Settings(data_dir=tmp_path / "data"), folder)


class _FailsOnCall(HashEmbedder):
    """The embedding endpoint goes down after a few batches (a provider error, as a real one gives)."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.calls, self.after = 0, after

    def embed(self, texts):
        self.calls += 1
        if self.calls > self.after:
            from rag.errors import ProviderError

            raise ProviderError("the embedding endpoint stopped answering")
        return super().embed(texts)


def test_an_embedding_failure_mid_ingest_is_raised_and_the_next_ingest_continues(tmp_path):
    """Groups are embedded on another thread than the one that parses: a failure there reaches the
    caller as itself, what was written before it stays whole, and the next ingest does the rest."""
    from rag.errors import ProviderError

    folder = _depots(tmp_path / "many")
    settings = Settings(data_dir=tmp_path / "data", ingest_group_sentences=300)
    with pytest.raises(ProviderError, match="stopped answering"):
        Assistant(settings, embedder=_FailsOnCall(after=2)).ingest([folder])
    _whole_then_resumed(settings, folder)


def test_progress_reaches_the_total_only_once_every_document_is_written(tmp_path):
    """Parsing runs ahead of embedding and writing; the bar must not say "done" before the store is."""
    folder = _depots(tmp_path / "many")
    assistant = Assistant(Settings(data_dir=tmp_path / "data", ingest_group_sentences=300), embedder=HashEmbedder())
    seen = []

    def progress(done, total, label):
        seen.append((done, total, len(assistant.store.documents()) if done == total else None))

    report = assistant.ingest([folder], progress=progress)
    assert len(report.added) == 120
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen) and seen[-1] == (120, 120, 120)
    assert sum(1 for d, _, _ in seen if d == 120) == 1


def test_a_big_ingest_embeds_in_a_child_process_to_the_same_store(tmp_path, corpus, model_cache):
    """Past `ingest_child_min_bytes` the local model runs in a child process: the parent never
    loads it, and every stored vector is the one the parent would have computed."""
    from rag.embed import MiniLMEmbedder

    stores = {}
    for name, threshold in (("here", 10**12), ("child", 0)):
        embedder = MiniLMEmbedder(cache_dir=model_cache)
        assistant = Assistant(Settings(data_dir=tmp_path / name, ingest_child_min_bytes=threshold), embedder=embedder)
        assistant.ingest([corpus])
        assert (embedder._session is None) == (name == "child")
        chunks = assistant.store.chunks()
        stores[name] = (chunks, assistant.store.sentence_vectors([c.chunk_id for c in chunks]))
    (here, here_vectors), (child, child_vectors) = stores["here"], stores["child"]
    assert [(c.chunk_id, c.text) for c in here] == [(c.chunk_id, c.text) for c in child]
    for c in here:
        assert here_vectors[c.chunk_id].keys() == child_vectors[c.chunk_id].keys()
        for span, vector in here_vectors[c.chunk_id].items():
            np.testing.assert_allclose(vector, child_vectors[c.chunk_id][span], atol=1e-6)


class _Counting(HashEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def embed(self, texts):
        self.texts += texts
        return super().embed(texts)


def test_a_sentence_repeated_in_a_later_group_is_embedded_once_with_the_same_vector(tmp_path):
    """Pages repeat boilerplate ("See also"); an ingest keeps the vectors it made, so a later group
    does not embed the same text again, and every stored vector is the text's own."""
    folder = tmp_path / "pages"
    folder.mkdir()
    for i in range(12):
        (folder / f"p{i:02}.md").write_text(
            f"Page {i}\n\nThe harbour {i} loaded {i * 3} ships. See also the harbour list. "
            f"Changed in version 3.{i % 3}: the harbour moved.\n"
        )
    counts = {}
    for cache in (0, 1000):
        embedder = _Counting()
        settings = Settings(data_dir=tmp_path / f"data{cache}", ingest_group_sentences=6, ingest_repeat_cache=cache)
        assistant = Assistant(settings, embedder=embedder)
        assistant.ingest([folder])
        counts[cache] = embedder.texts
        chunks = assistant.store.chunks()
        stored = assistant.store.sentence_vectors([c.chunk_id for c in chunks])
        for c in chunks:
            doc = assistant.document(c.doc_id)
            for (s, e), vector in stored[c.chunk_id].items():
                np.testing.assert_allclose(vector, HashEmbedder().embed([doc.text[s:e]])[0], atol=1e-6)
    assert counts[0].count("See also the harbour list.") > 1  # several groups, each embedding it
    assert counts[1000].count("See also the harbour list.") == 1
    assert len(counts[1000]) == len(set(counts[1000])) < len(counts[0])
