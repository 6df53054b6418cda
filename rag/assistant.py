"""The Assistant: wires settings, store, retrieval and an answerer into ask() and chat()."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from .answer.base import Answerer, CorpusStats, Evidence, Question
from .answer.extractive import ExtractiveAnswerer
from .citations import is_exact
from .config import Settings
from .embed import CachingEmbedder, Embedder, build_embedder
from .errors import ModelUnavailable, QuestionError, RagError, StoreError
from .followup import standalone_offline
from .ingest import Ingestor, IngestReport, Progress
from .retrieve import HybridRetriever
from .store import Store, StoredDocument
from .types import Answer, Delta, Document, Turn


class Assistant:
    """Answers questions about the articles with verbatim, offset-exact citations.

    `Assistant()` uses the bundled corpus, local embeddings and the offline answerer. Pass
    `embedder=` or `answerer=` to swap providers (tests pass fakes). Nothing heavy happens
    until the first question.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        answerer: Answerer | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.embedder: Embedder = CachingEmbedder(embedder or build_embedder(self.settings))
        self._answerer = answerer
        self._offline: ExtractiveAnswerer | None = None
        self._store: Store | None = None
        self._retriever: HybridRetriever | None = None
        self._lock = threading.RLock()
        self._generation: str | None = None
        self._documents: dict[str, Document] = {}
        self._stats = CorpusStats()

    # --- the parts, built on first use ---------------------------------------------------------
    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = Store(self.settings, self.embedder.name)
            return self._store

    @property
    def retriever(self) -> HybridRetriever:
        with self._lock:
            if self._retriever is None:
                self._retriever = HybridRetriever(self.settings, self.store, self.embedder)
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

                    self._answerer = GenerativeAnswerer(OpenAIChat(self.settings))
                else:
                    self._answerer = self.offline
            return self._answerer

    @property
    def mode(self) -> str:
        return self.answerer.mode

    # --- corpus -----------------------------------------------------------------------------
    def ingest(self, paths: Iterable[Path | str] | None = None, progress: Progress | None = None) -> IngestReport:
        """Sync the store with article files (default: the corpus folder)."""
        roots = [Path(p) for p in paths] if paths else [self.settings.corpus_dir]
        report = Ingestor(self.settings, self.store, self.embedder).sync_paths(roots, progress=progress)
        self._refresh()
        return report

    def documents(self) -> list[StoredDocument]:
        self._ensure_corpus()
        return self.store.documents()

    def document(self, doc_id: str) -> Document:
        """The stored document; citations' offsets point into its `text`."""
        self._ensure_corpus()
        doc = self._documents.get(doc_id) or self.store.document(doc_id)
        if doc is None:
            raise RagError(f"no document {doc_id!r} in the store")
        return doc

    def _ensure_corpus(self) -> None:
        with self._lock:
            if self._generation is None:
                self._refresh()
            if not self._generation:
                # First question on an empty store: ingest the default corpus.
                report = self.ingest()
                if not self._generation:
                    problems = "; ".join(str(e) for e in report.errors) or "no articles found"
                    raise StoreError(f"the store is empty and {self.settings.corpus_dir} gave nothing: {problems}")

    def _refresh(self) -> None:
        with self._lock:
            generation = self.store.generation()
            if generation != self._generation:
                docs = [self.store.document(d.doc_id) for d in self.store.documents()]
                self._documents = {d.doc_id: d for d in docs if d is not None}
                self._stats = CorpusStats.build(list(self._documents.values()))
                self._generation = generation
                self.retriever.refresh()

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
    ) -> Iterator[Delta | Answer]:
        """Yield answer text as it is written (Delta), then the verified Answer, always last.
        When the model endpoint is down or slow, the offline answer comes with a notice."""
        q = self._question(question, history)
        evidence = self.evidence(q, doc_ids)
        answerer = self.answerer
        notice = None
        if hasattr(answerer, "stream"):
            try:
                for event in answerer.stream(q, evidence):
                    if isinstance(event, Answer):
                        yield self._checked(event)
                        return
                    yield event
                return
            except ModelUnavailable as exc:
                notice = f"{exc}; this is the offline answer."
        answer = self.offline.answer(q, evidence) if notice else answerer.answer(q, evidence)
        if notice:
            answer = replace(answer, notice=notice)
        yield Delta(answer.text)
        yield self._checked(answer)

    def evidence(self, question: Question, doc_ids: Sequence[str] | None = None) -> Evidence:
        self._ensure_corpus()
        if doc_ids:
            unknown = [d for d in doc_ids if d not in self._documents]
            if unknown:
                raise QuestionError(f"no such article(s): {', '.join(unknown)}")
        passages = self.retriever.retrieve(question.standalone, doc_ids=list(doc_ids) if doc_ids else None)
        return Evidence(passages=passages, documents=self._documents, stats=self._stats)

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
        return Question(text=text, standalone=standalone, history=turns)

    def _checked(self, answer: Answer) -> Answer:
        """The last gate: a citation that is not exact never leaves the assistant."""
        for c in answer.citations:
            doc = self._documents.get(c.doc_id)
            if doc is None or not is_exact(c, doc):
                raise RagError(f"internal error: citation of {c.doc_id} at {c.start}:{c.end} is not verbatim")
        return answer
