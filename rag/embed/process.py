"""An embedder that runs in a child process, for big ingests.

In one process, every Python step of an ingest (parsing, chunking, and above all Chroma's upserts,
which hold the GIL for their whole call) stops the embedding threads as soon as their batch ends,
and the cores wait. In a child process the embedding keeps both cores busy whatever the parent
does: measured on 150 pages, the ingest took 41.0-41.5 s against 44.0-47.1 s.

The child is a fresh interpreter (`python -m rag.embed.process`), not a fork or a multiprocessing
"spawn": forking copies the parent's threads' locks, and "spawn" imports the parent's main script
again (a user's script that ingests at top level would ingest twice). They talk over a socket pair:
the texts go one way and float32 rows come back. The child ends when its socket closes, so a parent
that is killed takes it along.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ProviderError

_STOP_SECONDS = 5.0  # how long `close` waits for the child before killing it


class ProcessEmbedder:
    """Embeds with `factory()` built in a child process. Thread-safe (one call at a time)."""

    def __init__(self, factory: Callable[[], Any], name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        ours, theirs = socket.socketpair()
        package_root = str(Path(__file__).resolve().parents[2])  # the child imports this very `rag`
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        try:
            self._child = subprocess.Popen(
                [sys.executable, "-m", "rag.embed.process", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, env=env,
            )
        except (OSError, ValueError) as exc:  # ValueError: no descriptors to pass (not POSIX)
            ours.close()
            raise ProviderError(f"could not start the embedding process: {exc}") from exc
        finally:
            theirs.close()
        self._conn: Connection | None = Connection(ours.detach())
        self._conn.send(factory)

    def warm_up(self) -> None:
        """Load the model in the child now (an ingest does it while the first files are parsed)."""
        self._call("warm_up", None)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return self._call("embed", texts)

    def _call(self, what: str, texts: list[str] | None) -> Any:
        with self._lock:
            if self._conn is None:
                raise ProviderError("the embedding process is closed")
            try:
                self._conn.send((what, texts))
                status, value = self._conn.recv()
            except (EOFError, OSError) as exc:
                code = self._child.poll()
                raise ProviderError(
                    f"the embedding process stopped ({'exit code ' + str(code) if code is not None else exc}); "
                    "run the ingest again"
                ) from exc
        if status == "error":
            raise ProviderError(f"embedding failed: {value}")
        return value

    def close(self) -> None:
        """Stop the child (it ends when its socket closes)."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        try:
            self._child.wait(_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()

    def __enter__(self) -> "ProcessEmbedder":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def serve(fd: int) -> None:
    """The child's loop: build the embedder, then answer each request until the socket closes.
    Ctrl-C reaches the whole process group; the parent decides, and closes the socket."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(fd)
    try:
        embedder = conn.recv()()
    except EOFError:
        return
    except Exception as exc:  # noqa: BLE001 - the parent raises it at its first request
        embedder, failure = None, f"{type(exc).__name__}: {exc}"
    while True:
        try:
            what, texts = conn.recv()
        except EOFError:
            return
        try:
            if embedder is None:
                raise ProviderError(failure)
            if what == "warm_up":
                warm_up = getattr(embedder, "warm_up", None)
                result = warm_up() if warm_up is not None else None
            else:
                result = np.asarray(embedder.embed(texts), dtype=np.float32)
            reply = ("ok", result)
        except Exception as exc:  # noqa: BLE001 - sent to the parent, which raises it
            reply = ("error", str(exc) if isinstance(exc, ProviderError) else f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except OSError:
            return


if __name__ == "__main__":
    serve(int(sys.argv[1]))
