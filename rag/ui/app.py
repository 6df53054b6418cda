"""The Gradio app: a conversation whose answers keep their own quotes, an article view, a filter."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from ..assistant import Assistant
from ..errors import RagError
from ..types import Answer, Delta, Reset, Status, Turn
from .render import (
    RESTARTING, SEARCHING, WRITING, Exchange, Source, article_html, chat_html, conversation_markdown, esc,
)
from .style import ARTICLE_JS, CHAT_JS, PRODUCT

log = logging.getLogger(__name__)

EXAMPLES = [
    "What share of Russia's microelectronics came from China in 2023?",
    "Which Chinese companies provide optical components for Russian tanks?",
    "What did Janet Yellen warn China about?",
    "How much did trade between China and Russia reach in 2023?",
]


def mode_line(assistant: Assistant) -> str:
    s = assistant.settings
    if s.llm_configured:
        where = s.openai_base_url or "OpenAI"
        return f"Answering with model {s.llm_model} at {where}; quotes are verified, offline answers if it is down."
    return "Answering with the offline extractive answerer: no model, nothing leaves this machine."


def doc_label(outlet: str | None, title: str) -> str:
    return f"{outlet}: {title}" if outlet else title


def history(exchanges: list[Exchange]) -> list[Turn]:
    turns: list[Turn] = []
    for ex in exchanges:
        if ex.answer is not None:
            turns += [Turn("user", ex.question), Turn("assistant", ex.answer.text)]
    return turns


def sources_of(assistant: Assistant, answer: Answer) -> list[Source]:
    out = []
    for c in answer.citations:
        try:
            doc = assistant.document(c.doc_id)
        except RagError:
            out.append(Source(label=c.title, title=c.title))
            continue
        outlet = doc.metadata.get("outlet", "")
        out.append(Source(label=outlet or doc.title, title=doc.title, published=doc.metadata.get("published", "")))
    return out


def respond(
    assistant: Assistant, message: str, exchanges: list[Exchange], doc_ids: list[str] | None
) -> Iterator[tuple[str, list[Exchange], str]]:
    """One chat turn: yields (chat html, exchanges, question box) as the answer streams in. The box is
    emptied once, when the question is posted (None later: what the reader types meanwhile stays), and
    gets the question back if it could not be answered. A blank question changes nothing."""
    exchanges = list(exchanges or [])
    message = message or ""
    if not message.strip():
        yield chat_html(exchanges), exchanges, ""
        return
    labels = {d.doc_id: doc_label(d.outlet, d.title) for d in assistant.documents()} if doc_ids else {}
    ex = Exchange(question=message, scope=[labels.get(d, d) for d in doc_ids or []])
    exchanges.append(ex)
    yield chat_html(exchanges), exchanges, ""
    try:
        for event in assistant.stream(message, history=history(exchanges[:-1]), doc_ids=doc_ids or None):
            if isinstance(event, Status):
                ex.status = event.text
            elif isinstance(event, Reset):
                ex.draft, ex.status = "", event.reason or RESTARTING
            elif isinstance(event, Delta):
                ex.draft += event.text
                if ex.status == SEARCHING:
                    ex.status = WRITING
            elif isinstance(event, Answer):
                ex.answer, ex.draft, ex.status = event, "", None
                ex.sources = sources_of(assistant, event)
            yield chat_html(exchanges), exchanges, None
    except RagError as exc:
        ex.status, ex.error = None, f"Sorry, I can't answer that: {exc}"
        yield chat_html(exchanges), exchanges, message
    except Exception as exc:  # noqa: BLE001 - the edge: the app must keep working
        log.exception("chat turn failed")
        ex.status, ex.error = None, f"Sorry, something went wrong ({type(exc).__name__}). Please try again."
        yield chat_html(exchanges), exchanges, message


def open_quote(assistant: Assistant, exchanges: list[Exchange], turn: int, n: int) -> str:
    """The article behind marker [n] of answer `turn`, from that answer's own citations."""
    try:
        ex = exchanges[turn]
        citation = ex.answer.citations[n - 1]
        source = ex.sources[n - 1]
    except (IndexError, TypeError, AttributeError):
        return "<p class='meta'>That source is no longer in this conversation.</p>"
    try:
        doc = assistant.document(citation.doc_id)
    except RagError as exc:
        return f"<p class='meta'>{esc(str(exc))}</p>"
    if doc.text[citation.start : citation.end] != citation.quote:
        return "<p class='meta'>This article changed since the answer was written; please ask again.</p>"
    return article_html(doc, citation, turn, n, source.label)


