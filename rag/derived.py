"""Indexes derived from the store (BM25, corpus statistics), saved under data_dir and keyed by the
digest of the document versions they were built from: a restart (or another process) loads them
instead of rebuilding, and any change to the documents makes the next reader rebuild them once."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
from collections.abc import Callable
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
    base = _folder(settings, store_name, kind)
    path = base / hashlib.sha256(generation.encode()).hexdigest()[:16]
    if path.exists():
        try:
            return load(path)
        except Exception as exc:  # noqa: BLE001 - a damaged cache is rebuilt, never fatal
            log.warning("rebuilding %s: the saved copy is unreadable (%s)", kind, exc)
            shutil.rmtree(path, ignore_errors=True)
    value = build()
    try:
        tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save(value, tmp)
        try:
            tmp.rename(path)
        except OSError:  # another process saved the same version first
            shutil.rmtree(tmp, ignore_errors=True)
        saved = sorted((p for p in base.iterdir() if not p.name.endswith(".tmp")), key=_mtime, reverse=True)
        for old in saved[KEEP:]:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        log.warning("could not save %s under %s: %s", kind, base, exc)
    return value


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
