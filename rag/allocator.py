"""The C allocator's share of memory staying flat: a process that embeds on several threads keeps
glibc from growing a malloc arena per thread."""

from __future__ import annotations

import ctypes
import os
import sys

ARENAS = 2
_done = False


def bound_arenas() -> None:
    """glibc gives threads their own malloc arenas, and the batch buffers freed in them stay there:
    with the embedding and writer threads, an ingest of 150 pages peaked at 1,290 MB; with at most
    two arenas, 913 MB, at the same speed. Only arenas made after the call are bounded, so it runs
    when an Assistant is made, before the store's and the embedder's threads start. Only where
    glibc is the allocator, and never over the user's own MALLOC_ARENA_MAX."""
    global _done
    if _done or not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return
    _done = True
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, ARENAS)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass  # not glibc (musl, for one, has no arenas to bound)
