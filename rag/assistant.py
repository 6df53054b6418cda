"""The Assistant: wires settings, store, retrieval and an answerer into ask() and chat()."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from .answer.base import Answerer, Evidence, Question
from .answer.extractive import ExtractiveAnswerer
from .citations import is_exact
from .config import Settings
from .embed import CachingEmbedder, Embedder, build_embedder
from .errors import ModelUnavailable, QuestionError, RagError, StoreError
from .followup import standalone_offline
from .index import Index, PinnedDocuments, StaleIndex
from .ingest import Ingestor, IngestReport, Progress, recorded_roots, writer_lock
from .retrieve import HybridRetriever
from .store import Store, StoredDocument
from .types import Answer, Delta, Document, Event, Reset, Turn


class Assistant:
    """Answers questions about the articles with verbatim, offset-exact citations.

    `Assistant()` uses the bundled corpus, local embeddings and the offline answerer. Pass
    `embedder=` or `answerer=` to swap providers (tests pass fakes). Nothing heavy happens
    until the first question.

    Every question is answered from one pinned generation of the store (an `Index`); when an
    ingest (here or in another process) publishes a new one, the next question switches to it.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        answerer: Answerer | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._raw_embedder: Embedder = embedder or build_embedder(self.settings)
        self.embedder: Embedder = CachingEmbedder(self._raw_embedder)
        self._answerer = answerer
        self._offline: ExtractiveAnswerer | None = None
        self._store: Store | None = None
        self._fresh: bool | None = None  # the data folder was brand new when this assistant opened it
        self._retriever = HybridRetriever(self.settings, self.embedder)
        self._lock = threading.RLock()
        self._switch = threading.RLock()  # one thread at a time looks for a new generation
        self._index: Index | None = None
        self._checked_at = 0.0
        self._written: str | None = None  # the generation this process's own ingest published
        self._retired: list[Store] = []  # handles replaced by a reopen, closed a little later

    # --- the parts, built on first use ---------------------------------------------------------
    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = Store(self.settings, self.embedder.name)
                if self._fresh is None:
                    self._fresh = self._store.fresh
            return self._store

    @property
    def retriever(self) -> HybridRetriever:
        return self._retriever

    @property
    def offline(self) -> ExtractiveAnswerer:
        """The extractive answerer: the default, and the fallback when a model is unavailable."""
        with self._lock:
            if self._offline is None:
                self._offline = ExtractiveAnswerer(
                    self.embedder,
                    min_relevance=self.settings.min_relevance,
                    max_citations=self.settings.max_citations,
                    scoring=self.settings.scoring,
                )
            return self._offline

    @property
    def answerer(self) -> Answerer:
        """The generative answerer when a model endpoint is configured, else the offline one."""
        with self._lock:
            if self._answerer is None:
                if self.settings.llm_configured:
                    from .answer.generative import GenerativeAnswerer
                    from .llm import OpenAIChat

                    self._answerer = GenerativeAnswerer(OpenAIChat(self.settings), self.offline, self.settings)
                else:
                    self._answerer = self.offline
            return self._answerer

    @property
    def mode(self) -> str:
        return self.answerer.mode

    # --- corpus -----------------------------------------------------------------------------
    def ingest(
        self,
        paths: Iterable[Path | str] | None = None,
        progress: Progress | None = None,
        *,
        replace: bool = False,
        rebuild: bool = False,
    ) -> IngestReport:
        """Sync the store with article files (default: the corpus folder). `replace` lets a file
        take over a document id stored from another file; `rebuild` moves a broken store aside
        and ingests into a new one (default paths: the folders ingested before)."""
        if paths:
            roots = [Path(p) for p in paths]
        elif rebuild:
            roots = [p for p in recorded_roots(self.settings) if p.exists()] or [self.settings.corpus_dir]
        else:
            roots = [self.settings.corpus_dir]
        with writer_lock(self.settings):
            if rebuild:
                self._rebuild()
            report = Ingestor(self.settings, self.store, self._raw_embedder).sync_paths(
                roots, progress=progress, replace=replace
            )
            with self._lock:
                self._written = self.store.generation()
                self._checked_at = 0.0
        if self._written:
            self._current(force=True)  # statistics and BM25 now, so the first question is fast
        return report

    def _rebuild(self) -> None:
        """Set the broken store aside (embedded) or drop its collections (server), then start anew."""
        import time as _time

        with self._lock:
            self._store, self._index = None, None
        if self.settings.chroma_url:
            try:
                self.store.drop()
            except StoreError:
                raise
        else:
            folder = self.settings.data_dir / "chroma"
            if folder.exists():
                folder.rename(folder.with_name(f"chroma.broken-{_time.strftime('%Y%m%d-%H%M%S')}"))
        with self._lock:
            self._store = None
            self._fresh = False

    def documents(self) -> list[StoredDocument]:
        return self._current().documents()

    def document(self, doc_id: str) -> Document:
        """The stored document's current version; citations' offsets point into its `text`."""
        for attempt in range(2):
            index = self._current(force=attempt > 0)
            try:
                return index.document(doc_id)
            except KeyError:
                raise RagError(f"no document {doc_id!r} in the store") from None
            except StaleIndex:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _current(self, force: bool = False) -> Index:
        """The pinned generation to answer from. Looks at the store's generation (one small read)
        at most once per `generation_check_seconds`; on a change, builds the new Index beside the
        old one (questions in flight keep theirs) and swaps it in whole."""
        with self._lock:
            index = self._index
            if index is not None and not force and (
                time.monotonic() - self._checked_at < self.settings.generation_check_seconds
            ):
                return index
        if index is not None and not force and not self._switch.acquire(blocking=False):
            return index  # another thread is looking; keep answering from what we have
        if index is None or force:
            self._switch.acquire()
        try:
            with self._lock:
                fresh = time.monotonic() - self._checked_at < self.settings.generation_check_seconds
                if not force and self._index is not None and self._index is not index and fresh:
                    return self._index  # built by the thread we waited for
                self._checked_at = time.monotonic()
            store = self.store
            generation = store.generation()
            if not generation:
                generation = self._empty_store()
                store = self.store
                if self._index is not None and self._index.generation == generation:
                    return self._index
            if index is not None and generation == index.generation and not force:
                return index
            used = index is not None or self._written is not None
            if not self.settings.chroma_url and generation != self._written and used:
                # another process wrote it: a new handle sees its vectors (the old one never would)
                store = store.reopen()
                with self._lock:
                    self._retired.append(self._store)
                    self._store = store
                    if len(self._retired) > 2:  # questions still on it had two switches to finish
                        self._retired.pop(0).close()
            new = Index.load(self.settings, store)
            with self._lock:
                if self._index is None or self._index.generation != new.generation or force:
                    self._index = new
                    self._offline, old = None, self._offline
                    if self._answerer is old and old is not None:
                        self._answerer = None  # its caches are keyed by offsets of the old texts
                return self._index
        finally:
            self._switch.release()

    def _empty_store(self) -> str:
        """An empty store is filled from the bundled corpus only when its data folder is brand
        new; otherwise it was emptied or lost, and the user is told what to ingest again."""
        if self._fresh:
            self._fresh = False
            report = self.ingest()
            generation = self.store.generation()
            if not generation:
                problems = "; ".join(str(e) for e in report.errors) or "no articles found"
                raise StoreError(f"the store is empty and {self.settings.corpus_dir} gave nothing: {problems}")
            return generation
        roots = [str(p) for p in recorded_roots(self.settings)] or [str(self.settings.corpus_dir)]
        raise StoreError(
            f"the store at {self.store.location} holds no articles (it was emptied or deleted, or written "
            f"by an older version of rag). Ingest them again: rag ingest {' '.join(roots)}"
        )

    # --- questions --------------------------------------------------------------------------
    def ask(self, question: str, doc_ids: Sequence[str] | None = None) -> Answer:
        """Answer one question from the articles (optionally only from `doc_ids`)."""
        return self.chat(question, history=(), doc_ids=doc_ids)

    def chat(self, question: str, history: Sequence[Turn] = (), doc_ids: Sequence[str] | None = None) -> Answer:
        """Answer a question in a conversation; follow-ups use the earlier turns."""
        final = None
        for event in self.stream(question, history, doc_ids):
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final

    def stream(
        self, question: str, history: Sequence[Turn] = (), doc_ids: Sequence[str] | None = None
    ) -> Iterator[Event]:
        """Yield answer text as it is written (Delta), then the verified Answer, always last.
        When the model endpoint is down or slow, the offline answer comes with a notice."""
        q = self._question(question, history)
        evidence = self.evidence(q, doc_ids)
        answerer = self.answerer
        notice = None
        if hasattr(answerer, "stream"):
            streamed = False
            try:
                for event in answerer.stream(q, evidence):
                    if isinstance(event, Answer):
                        yield self._checked(event, evidence)
                        return
                    streamed = streamed or isinstance(event, Delta)
                    yield event
                return
            except ModelUnavailable as exc:
                notice = f"{exc}; this is the offline answer."
                if streamed:
                    yield Reset("the model failed; the offline answer follows")
        answer = self.offline.answer(q, evidence) if notice else answerer.answer(q, evidence)
        if notice:
            answer = replace(answer, notice=notice)
        yield Delta(answer.text)
        yield self._checked(answer, evidence)

    def evidence(self, question: Question, doc_ids: Sequence[str] | None = None) -> Evidence:
        """Passages and the documents they quote, all from one pinned generation. If that
        generation's rows were replaced meanwhile, the newest generation is pinned and the
        search runs once more: a writer never makes a question fail."""
        for attempt in range(3):
            index = self._current(force=attempt > 0)
            if doc_ids:
                unknown = [d for d in doc_ids if d not in index.manifest]
                if unknown and attempt == 0:
                    continue  # perhaps a newer generation has them
                if unknown:
                    raise QuestionError(f"no such article(s): {', '.join(unknown)}")
            try:
                passages = self.retriever.retrieve(
                    index, question.standalone, doc_ids=list(doc_ids) if doc_ids else None
                )
                documents = PinnedDocuments(index, index.fetch(p.doc_id for p in passages))
            except StoreError:
                if attempt == 2:
                    raise
                continue
            return Evidence(
                passages=passages, documents=documents, stats=index.stats, sentence_vectors=index.sentence_vectors
            )
        raise AssertionError("unreachable")

    def _question(self, question: str, history: Sequence[Turn]) -> Question:
        if not isinstance(question, str) or not question.strip():
            raise QuestionError("Please type a question.")
        text = " ".join(question.split())
        if len(text) > self.settings.max_question_chars:
            raise QuestionError(
                f"The question is {len(text)} characters long; the limit is {self.settings.max_question_chars}. "
                "Please shorten it."
            )
        turns = tuple(history)
        standalone = standalone_offline(text, turns)
        condense = getattr(self.answerer, "condense", None)
        if condense and standalone != text:
            try:
                standalone = condense(text, turns)
            except RagError:
                pass  # the offline rewrite stands in
        earlier = next((t.content for t in reversed(turns) if t.role == "assistant"), "") if standalone != text else ""
        return Question(text=text, standalone=standalone, earlier=earlier)

    def _checked(self, answer: Answer, evidence: Evidence) -> Answer:
        """The last gate: a citation that is not exact in the text it was taken from never
        leaves the assistant."""
        for c in answer.citations:
            doc = evidence.documents.get(c.doc_id)
            if doc is None or not is_exact(c, doc):
                raise RagError(f"citation of {c.doc_id} at {c.start}-{c.end} is not an exact quote; please ask again")
        return answer
