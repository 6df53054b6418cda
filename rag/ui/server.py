"""Serving the chat: our own login in front of Gradio, failed logins throttled per client, loopback by default.

Gradio's built-in login page names no product, forgets the user name after a wrong password, has no
throttle and lets its config (with every article id) be read before login. Here nothing but the login
page answers until a session cookie is set.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import ipaddress
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from ..assistant import Assistant
from ..errors import ConfigError
from .app import build_app
from .style import CSS, PRODUCT, theme

COOKIE = "rag_session"
LOGIN_PATHS = ("/login", "/login/")
FREE_FAILURES = 3  # a few typos cost nothing; after that each failure doubles the wait
MAX_WAIT = 300.0  # seconds; the longest a client is made to wait between guesses
MAX_BODY = 16_384  # bytes a login form may have

LOGIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign in · {product}</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f3f4f6; color: #111827; margin: 0; }}
main {{ max-width: 360px; margin: 12vh auto; background: #fff; padding: 24px 28px; border-radius: 12px;
  box-shadow: 0 1px 4px rgba(0,0,0,.12); }}
h1 {{ font-size: 1.35rem; margin: 0 0 4px; }} p {{ color: #4b5563; margin: 0 0 16px; }}
label {{ display: block; font-weight: 600; margin: 12px 0 4px; }}
input {{ width: 100%; box-sizing: border-box; padding: 8px; font: inherit; border: 1px solid #6b7280;
  border-radius: 6px; color: #111827; background: #fff; }}
button {{ margin-top: 18px; width: 100%; padding: 9px; font: inherit; font-weight: 600; color: #fff;
  background: #1d4ed8; border: 0; border-radius: 6px; cursor: pointer; }}
.error {{ color: #b91c1c; margin: 12px 0 0; }}
@media (prefers-color-scheme: dark) {{ body {{ background: #0f172a; color: #f1f5f9; }}
  main {{ background: #1e293b; }} p {{ color: #cbd5e1; }} input {{ background: #0f172a; color: #f1f5f9; }}
  .error {{ color: #fca5a5; }} }}
</style></head><body><main>
<h1>{product}</h1><p>Sign in to ask the articles.</p>
<form method="post" action="/login">
<label for="username">User name</label>
<input id="username" name="username" autocomplete="username" required value="{user}"{focus_user}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required{focus_password}>
<button type="submit">Sign in</button>
{error}
</form></main></body></html>"""


def login_page(user: str = "", error: str = "") -> str:
    return LOGIN_PAGE.format(
        product=html.escape(PRODUCT),
        user=html.escape(user, quote=True),
        focus_user="" if user else " autofocus",
        focus_password=" autofocus" if user else "",
        error=f'<p class="error" role="alert">{html.escape(error)}</p>' if error else "",
    )


@dataclass
class Throttle:
    """Failed logins per client: after FREE_FAILURES, a client must wait 1, 2, 4 … seconds before its next try."""

    failures: dict[str, tuple[int, float]] = field(default_factory=dict)  # client -> (count, next allowed time)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, client: str) -> float:
        with self.lock:
            _, allowed = self.failures.get(client, (0, 0.0))
        return max(0.0, allowed - time.monotonic())

    def failed(self, client: str) -> None:
        with self.lock:
            count, _ = self.failures.get(client, (0, 0.0))
            count += 1
            delay = 0.0 if count <= FREE_FAILURES else min(MAX_WAIT, 2.0 ** (count - FREE_FAILURES - 1))
            self.failures[client] = (count, time.monotonic() + delay)
            if len(self.failures) > 100_000:  # bounded memory under a flood of addresses
                self.failures.pop(next(iter(self.failures)))

    def succeeded(self, client: str) -> None:
        with self.lock:
            self.failures.pop(client, None)


