"""A small OpenAI-compatible chat server on 127.0.0.1 with scripted replies, for tests.

Each request to /v1/chat/completions takes the next scripted Reply: a streamed or plain
completion, an HTTP error, a slow reply, a stream that trickles or breaks off, or raw bytes
(a malformed stream). GET /v1/models lists `served` (like llama.cpp, one model that accepts any name)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    content: str = ""
    status: int = 200
    delay: float = 0.0
    finish_reason: str = "stop"
    chunk_size: int = 7  # characters per streamed chunk
    pause: float = 0.0  # seconds between streamed chunks (each read is quick, the whole reply is slow)
    cut_after: int | None = None  # drop the connection after this many chunks
    raw: bytes | None = None  # sent as-is instead of a well-formed reply
    respond: Callable[[dict], str] | None = None  # content computed from the request (its prompt)
    headers: dict[str, str] = field(default_factory=dict)


def hash_word(word: str) -> int:
    import hashlib

    return int(hashlib.sha256(word.strip(".,;:!?\"'“”’").encode()).hexdigest(), 16)


class ScriptedOpenAI:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[dict] = []
        self.default: Reply | None = None
        self.embedded = 0  # texts sent to /v1/embeddings
        self.served = ["scripted-model"]  # what GET /v1/models lists
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> "ScriptedOpenAI":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def script(self, *replies: Reply | str) -> None:
        self.replies.clear()
        self.requests.clear()
        self.default = None
        for r in replies:
            self.replies.append(Reply(content=r) if isinstance(r, str) else r)

    def _next(self) -> Reply:
        if self.replies:
            return self.replies.popleft()
        if self.default:
            return self.default
        return Reply(status=500, content="no scripted reply left")

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/").endswith("/models"):
                    data = [{"id": m, "object": "model", "created": 0, "owned_by": "me"} for m in server.served]
                    self._json(200, {"object": "list", "data": data})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                if self.path.endswith("/embeddings"):
                    self._embeddings(body)
                    return
                server.requests.append(body)
                reply = server._next()
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self._send(body, reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): fine

            def _send(self, body: dict, reply: Reply) -> None:
                if reply.status != 200:
                    error = {"error": {"message": reply.content or "error", "type": "scripted"}}
                    self._json(reply.status, error, {"retry-after-ms": "5", **reply.headers})
                    return
                if body.get("stream"):
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream")
                    self.end_headers()
                    if reply.raw is not None:
                        self.wfile.write(reply.raw)
                        return
                    text = reply.respond(body) if reply.respond else reply.content
                    pieces = [text[i : i + reply.chunk_size] for i in range(0, len(text), reply.chunk_size)]
                    for n, piece in enumerate(pieces):
                        if reply.cut_after is not None and n >= reply.cut_after:
                            self.close_connection = True
                            return
                        if reply.pause:
                            time.sleep(reply.pause)
                        self._event({"delta": {"content": piece}, "finish_reason": None})
                    self._event({"delta": {}, "finish_reason": reply.finish_reason})
                    self.wfile.write(b"data: [DONE]\n\n")
                    return
                self._json(200, {
                    "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": body.get("model"),
                    "choices": [{"index": 0, "message": {"role": "assistant",
                                 "content": reply.respond(body) if reply.respond else reply.content},
                                 "finish_reason": reply.finish_reason}],
                })

            def _embeddings(self, body: dict) -> None:
                """Deterministic vectors from word hashes (texts sharing words are close)."""
                texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                server.embedded += len(texts)
                data = []
                for i, text in enumerate(texts):
                    vec = [0.0] * 32
                    for word in text.lower().split():
                        vec[hash_word(word) % 32] += 1.0
                    data.append({"object": "embedding", "index": i, "embedding": vec})
                self._json(200, {"object": "list", "data": data, "model": body.get("model"),
                                 "usage": {"prompt_tokens": 0, "total_tokens": 0}})

            def _json(self, status: int, obj: dict, headers: dict[str, str] | None = None) -> None:
                payload = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _event(self, choice: dict) -> None:
                chunk = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": "m",
                         "choices": [{"index": 0, **choice}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()

        return Handler