def export(exchanges: list[Exchange]) -> str | None:
    """The conversation as a Markdown file for the download button (None while there is nothing)."""
    if not any(ex.answer is not None for ex in exchanges or []):
        return None
    folder = Path(tempfile.mkdtemp(prefix="rag-chat-"))
    path = folder / "conversation.md"
    path.write_text(conversation_markdown(exchanges, PRODUCT), encoding="utf-8")
    return str(path)


def build_app(assistant: Assistant) -> Any:
    limit = assistant.settings.max_question_chars

    def filter_update(selected: list[str] | None = None):
        docs = assistant.documents()  # asked again on every load: articles ingested elsewhere appear
        ids = {d.doc_id for d in docs}
        return dict(
            choices=[(doc_label(d.outlet, d.title), d.doc_id) for d in docs],
            value=[d for d in selected or [] if d in ids],
            label=f"Search only these articles ({len(docs)} in the store; none ticked = all)",
        )

    def filter_refresh(selected: list[str] | None = None):
        return gr.update(**filter_update(selected))

    def counter(text: str | None):
        size = len(" ".join((text or "").split()))
        ok = 0 < size <= limit
        note = f"{size} / {limit} characters" + ("" if size <= limit else " (too long)")
        return gr.update(value=note), gr.update(interactive=ok)

    with gr.Blocks(title=PRODUCT) as app:
        gr.HTML(
            f"<h1>{esc(PRODUCT)}</h1><p>Every answer is backed by quotes you can open in the article.</p>",
            elem_id="title",
        )
        gr.Markdown(mode_line(assistant), elem_id="mode")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                chat = gr.HTML(chat_html([]), elem_id="chat", js_on_load=CHAT_JS, autoscroll=True)
                box = gr.Textbox(
                    label="Your question", placeholder="Ask about the articles…", elem_id="question",
                    lines=1, max_lines=4, max_length=limit + 200,
                )
                count = gr.Markdown(f"0 / {limit} characters", elem_id="counter")
                with gr.Row(elem_id="actions"):
                    ask = gr.Button("Ask", variant="primary", elem_id="ask", interactive=False, min_width=80)
                    restart = gr.Button("Start over", elem_id="restart", min_width=80)
                    download = gr.DownloadButton(
                        "Download chat", elem_id="download", interactive=False, value=None, min_width=80
                    )
                gr.Examples(EXAMPLES, inputs=box, label="Example questions")
            with gr.Column(scale=2, min_width=300):
                article = gr.HTML("", elem_id="article", js_on_load=ARTICLE_JS)
                only = gr.CheckboxGroup(elem_id="only", **filter_update())
                refresh = gr.Button("Refresh the article list", elem_id="refresh", size="sm")
        exchanges = gr.State([])

        def ask_fn(message, state, doc_ids):
            box_out = gr.update()
            for html_, state, box_value in respond(assistant, message, state, doc_ids):
                box_out = gr.update() if box_value is None else box_value
                yield html_, state, box_out, gr.update()
            path = export(state)
            yield html_, state, box_out, gr.update(value=path, interactive=path is not None)

        def open_fn(state, evt: gr.EventData):
            data = getattr(evt, "_data", None)
            if not isinstance(data, dict):
                return ""
            try:
                turn, n = int(data.get("turn")), int(data.get("n"))
            except (TypeError, ValueError):
                return ""
            return open_quote(assistant, state, turn, n)

        def restart_fn():
            return chat_html([]), [], "", "", filter_refresh([]), gr.update(value=None, interactive=False)

        outputs = [chat, exchanges, box, download]
        # one listener for the button and Enter: a second question waits for the first (trigger_mode once)
        asking = gr.on([ask.click, box.submit], ask_fn, [box, exchanges, only], outputs, show_progress="hidden",
                       api_name="ask", trigger_mode="once")
        box.change(counter, box, [count, ask], queue=False, show_progress="hidden", api_visibility="private")
        chat.click(open_fn, [exchanges], [article], show_progress="hidden", api_visibility="private")
        restart.click(restart_fn, None, [chat, exchanges, box, article, only, download], api_name="restart",
                      cancels=[asking])  # an answer still streaming must not come back after Start over
        refresh.click(filter_refresh, [only], [only], api_visibility="private")
        app.load(filter_refresh, [only], [only], api_visibility="private")
    app.queue(default_concurrency_limit=4, max_size=256)
    return app


__all__ = ["build_app", "respond", "open_quote", "EXAMPLES"]
