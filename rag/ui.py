"""`rag chat`: a Gradio chat with streamed answers, numbered verbatim citations and a source viewer."""

from __future__ import annotations

import html
import ipaddress
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

from .assistant import Assistant
from .config import Settings
from .errors import ConfigError, RagError
from .types import Answer, Citation, Delta, Turn

# Before gradio is imported: no analytics, no version check, nothing leaves the machine.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

log = logging.getLogger(__name__)

EXAMPLES = [
    "What share of Russia's microelectronics came from China in 2023?",
    "Which Chinese companies provide optical components for Russian tanks?",
    "What did Janet Yellen warn China about?",
    "How much did trade between China and Russia reach in 2023?",
]
THINKING = "Searching the articles…"
CSS = """
.cite { border: 1px solid #d0d7de; border-radius: 6px; padding: 6px 10px; margin: 6px 0; }
.cite summary { cursor: pointer; }
.cite .context { margin-top: 6px; line-height: 1.5; }
.cite mark { background: #fff3a3; padding: 0 1px; }
.cite .where { color: #57606a; font-size: 0.85em; }
"""


def mode_line(assistant: Assistant) -> str:
    s = assistant.settings
    if s.llm_configured:
        where = s.openai_base_url or "OpenAI"
        return f"**Answering with:** model `{s.llm_model}` at {where} (quotes verified; offline answers if it is down)"
    return "**Answering with:** offline extractive answerer (no model, nothing leaves this machine)"


def context_html(assistant: Assistant, c: Citation) -> str:
    """The quote highlighted inside its paragraph of the article."""
    text = assistant.document(c.doc_id).text
    start = text.rfind("\n", 0, c.start) + 1
    end = text.find("\n", c.end)
    end = len(text) if end < 0 else end
    return (
        html.escape(text[start : c.start])
        + f"<mark>{html.escape(text[c.start : c.end])}</mark>"
        + html.escape(text[c.end : end])
    )


def sources_html(assistant: Assistant, answer: Answer | None) -> str:
    if answer is None or not answer.citations:
        return "<p class='no-sources'>Quotes behind the answer appear here.</p>"
    labels = {d.doc_id: d.outlet or d.title for d in assistant.documents()}
    parts = []
    for n, c in enumerate(answer.citations, 1):
        parts.append(
            f"<details class='cite' id='cite-{n}'><summary><b>[{n}]</b> {html.escape(labels.get(c.doc_id, ''))}: "
            f"“{html.escape(c.quote)}”</summary>"
            f"<div class='context'>{context_html(assistant, c)}</div>"
            f"<div class='where'>{html.escape(c.title)} · {html.escape(c.doc_id)} · characters {c.start}–{c.end}</div>"
            "</details>"
        )
    return "\n".join(parts)


def render(answer: Answer) -> str:
    text = answer.text
    if answer.notice:
        text += f"\n\n_{answer.notice}_"
    return text


def respond(
    assistant: Assistant, message: str, chat: list[dict], turns: list[Turn], doc_ids: list[str] | None
) -> Iterator[tuple[list[dict], str, str, list[Turn]]]:
    """One chat turn: yields (chat, textbox, sources, turns) as the answer streams in."""
    chat = list(chat or [])
    turns = list(turns or [])
    chat.append({"role": "user", "content": message or ""})
    chat.append({"role": "assistant", "content": THINKING})
    yield chat, "", sources_html(assistant, None), turns
    streamed = ""
    try:
        for event in assistant.stream(message or "", history=turns, doc_ids=doc_ids or None):
            if isinstance(event, Delta):
                streamed += event.text
                if streamed:
                    chat[-1] = {"role": "assistant", "content": streamed}
                    yield chat, "", sources_html(assistant, None), turns
            else:
                chat[-1] = {"role": "assistant", "content": render(event)}
                turns += [Turn("user", message), Turn("assistant", event.text)]
                yield chat, "", sources_html(assistant, event), turns
    except RagError as exc:
        chat[-1] = {"role": "assistant", "content": f"Sorry, I can't answer that: {exc}"}
        yield chat, message or "", sources_html(assistant, None), turns
    except Exception as exc:  # noqa: BLE001 - the edge: the app must keep working
        log.exception("chat turn failed")
        chat[-1] = {"role": "assistant", "content": f"Sorry, something went wrong ({type(exc).__name__}). Please try again."}
        yield chat, message or "", sources_html(assistant, None), turns


