"""Chat models behind one small protocol; every provider speaks the OpenAI API.

The `openai` client does the bounded retries with backoff (timeouts, 408/409/429/5xx); this module
turns what is left into our errors: ModelUnavailable when the endpoint is down, slow or refusing
(the offline answer can stand in), ProviderError when retrying cannot help (bad key, unknown model).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from .config import Settings
from .errors import ModelUnavailable, ProviderError

Message = dict[str, str]


class ChatModel(Protocol):
    """Streams the text of one chat completion."""

    name: str

    def stream(self, messages: list[Message], max_tokens: int = 800) -> Iterator[str]: ...


class OpenAIChat:
    """OpenAI or any OpenAI-compatible server (vLLM, llama.cpp server, Ollama)."""

    def __init__(self, settings: Settings) -> None:
        from openai import OpenAI

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
        self.name = settings.llm_model
        self.where = settings.openai_base_url or "https://api.openai.com/v1"
        self.truncated = False
        self._client = OpenAI(
            api_key=key,
            base_url=settings.openai_base_url,
            timeout=settings.llm_timeout,
            max_retries=settings.llm_max_retries,
        )

    def stream(self, messages: list[Message], max_tokens: int = 800) -> Iterator[str]:
        import openai

        self.truncated = False
        try:
            chunks = self._client.chat.completions.create(
                model=self.name,
                messages=messages,  # type: ignore[arg-type]
                temperature=0,
                max_tokens=max_tokens,
                stream=True,
            )
            for chunk in chunks:
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                if choice.finish_reason == "length":
                    self.truncated = True
                if choice.delta and choice.delta.content:
                    yield choice.delta.content
        except openai.AuthenticationError as exc:
            raise ProviderError(f"the model endpoint {self.where} refused the API key (401); check OPENAI_API_KEY") from exc
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


def _message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return str(exc)
