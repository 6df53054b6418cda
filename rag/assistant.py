"""The Assistant: a thin façade that wires settings, store, retrieval and an answerer into
ask(), chat() and stream(), and releases what it opened on close()."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from .allocator import bound_arenas
from .answer.base import Answerer, Evidence, Question
from .answer.extractive import ExtractiveAnswerer
from .citations import is_exact
from .config import Settings
from .embed import CachingEmbedder, Embedder, build_embedder
from .errors import ModelUnavailable, QuestionError, RagError, StoreError
from .generations import Generations
from .index import Index, PinnedDocuments, StaleIndex
from .ingest import IngestReport, Progress
from .llm import ChatModel
from .questions import prepare
from .retrieve import HybridRetriever
from .rows import StoredDocument
from .store import Store
from .types import Answer, Delta, Document, Event, Reset, Turn


class Assistant:
    """Answers questions about the articles with verbatim, offset-exact citations.

    `Assistant()` uses the bundled corpus, local embeddings and the offline answerer. Pass
    `embedder=` or `answerer=` to swap providers (tests pass fakes). Nothing heavy happens
    until the first question. Use it as `with Assistant() as a:` or call `close()`.

    Every question is answered from one pinned generation of the store (an `Index`, kept by
    `Generations`); when an ingest publishes a new one, the next question switches to it.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        answerer: Answerer | None = None,
    ) -> None:
        bound_arenas()  # before any thread of ours starts: memory stays flat while embedding on several
        self.settings = settings or Settings()
        self._raw_embedder: Embedder = embedder or build_embedder(self.settings)
        self.embedder: Embedder = CachingEmbedder(self._raw_embedder)
        self.retriever = HybridRetriever(self.settings, self.embedder)
        self._generations = Generations(self.settings, self._raw_embedder, self.embedder.name)
        self._given = answerer
        self._chat_model: ChatModel | None = None  # built once, shared by every answerer built after
        self._answerers: tuple[Answerer, ExtractiveAnswerer] | None = None
        self._built_for: str | None = None  # the generation the answerers' caches belong to
        self._lock = threading.Lock()

    # --- lifecycle ----------------------------------------------------------------------------
    def close(self) -> None:
        """Release the store handles and the embedding model; a later question reopens them."""
        self._generations.close()
        self.retriever.close()
        close = getattr(self._raw_embedder, "close", None)  # fakes hold nothing to release
        if close is not None:
            close()

    def __enter__(self) -> "Assistant":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the parts ----------------------------------------------------------------------------
    @property
    def store(self) -> Store:
        return self._generations.store

    @property
    def answerer(self) -> Answerer:
        """The generative answerer when a model endpoint is configured, else the offline one."""
        return self._pair(None)[0]

    @property
    def offline(self) -> ExtractiveAnswerer:
        """The extractive answerer: the default, and the fallback when a model is unavailable."""
        return self._pair(None)[1]

    @property
    def mode(self) -> str:
        return self.answerer.mode

    def _pair(self, generation: str | None) -> tuple[Answerer, ExtractiveAnswerer]:
        """The answerers for answering from `generation` (None: whatever is current). Built anew
        when the generation changes: their caches are keyed by offsets into the old texts."""
        with self._lock:
            if self._answerers is None or (generation is not None and generation != self._built_for):
                offline = ExtractiveAnswerer(
                    self.embedder,
                    min_relevance=self.settings.min_relevance,
                    max_citations=self.settings.max_citations,
                    scoring=self.settings.scoring,
                )
                self._answerers = (self._given or self._model_answerer(offline) or offline, offline)
                self._built_for = generation
            return self._answerers

    def _model_answerer(self, offline: ExtractiveAnswerer) -> Answerer | None:
        if not self.settings.llm_configured:
            return None
        from .answer.generative import GenerativeAnswerer
        from .llm import OpenAIChat

        if self._chat_model is None:
            self._chat_model = OpenAIChat(self.settings)
        return GenerativeAnswerer(self._chat_model, offline, self.settings)

    # --- corpus -------------------------------------------------------------------------------
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
        return self._generations.ingest(paths, progress, replace=replace, rebuild=rebuild)

    def documents(self) -> list[StoredDocument]:
        return self._current().documents()

    def document(self, doc_id: str) -> Document:
        """The stored document's current version; citations' offsets point into its `text`."""
        try:
            return self._current().document(doc_id)
        except StaleIndex:
            pass  # a newer generation replaced it: look once more
        except KeyError:
            raise RagError(f"no document {doc_id!r} in the store") from None
        try:
            return self._current(force=True).document(doc_id)
        except KeyError:
            raise RagError(f"no document {doc_id!r} in the store") from None

    def _current(self, force: bool = False) -> Index:
        return self._generations.index(force=force)

    # --- questions ----------------------------------------------------------------------------
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
        q = prepare(question, history, self.answerer, self.settings.max_question_chars)
        evidence, generation = self._evidence(q, doc_ids)
        answerer, offline = self._pair(generation)
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
        answer = replace(offline.answer(q, evidence), notice=notice)
        yield Delta(answer.text)
        yield self._checked(answer, evidence)

    def evidence(self, question: Question, doc_ids: Sequence[str] | None = None) -> Evidence:
        """Passages, the documents they quote and their sentences' vectors, all from one pinned
        generation."""
        return self._evidence(question, doc_ids)[0]

    def _evidence(self, question: Question, doc_ids: Sequence[str] | None) -> tuple[Evidence, str]:
        """If the pinned generation's rows were replaced meanwhile, the newest generation is
        pinned and the search runs once more: a writer never makes a question fail."""
        for attempt in range(3):
            index = self._current(force=attempt > 0)
            if doc_ids:
                unknown = [d for d in doc_ids if d not in index.manifest]
                if unknown and attempt == 0:
                    continue  # perhaps a newer generation has them
                if unknown:
                    raise QuestionError(f"no such article(s): {', '.join(unknown)}")
            # "What did the Telegraph report ...?": that outlet's articles, unless the reader chose some
            scope = list(doc_ids) if doc_ids else index.named_sources(question.standalone)
            try:
                passages = self.retriever.retrieve(index, question.standalone, doc_ids=scope)
                documents = PinnedDocuments(index, index.fetch(p.doc_id for p in passages))
            except StoreError:
                if attempt == 2:
                    raise
                continue
            terms, shapes = index.passage_sentences(passages)
            evidence = Evidence(passages=passages, documents=documents, stats=index.stats,
                                sentence_vectors=index.passage_vectors(passages), sentence_terms=terms,
                                sentence_shapes=shapes)
            return evidence, index.generation
        raise AssertionError("unreachable")

    def _checked(self, answer: Answer, evidence: Evidence) -> Answer:
        """The last gate: a citation that is not exact in the text it was taken from never
        leaves the assistant."""
        for c in answer.citations:
            doc = evidence.documents.get(c.doc_id)
            if doc is None or not is_exact(c, doc):
                raise RagError(f"citation of {c.doc_id} at {c.start}-{c.end} is not an exact quote; please ask again")
        return answer
