"""Indexes derived from the store (BM25, corpus statistics), saved under data_dir and keyed by the
digest of the document versions they were built from: a restart (or another process) loads them
instead of rebuilding, and any change to the documents makes the next reader rebuild them once."""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

from .config import Settings

T = TypeVar("T")
KEEP = 4  # saved versions per kind: readers of the last few generations all find theirs
log = logging.getLogger(__name__)


def _folder(settings: Settings, store_name: str, kind: str) -> Path:
    where = hashlib.sha256(f"{settings.chroma_url or settings.data_dir.resolve()}|{store_name}".encode()).hexdigest()
    return settings.data_dir / "derived" / f"{kind}-{where[:10]}"


def load_or_build(
    settings: Settings,
    store_name: str,
    kind: str,
    generation: str,
    build: Callable[[], T],
    save: Callable[[T, Path], None],
    load: Callable[[Path], T],
) -> T:
    """The `kind` index for this generation: loaded if saved, else built and saved."""
    path = _path(settings, store_name, kind, generation)
    saved = _load(path, kind, load)
    if saved is not None:
        return saved[0]
    value = build()
    _publish(path, lambda folder: save(value, folder))
    return value


def load_or_write(
    settings: Settings,
    store_name: str,
    kind: str,
    generation: str,
    write: Callable[[Path], None],
    load: Callable[[Path], T],
) -> T | None:
    """The same for an index too big to build in memory: `write` fills a folder as it goes, and
    the saved folder is loaded (None when it could not be written)."""
    path = _path(settings, store_name, kind, generation)
    saved = _load(path, kind, load)
    if saved is not None:
        return saved[0]
    _publish(path, write)
    saved = _load(path, kind, load)
    return saved[0] if saved is not None else None


def read_index(path: Path, version: int, what: str) -> dict:
    """The JSON index of a saved folder, refused when an older layout wrote it (it is then rebuilt)."""
    index = json.loads(path.read_text(encoding="utf-8"))
    if index.get("version") != version:
        raise ValueError(f"saved {what} are version {index.get('version')}, not {version}")
    return index


def map_file(path: Path, spans: Iterable[Sequence[int]]) -> mmap.mmap | bytes:
    """A saved file mapped read-only, refused when it is shorter than the (offset, length, ...)
    spans its index gives. The mapping outlives the file (another process may prune it)."""
    size = path.stat().st_size
    if max((span[0] + span[1] for span in spans), default=0) > size:
        raise ValueError(f"{path} is shorter than its index says")
    if size == 0:
        return b""
    with open(path, "rb") as handle:
        return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)


def is_saved(settings: Settings, store_name: str, kind: str, generation: str) -> bool:
    """True when the `kind` index of this generation is saved (loading it may still fail)."""
    return _path(settings, store_name, kind, generation).exists()


def _path(settings: Settings, store_name: str, kind: str, generation: str) -> Path:
    return _folder(settings, store_name, kind) / hashlib.sha256(generation.encode()).hexdigest()[:16]


def _load(path: Path, kind: str, load: Callable[[Path], T]) -> tuple[T] | None:
    if path.exists():
        try:
            return (load(path),)
        except Exception as exc:  # noqa: BLE001 - a damaged cache is rebuilt, never fatal
            log.warning("rebuilding %s: the saved copy is unreadable (%s)", kind, exc)
            shutil.rmtree(path, ignore_errors=True)
    return None


def _publish(path: Path, write: Callable[[Path], None]) -> None:
    """Fill a temporary folder, then rename it into place (a reader never sees half of one); keep
    the newest KEEP versions."""
    base = path.parent
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            write(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        try:
            tmp.rename(path)
        except OSError:  # another process saved the same version first
            shutil.rmtree(tmp, ignore_errors=True)
        saved = sorted((p for p in base.iterdir() if not p.name.endswith(".tmp")), key=_mtime, reverse=True)
        for old in saved[KEEP:]:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        log.warning("could not save %s: %s", base, exc)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
