"""Which generation of the store questions are answered from: the pinned `Index`, switched whole
when an ingest (here or in another process) publishes a new generation; the first ingest of a
brand-new data folder; and the store handles this takes and gives back."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path

from .config import Settings
from .embed import Embedder
from .errors import StoreError
from .index import Index
from .ingest import Ingestor, IngestReport, Progress, recorded_roots, writer_lock
from .rows import manifest_digest
from .store import Store

RETIRED_HANDLES = 2  # a handle replaced by a reopen is closed after this many more switches


class Generations:
    """Hands out the current Index. Looks at the store's generation (one small read) at most once
    per `generation_check_seconds`; on a change, builds the new Index beside the old one (questions
    in flight keep theirs) and swaps it in whole. Thread-safe."""

    def __init__(self, settings: Settings, embedder: Embedder, store_name: str) -> None:
        self.settings = settings
        self._embedder = embedder  # raw: ingest embeds every chunk once, no cache needed
        self._store_name = store_name
        self._store: Store | None = None
        self._fresh: bool | None = None  # the data folder was brand new when it was first opened
        self._lock = threading.RLock()
        self._switch = threading.RLock()  # one thread at a time looks for a new generation
        self._index: Index | None = None
        self._checked_at = 0.0
        self._written: str | None = None  # the generation this process's own ingest published
        self._retired: list[Store] = []  # handles replaced by a reopen, closed a little later

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = Store(self.settings, self._store_name)
                if self._fresh is None:
                    self._fresh = self._store.fresh
            return self._store

    def close(self) -> None:
        """Give back every store handle; the next use opens a new one."""
        with self._lock:
            handles = [*self._retired, self._store]
            self._retired, self._store, self._index = [], None, None
        for store in handles:
            if store is not None:
                store.close()

    # --- writing ------------------------------------------------------------------------------
    def ingest(
        self, paths: Iterable[Path | str] | None, progress: Progress | None, *, replace: bool, rebuild: bool
    ) -> IngestReport:
        if paths:
            roots = [Path(p) for p in paths]
        elif rebuild:
            roots = [p for p in recorded_roots(self.settings) if p.exists()] or [self.settings.corpus_dir]
        else:
            roots = [self.settings.corpus_dir]
        with writer_lock(self.settings):
            if rebuild:
                self._rebuild()
            report = Ingestor(self.settings, self.store, self._embedder).sync_paths(
                roots, progress=progress, replace=replace
            )
            with self._lock:
                self._written = self.store.generation()
                self._checked_at = 0.0
        if self._written:
            self.index(force=True)  # statistics and BM25 now, so the first question is fast
        return report

    def _rebuild(self) -> None:
        """Set the broken store aside (embedded) or drop its collections (server), then start anew."""
        with self._lock:
            self._store, self._index = None, None
        if self.settings.chroma_url:
            self.store.drop()
        else:
            folder = self.settings.data_dir / "chroma"
            if folder.exists():
                folder.rename(folder.with_name(f"chroma.broken-{time.strftime('%Y%m%d-%H%M%S')}"))
        with self._lock:
            self._store = None
            self._fresh = False

    # --- reading ------------------------------------------------------------------------------
    def index(self, force: bool = False) -> Index:
        """The pinned generation to answer from (`force`: look at the store now)."""
        with self._lock:
            index = self._index
            if index is not None and not force and not self._due():
                return index
        if index is not None and not force and not self._switch.acquire(blocking=False):
            return index  # another thread is looking; keep answering from what we have
        if index is None or force:
            self._switch.acquire()
        try:
            with self._lock:
                if not force and self._index is not None and self._index is not index and not self._due():
                    return self._index  # built by the thread we waited for
                self._checked_at = time.monotonic()
            return self._switch_to_current(index, force)
        finally:
            self._switch.release()

    def _due(self) -> bool:
        return time.monotonic() - self._checked_at >= self.settings.generation_check_seconds

    def _switch_to_current(self, index: Index | None, force: bool) -> Index:
        store = self.store
        generation = store.generation()
        if not generation:
            generation = self._first_ingest()
            store = self.store
            if self._index is not None and self._index.generation == generation:
                return self._index
        if index is not None and generation == index.generation and not force and (
            index.settled or manifest_digest(store.documents()) == index.digest
        ):
            return index  # still what the store publishes (and holds, if it was read mid-ingest)
        used = index is not None or self._written is not None
        if not self.settings.chroma_url and generation != self._written and used:
            # another process wrote it: a new handle sees its vectors (the old one never would)
            store = store.reopen()
            with self._lock:
                self._retired.append(self._store)
                self._store = store
                if len(self._retired) > RETIRED_HANDLES:  # questions still on it had time to finish
                    self._retired.pop(0).close()
        new = Index.load(self.settings, store)
        with self._lock:
            current = self._index
            if current is None or (current.generation, current.digest) != (new.generation, new.digest) or force:
                self._index = new
            return self._index

    def _first_ingest(self) -> str:
        """An empty store is filled from the bundled corpus only when its data folder is brand
        new; otherwise it was emptied or lost, and the user is told what to ingest again."""
        if self._fresh:
            self._fresh = False
            report = self.ingest(None, None, replace=False, rebuild=False)
            generation = self.store.generation()
            if not generation:
                problems = "; ".join(str(e) for e in report.errors) or "no articles found"
                raise StoreError(f"the store is empty and {self.settings.corpus_dir} gave nothing: {problems}")
            return generation
        roots = [str(p) for p in recorded_roots(self.settings)] or [str(self.settings.corpus_dir)]
        raise StoreError(
            f"the store at {self.store.location} holds no articles embedded by {self.store.model_name} (it was "
            f"emptied or deleted, written by an older version of rag, or with another RAG_EMBED_MODEL or "
            f"RAG_EMBED_PRECISION). Ingest them again: rag ingest {' '.join(roots)}"
        )