def build_app(assistant: Assistant) -> Any:
    import gradio as gr

    docs = assistant.documents()
    with gr.Blocks(title="rag: news articles, quoted") as app:
        gr.Markdown("## Ask the articles\nEvery answer is backed by quotes you can open in the article.")
        gr.Markdown(mode_line(assistant), elem_id="mode")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Chat", height=480, elem_id="chatbot")
                box = gr.Textbox(label="Your question", placeholder="Ask about the articles…", elem_id="question")
                with gr.Row():
                    send = gr.Button("Ask", variant="primary", elem_id="ask")
                    clear = gr.Button("Clear", elem_id="clear")
                gr.Examples(EXAMPLES, inputs=box, label="Try")
            with gr.Column(scale=2):
                sources = gr.HTML(sources_html(assistant, None), label="Sources", elem_id="sources")
                only = gr.CheckboxGroup(
                    choices=[(f"{d.outlet}: {d.title}" if d.outlet else d.title, d.doc_id) for d in docs],
                    label=f"Search only these articles ({len(docs)} in the store; none ticked = all)",
                    elem_id="only",
                )
        turns = gr.State([])

        def ask(message, chat, state, doc_ids):
            yield from respond(assistant, message, chat, state, doc_ids)

        outputs = [chatbot, box, sources, turns]
        send.click(ask, [box, chatbot, turns, only], outputs, api_name="ask")
        box.submit(ask, [box, chatbot, turns, only], outputs, api_name=False)
        clear.click(lambda: ([], "", sources_html(assistant, None), []), None, outputs, api_name="clear")
    app.queue(default_concurrency_limit=4, max_size=256)
    return app


def _theme() -> Any:
    import gradio as gr

    # system fonts: the default theme would have the browser fetch fonts from the internet
    return gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def launch(assistant: Assistant, host: str, port: int, allow_remote: bool = False, block: bool = True) -> Any:
    """Start the app; refuse to serve beyond this machine without a login unless told to."""
    s = assistant.settings
    auth = None
    if s.chat_user and s.chat_password:
        auth = (s.chat_user, s.chat_password.get_secret_value())
    elif s.chat_user or s.chat_password:
        raise ConfigError("set both RAG_CHAT_USER and RAG_CHAT_PASSWORD, or neither")
    if not _is_loopback(host) and auth is None and not allow_remote:
        raise ConfigError(
            f"refusing to serve the chat on {host} without a login: set RAG_CHAT_USER and RAG_CHAT_PASSWORD, "
            "or pass --allow-remote"
        )
    app = build_app(assistant)
    app.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        share=False,
        inbrowser=False,
        prevent_thread_lock=not block,
        show_error=True,
        quiet=True,
        theme=_theme(),
        css=CSS,
        footer_links=[],
        ssr_mode=False,
    )
    return app


def main(args) -> int:
    settings = Settings()
    host = args.host or settings.chat_host
    port = args.port or settings.chat_port
    assistant = Assistant(settings)
    print("Loading the articles and the embedding model…", file=sys.stderr)
    docs = assistant.documents()  # ingests the corpus on first use
    assistant.embedder.embed(["warm up"])
    print(f"{len(docs)} articles ready. Open http://{host}:{port} in a browser (Ctrl+C stops).", file=sys.stderr)
    launch(assistant, host, port, allow_remote=args.allow_remote, block=True)
    return 0
