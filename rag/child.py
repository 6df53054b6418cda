"""Work in a child process, for the few places where two cores can do more than one GIL lets them:
an ingest's embedding (rag/embed/process.py) and the corpus statistics built beside BM25 (index.py).

The child is a fresh interpreter (`python -m rag.child`), not a fork or a multiprocessing "spawn":
forking copies the parent's threads' locks, and "spawn" imports the parent's main script again (a
user's script that ingests at top level would ingest twice). They talk over a socket pair: the
parent sends a picklable factory once, then method calls; the child builds the object and answers
each call. The child ignores Ctrl-C (it reaches the whole process group; the parent decides) and
ends when its socket closes, so a parent that is killed takes it along.
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

_STOP_SECONDS = 5.0  # how long `close` waits for the child before killing it


class ChildError(RuntimeError):
    """The child could not start, or a call raised there (the message says what)."""


class ChildStopped(ChildError):
    """The child is gone (it died, or was closed): no call can reach it."""


class Child:
    """An object built by `factory()` in a child process; `call` runs one of its methods there.
    Thread-safe (one call at a time). `what` names the child in error messages."""

    def __init__(self, factory: Callable[[], Any], what: str) -> None:
        self.what = what
        self._lock = threading.Lock()
        ours, theirs = socket.socketpair()
        package_root = str(Path(__file__).resolve().parents[1])  # the child imports this very `rag`
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "rag.child", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, env=env,
            )
        except (OSError, ValueError) as exc:  # ValueError: no descriptors to pass (not POSIX)
            ours.close()
            raise ChildError(f"could not start {what}: {exc}") from exc
        finally:
            theirs.close()
        self._conn: Connection | None = Connection(ours.detach())
        self._conn.send(factory)

    def call(self, method: str, *args: Any) -> Any:
        with self._lock:
            if self._conn is None:
                raise ChildStopped(f"{self.what} is closed")
            try:
                self._conn.send((method, args))
                status, value = self._conn.recv()
            except (EOFError, OSError) as exc:
                code = self.process.poll()
                raise ChildStopped(
                    f"{self.what} stopped ({'exit code ' + str(code) if code is not None else exc})"
                ) from exc
        if status == "error":
            raise ChildError(value)
        return value

    def close(self) -> None:
        """Stop the child (it ends when its socket closes)."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        try:
            self.process.wait(_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> "Child":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def serve(fd: int) -> None:
    """The child's loop: build the object, then answer each call until the socket closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(fd)
    try:
        target, failure = conn.recv()(), ""
    except EOFError:
        return
    except Exception as exc:  # noqa: BLE001 - the parent raises it at its first call
        target, failure = None, _describe(exc)
    while True:
        try:
            method, args = conn.recv()
        except EOFError:
            return
        try:
            if target is None:
                raise ChildError(failure)
            reply = ("ok", getattr(target, method)(*args))
        except Exception as exc:  # noqa: BLE001 - sent to the parent, which raises it
            reply = ("error", failure if target is None else _describe(exc))
        try:
            conn.send(reply)
        except OSError:
            return


def _describe(exc: BaseException) -> str:
    from .errors import RagError

    return str(exc) if isinstance(exc, RagError) else f"{type(exc).__name__}: {exc}"


if __name__ == "__main__":
    serve(int(sys.argv[1]))
