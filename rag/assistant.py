"""The Assistant: wires settings, store, retrieval and an answerer into ask() and chat()."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .answer.base import Answerer, CorpusStats, Evidence, Question
from .answer.extractive import ExtractiveAnswerer
from .citations import is_exact
from .config import Settings
from .embed import CachingEmbedder, Embedder, build_embedder
from .errors import ModelUnavailable, QuestionError, RagError, StoreError
from .derived import load_or_build
from .followup import standalone_offline
from .ingest import Ingestor, IngestReport, Progress
from .retrieve import HybridRetriever
from .store import Store, StoredDocument, sentence_id
from .types import Answer, Delta, Document, Reset, Turn

# How long a question trusts the last look at the store's generation before looking again:
# an ingest by another process is seen within this many seconds.
GENERATION_TTL = 1.0


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
        self._documents = DocumentCache(None)
        self._doc_ids: set[str] = set()
        self._checked_at = 0.0
        self._vectors: OrderedDict[str, Any] = OrderedDict()  # sentence vectors read from the store
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

                    self._answerer = GenerativeAnswerer(OpenAIChat(self.settings), self.offline, self.settings)
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
        with self._lock:
            self._generation = None  # the next question follows the new generation
        if (report.added or report.updated or report.removed) and self.store.generation():
            # build the lexical index and statistics now, so the first question is fast
            self.retriever.prepare(self._ensure_corpus())
        return report

    def documents(self) -> list[StoredDocument]:
        self._ensure_corpus()
        return self.store.documents()

    def document(self, doc_id: str) -> Document:
        """The stored document; citations' offsets point into its `text`."""
        self._ensure_corpus()
        try:
            return self._documents[doc_id]
        except KeyError:
            raise RagError(f"no document {doc_id!r} in the store") from None

    def _ensure_corpus(self) -> str:
        """Check the store's generation (one small read) and follow it: a new generation (an
        ingest, here or in another process) reloads the document view and statistics."""
        with self._lock:
            now = time.monotonic()
            if self._generation and now - self._checked_at < GENERATION_TTL:
                return self._generation
            self._checked_at = now
            generation = self.store.generation()
            if not generation:
                # First question on an empty store: ingest the default corpus.
                report = self.ingest()
                generation = self.store.generation()
                if not generation:
                    problems = "; ".join(str(e) for e in report.errors) or "no articles found"
                    raise StoreError(f"the store is empty and {self.settings.corpus_dir} gave nothing: {problems}")
            if generation != self._generation:
                self._vectors.clear()
                self._documents = DocumentCache(self.store)
                self._doc_ids = {d.doc_id for d in self.store.documents()}
                self._stats = load_or_build(
                    self.settings, self.store.name, "stats", generation,
                    lambda: CorpusStats.from_chunks(self.store.chunks()),
                    lambda stats, folder: stats.save(folder), CorpusStats.load,
                )
                self._generation = generation
            return generation

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
            streamed = False
            try:
                for event in answerer.stream(q, evidence):
                    if isinstance(event, Answer):
                        yield self._checked(event)
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
        yield self._checked(answer)

    def evidence(self, question: Question, doc_ids: Sequence[str] | None = None) -> Evidence:
        generation = self._ensure_corpus()
        if doc_ids:
            unknown = [d for d in doc_ids if d not in self._doc_ids]
            if unknown:
                raise QuestionError(f"no such article(s): {', '.join(unknown)}")
        passages = self.retriever.retrieve(
            question.standalone, doc_ids=list(doc_ids) if doc_ids else None, generation=generation
        )
        self._documents.prefetch([p.doc_id for p in passages])
        return Evidence(
            passages=passages, documents=self._documents, stats=self._stats, sentence_vectors=self._sentence_vectors
        )

    def _sentence_vectors(self, spans: list[tuple[str, int, int]]) -> dict[tuple[str, int, int], Any]:
        ids = {sentence_id(*span): span for span in spans}
        with self._lock:
            found = {i: self._vectors[i] for i in ids if i in self._vectors}
        missing = [i for i in ids if i not in found]
        if missing:
            fetched = self.store.sentence_vectors(missing)
            with self._lock:
                self._vectors.update(fetched)
                while len(self._vectors) > 200_000:
                    self._vectors.popitem(last=False)
            found.update(fetched)
        return {ids[i]: v for i, v in found.items()}

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
        return Question(text=text, standalone=standalone)

    def _checked(self, answer: Answer) -> Answer:
        """The last gate: a citation that is not exact never leaves the assistant."""
        for c in answer.citations:
            doc = self._documents.get(c.doc_id)
            if doc is None or not is_exact(c, doc):
                # Only possible when an article is re-ingested while it is being quoted.
                raise RagError("the articles changed while this answer was written; please ask again")
        return answer


class DocumentCache(Mapping[str, Document]):
    """Documents read from the store on demand, the most recent kept in memory. A large corpus
    never has to be loaded whole to answer a question."""

    def __init__(self, store: Store | None, max_items: int = 2000) -> None:
        self._store = store
        self._max = max_items
        self._docs: OrderedDict[str, Document] = OrderedDict()
        self._lock = threading.Lock()

    def prefetch(self, doc_ids: Iterable[str]) -> None:
        with self._lock:
            missing = [d for d in dict.fromkeys(doc_ids) if d not in self._docs]
        if missing and self._store is not None:
            self._keep(self._store.documents_by_id(missing))

    def _keep(self, docs: dict[str, Document]) -> None:
        with self._lock:
            self._docs.update(docs)
            while len(self._docs) > self._max:
                self._docs.popitem(last=False)

    def __getitem__(self, doc_id: str) -> Document:
        with self._lock:
            doc = self._docs.get(doc_id)
            if doc is not None:
                self._docs.move_to_end(doc_id)
                return doc
        self.prefetch([doc_id])
        with self._lock:
            if doc_id in self._docs:
                return self._docs[doc_id]
        raise KeyError(doc_id)

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._docs))

    def __len__(self) -> int:
        return len(self._docs)
