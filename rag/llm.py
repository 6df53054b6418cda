"""Chat models behind one small protocol; every provider speaks the OpenAI API.

A call returns a `Reply`: iterate it for the text as it streams; what the call produced besides
text (finish reason, usage, the model that answered) is filled in on that Reply, never on the
shared model object, so one model can serve many chats at once.

Each call has a deadline for the whole reply, not per read: retries (timeouts, 408/409/429/5xx,
with backoff) happen only while time is left, and a stream still running at the deadline is
closed. What cannot be answered becomes ModelUnavailable when the endpoint is down, slow or
refusing (the offline answer can stand in), ProviderError when retrying cannot help (bad key,
unknown model).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Protocol

from .config import Settings
from .errors import ModelUnavailable, ProviderError

Message = dict[str, str]

BACKOFF = 0.5  # seconds before the first retry, doubled on each further one
MODELS_TIMEOUT = 3.0  # reading /v1/models is a nicety: never wait long for it


class Reply:
    """One call's reply. Iterate it once for the text pieces; afterwards `text`,
    `finish_reason`, `usage` and `model` describe what this call (and only it) produced."""

    def __init__(self, pieces: Iterator[str] | None = None) -> None:
        self.text = ""
        self.finish_reason: str | None = None
        self.usage: dict[str, int] = {}
        self.model: str | None = None
        self._pieces = pieces if pieces is not None else iter(())

    @property
    def truncated(self) -> bool:
        """The reply hit max_tokens: its last sentence may be cut off."""
        return self.finish_reason == "length"

    def __iter__(self) -> Iterator[str]:
        for piece in self._pieces:
            self.text += piece
            yield piece

    def read(self) -> str:
        for _ in self:
            pass
        return self.text

    def close(self) -> None:
        """Stop reading early (the server stops generating when the connection closes)."""
        close = getattr(self._pieces, "close", None)
        if close:
            close()


class ChatModel(Protocol):
    """Streams the text of one chat completion."""

    name: str

    def stream(
        self, messages: list[Message], *, max_tokens: int, stop: list[str] | None = None, deadline: float | None = None
    ) -> Reply: ...


class OpenAIChat:
    """OpenAI or any OpenAI-compatible server (vLLM, llama.cpp server, Ollama)."""

    def __init__(self, settings: Settings) -> None:
        self.configured = settings.llm_model
        self.where = settings.openai_base_url or "https://api.openai.com/v1"
        self.timeout = settings.llm_timeout
        self.retries = settings.llm_max_retries
        self._key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
        self._base_url = settings.openai_base_url
        self._client_obj = None
        self._served: str | None = None
        self._lock = threading.Lock()

    @property
    def _client(self):
        with self._lock:
            if self._client_obj is None:
                from openai import OpenAI

                # retries are ours (bounded by the reply's deadline), so the client makes none
                self._client_obj = OpenAI(api_key=self._key, base_url=self._base_url, max_retries=0)
            return self._client_obj

    @property
    def name(self) -> str:
        """The model that answers: the configured name when the endpoint serves it, else the one
        model a single-model server (llama.cpp, vLLM) serves, which accepts any name we send."""
        if self._served is None:
            served = self._served_ids()
            if served and self.configured not in served and len(served) == 1:
                self._served = served[0]
            else:
                self._served = self.configured
        return self._served

    def _served_ids(self) -> list[str]:
        try:
            page = self._client.with_options(timeout=MODELS_TIMEOUT).models.list()
            return [m.id for m in page.data]
        except Exception:  # noqa: BLE001 - an endpoint without /v1/models still answers chats
            return []

    def stream(
        self, messages: list[Message], *, max_tokens: int, stop: list[str] | None = None, deadline: float | None = None
    ) -> Reply:
        deadline = deadline if deadline is not None else time.monotonic() + self.timeout
        reply = Reply()
        reply._pieces = self._pieces(reply, messages, max_tokens, stop, deadline)
        return reply

    def _pieces(
        self, reply: Reply, messages: list[Message], max_tokens: int, stop: list[str] | None, deadline: float
    ) -> Iterator[str]:
        chunks = self._open(messages, max_tokens, stop, deadline)
        # a read that blocks past the deadline is cut by closing the stream from a timer
        late = threading.Event()
        timer = threading.Timer(max(0.0, deadline - time.monotonic()), lambda: (late.set(), chunks.close()))
        timer.daemon = True
        timer.start()
        iterator = iter(chunks)
        try:
            while True:
                try:
                    chunk = self._guarded_call(lambda: next(iterator, None))
                except Exception:
                    if late.is_set():
                        break
                    raise
                if chunk is None or late.is_set():
                    break
                reply.model = reply.model or getattr(chunk, "model", None)
                if getattr(chunk, "usage", None):
                    reply.usage = chunk.usage.model_dump(exclude_none=True)
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                if choice.finish_reason:
                    reply.finish_reason = choice.finish_reason
                if choice.delta and choice.delta.content:
                    yield choice.delta.content
            if late.is_set() and reply.finish_reason is None:
                raise ModelUnavailable(f"the model at {self.where} did not finish its answer in time")
            if reply.finish_reason is None:
                raise ModelUnavailable(f"the reply of the model at {self.where} broke off")
        finally:
            timer.cancel()
            chunks.close()

    def _open(self, messages: list[Message], max_tokens: int, stop: list[str] | None, deadline: float):
        """Start the stream, retrying what may pass, while the deadline allows."""
        attempt = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ModelUnavailable(f"the model at {self.where} did not answer in time")
            try:
                options = dict(model=self.name, messages=messages, temperature=0, max_tokens=max_tokens, stream=True)
                if stop:
                    options["stop"] = stop[:4]  # the OpenAI API takes at most four
                return self._guarded_call(lambda: self._client.with_options(timeout=left).chat.completions.create(
                    **options))
            except ModelUnavailable as exc:
                wait = min(_retry_after(exc.__cause__) or BACKOFF * 2**attempt, deadline - time.monotonic())
                if attempt >= self.retries or not _retryable(exc.__cause__) or wait <= 0:
                    raise
                attempt += 1
                time.sleep(wait)

    def _guarded_call(self, call):
        """Run one client call and turn its errors into ours."""
        import openai

        try:
            return call()
        except openai.AuthenticationError as exc:
            raise ProviderError(
                f"the model endpoint {self.where} refused the API key (401); check OPENAI_API_KEY"
            ) from exc
        except openai.PermissionDeniedError as exc:
            raise ProviderError(f"the API key may not use model {self.name!r} at {self.where} (403)") from exc
        except openai.NotFoundError as exc:
            raise ProviderError(
                f"model {self.name!r} was not found at {self.where} (404); check RAG_LLM_MODEL"
            ) from exc
        except openai.BadRequestError as exc:
            raise ProviderError(f"the model endpoint {self.where} rejected the request: {_message(exc)}") from exc
        except openai.APITimeoutError as exc:
            raise ModelUnavailable(f"the model at {self.where} did not answer in time") from exc
        except openai.APIConnectionError as exc:
            raise ModelUnavailable(f"the model at {self.where} cannot be reached") from exc
        except openai.RateLimitError as exc:
            raise ModelUnavailable(f"the model at {self.where} is rate-limiting requests (429)") from exc
        except openai.APIStatusError as exc:
            raise ModelUnavailable(f"the model at {self.where} failed ({exc.status_code})") from exc
        except (openai.APIError, ValueError) as exc:  # a broken stream, an unparseable chunk
            raise ModelUnavailable(f"the model at {self.where} sent a broken reply: {_message(exc)}") from exc


def _retryable(exc: BaseException | None) -> bool:
    import openai

    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError)):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


def _retry_after(exc: BaseException | None) -> float | None:
    """The server's own Retry-After(-ms), when it sent one."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        if "retry-after-ms" in headers:
            return float(headers["retry-after-ms"]) / 1000
        if "retry-after" in headers:
            return float(headers["retry-after"])
    except ValueError:
        return None
    return None


def _message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return str(exc)