class LoginGate:
    """ASGI middleware: serves the login page and lets only signed-in sessions through to Gradio."""

    def __init__(self, app: Any, user: str, password: str) -> None:
        self.app = app
        self.user, self.password = user, password
        self.sessions: set[str] = set()
        self.throttle = Throttle()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        if scope["type"] == "http" and scope["path"] in LOGIN_PATHS:
            return await self.login(scope, receive, send)
        if self.signed_in(scope):
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        if scope["method"] == "GET" and "text/html" in _header(scope, b"accept"):
            return await _respond(send, 303, b"", [(b"location", b"/login")])
        return await _respond(send, 401, b'{"detail": "sign in first"}', [(b"content-type", b"application/json")])

    def signed_in(self, scope) -> bool:
        cookie = SimpleCookie()
        try:
            cookie.load(_header(scope, b"cookie"))
        except Exception:  # noqa: BLE001 - a malformed cookie is simply not a session
            return False
        token = cookie.get(COOKIE)
        return token is not None and token.value in self.sessions

    async def login(self, scope, receive, send) -> None:
        if scope["method"] != "POST":
            return await _html(send, 200, login_page())
        client = (scope.get("client") or ("unknown", 0))[0]
        form = parse_qs((await _body(receive)).decode("utf-8", "replace"))
        user = form.get("username", [""])[0]
        password = form.get("password", [""])[0]
        browser = "text/html" in _header(scope, b"accept")
        wait = self.throttle.wait(client)
        if wait > 0:
            message = f"Too many failed sign-ins. Try again in {int(wait) + 1} seconds."
            headers = [(b"retry-after", str(int(wait) + 1).encode())]
            return await _html(send, 429, login_page(user, message), headers)
        ok = hmac.compare_digest(user.encode(), self.user.encode()) & hmac.compare_digest(
            password.encode(), self.password.encode()
        )
        if not ok:
            self.throttle.failed(client)
            return await _html(send, 401, login_page(user, "Wrong user name or password."))
        self.throttle.succeeded(client)
        token = secrets.token_urlsafe(32)
        self.sessions.add(token)
        cookie = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax".encode()
        if browser:
            return await _respond(send, 303, b"", [(b"location", b"/"), (b"set-cookie", cookie)])
        # gradio_client posts the form and expects 200 with the cookie
        return await _respond(send, 200, b'{"success": true}', [(b"content-type", b"application/json"),
                                                                 (b"set-cookie", cookie)])


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


async def _body(receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if len(body) > MAX_BODY or not message.get("more_body"):
            return body[:MAX_BODY]


async def _respond(send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


async def _html(send, status: int, page: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await _respond(send, status, page.encode(), [(b"content-type", b"text/html; charset=utf-8"),
                                                 (b"cache-control", b"no-store"), *(headers or [])])


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _QuietShutdown(logging.Filter):
    """Stopping the server cancels open event streams (a tab, a client's heartbeat): expected, not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        message = record.getMessage()
        return not (isinstance(exc, asyncio.CancelledError) or "CancelledError" in message
                    or "graceful shutdown" in message)


_QUIET = _QuietShutdown()


class ChatServer:
    """A running chat: `url`, and `close()` to stop it."""

    def __init__(self, server: Any, thread: threading.Thread | None, url: str) -> None:
        self._server, self._thread, self.url = server, thread, url

    def close(self) -> None:
        # open event streams (a browser tab, a gradio_client heartbeat) must not hold the shutdown
        self._server.should_exit = self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


def launch(assistant: Assistant, host: str, port: int, allow_remote: bool = False, block: bool = True) -> ChatServer:
    """Start the app; refuse to serve beyond this machine without a login unless told to."""
    import fastapi
    import gradio as gr
    import uvicorn

    s = assistant.settings
    auth = None
    if s.chat_user and s.chat_password:
        auth = (s.chat_user, s.chat_password.get_secret_value())
    elif s.chat_user or s.chat_password:
        raise ConfigError("set both RAG_CHAT_USER and RAG_CHAT_PASSWORD, or neither")
    if not is_loopback(host) and auth is None and not allow_remote:
        raise ConfigError(
            f"refusing to serve the chat on {host} without a login: set RAG_CHAT_USER and RAG_CHAT_PASSWORD, "
            "or pass --allow-remote"
        )
    root = fastapi.FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    root = gr.mount_gradio_app(
        root, build_app(assistant), path="", server_name=host, server_port=port, footer_links=[],
        ssr_mode=False, theme=theme(), css=CSS, show_error=True,
    )
    app = LoginGate(root, *auth) if auth else root
    if _QUIET not in logging.getLogger("uvicorn.error").filters:
        logging.getLogger("uvicorn.error").addFilter(_QUIET)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    url = f"http://{host}:{port}/"
    if block:
        server.run()
        return ChatServer(server, None, url)
    thread = threading.Thread(target=server.run, daemon=True, name="rag-chat")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ConfigError(f"the chat could not start on {host}:{port} (is the port in use?)")
        time.sleep(0.01)
    return ChatServer(server, thread, url)
