"""Everything the chat shows, as escaped HTML (and Markdown for copy and download).

Text from articles and models is always escaped here: an article holding `<img src=x>` shows those
characters and makes the browser fetch nothing. Nothing in this module talks to the store.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from ..types import Answer, Citation, Document

SEARCHING = "Searching the articles…"
WRITING = "Writing… the quotes are checked before they are shown."
RESTARTING = "Starting the answer again…"
MARKER = re.compile(r"\[(\d+)\]")
PREVIEW_CHARS = 240


@dataclass
class Source:
    """What the chat shows about a cited article, read once when the answer arrives."""

    label: str  # outlet or title
    title: str
    published: str = ""


@dataclass
class Exchange:
    """One question and its answer as the chat shows them; kept per browser session."""

    question: str
    scope: list[str] = field(default_factory=list)  # labels of the articles the search was limited to
    status: str | None = SEARCHING
    draft: str = ""
    answer: Answer | None = None
    sources: list[Source] = field(default_factory=list)
    error: str | None = None


def esc(text: str) -> str:
    return html.escape(text or "", quote=True)


def clip(text: str, limit: int = PREVIEW_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def paragraphs(escaped: str) -> str:
    blocks = [b for b in re.split(r"\n\s*\n", escaped.strip()) if b.strip()]
    return "".join(f"<p>{b.replace(chr(10), '<br>')}</p>" for b in blocks)


def _marker(turn: int, n: int, c: Citation, source: Source) -> str:
    tip = f"{source.label}: “{clip(c.quote)}”"
    return (
        f'<button type="button" class="marker" data-turn="{turn}" data-n="{n}" title="{esc(tip)}" '
        f'data-preview="[{n}] {esc(tip)}" '
        f'aria-label="Source {n}, {esc(source.label)}: open the quote in its article">[{n}]</button>'
    )


def answer_body(turn: int, answer: Answer, sources: list[Source]) -> str:
    """The answer text, escaped, with each in-range [n] made a button that opens that quote."""

    def link(m: re.Match) -> str:
        n = int(m.group(1))
        if 1 <= n <= len(answer.citations):
            return _marker(turn, n, answer.citations[n - 1], sources[n - 1])
        return m.group(0)

    return MARKER.sub(link, paragraphs(esc(answer.text)))


def sources_list(turn: int, ex: Exchange) -> str:
    answer = ex.answer
    if answer is None or not answer.citations:
        return ""
    items = []
    for n, (c, s) in enumerate(zip(answer.citations, ex.sources), 1):
        date = f" · {esc(s.published)}" if s.published else ""
        # the offline answer already holds its quotes word for word: show them once, not twice
        quote = "" if c.quote in answer.text else f'<q class="quote">{esc(clip(c.quote))}</q>'
        items.append(
            f'<li><button type="button" class="source" data-turn="{turn}" data-n="{n}" '
            f'title="characters {c.start}–{c.end} of {esc(c.doc_id)}" '
            f'aria-label="Open source {n} in its article">[{n}] {esc(s.label)}</button> '
            f'<span class="src-title">{esc(s.title)}{date}</span>{quote}</li>'
        )
    return (
        f'<section class="sources" aria-label="Sources of answer {turn + 1}">'
        f'<h3>Sources</h3><ol>{"".join(items)}</ol></section>'
    )


def exchange_html(turn: int, ex: Exchange) -> str:
    parts = [f'<div class="q"><span class="who">You</span><p>{esc(ex.question)}</p></div>', '<div class="a">']
    if ex.answer is not None:
        parts.append(f'<div class="text">{answer_body(turn, ex.answer, ex.sources)}</div>')
        parts.append('<p class="preview" aria-hidden="true" hidden></p>')  # filled by the page on focus
    elif ex.draft:
        parts.append(f'<div class="text draft">{paragraphs(esc(ex.draft))}</div>')
    if ex.status:
        parts.append(f'<p class="status" role="status"><span class="dot"></span>{esc(ex.status)}</p>')
    if ex.error:
        parts.append(f'<p class="error" role="alert">{esc(ex.error)}</p>')
    if ex.answer is not None and ex.answer.notice:
        parts.append(f'<p class="notice" role="note"><b>Note:</b> {esc(ex.answer.notice)}</p>')
    if ex.scope:
        parts.append(f'<p class="scope">Searched only: {esc("; ".join(ex.scope))}.</p>')
    parts.append(sources_list(turn, ex))
    if ex.answer is not None:
        parts.append(
            f'<div class="tools"><button type="button" class="copy" data-turn="{turn}" '
            f'aria-label="Copy answer {turn + 1} with its sources">Copy</button>'
            f'<pre class="copy-text" hidden>{esc(answer_markdown(ex))}</pre></div>'
        )
    parts.append("</div>")
    return f'<article class="turn" id="turn-{turn}" aria-label="Question {turn + 1}">{"".join(parts)}</article>'


WELCOME = (
    '<div class="welcome"><p>Ask a question about the articles. Answers quote them word for word: '
    "click a <span class='fake-marker'>[1]</span> marker to read a quote in its article.</p></div>"
)


def chat_html(exchanges: list[Exchange]) -> str:
    if not exchanges:
        return f'<div class="conv" data-announce="">{WELCOME}</div>'
    last = exchanges[-1]
    announce = ""
    if last.answer is not None:
        count = len(last.answer.citations)
        announce = f"Answer {len(exchanges)} is ready with {count} source{'' if count == 1 else 's'}."
    elif last.error:
        announce = last.error
    body = "".join(exchange_html(i, ex) for i, ex in enumerate(exchanges))
    return f'<div class="conv" data-turns="{len(exchanges)}" data-announce="{esc(announce)}">{body}</div>'


def answer_markdown(ex: Exchange) -> str:
    """The answer as plain Markdown with its numbered sources: what Copy puts on the clipboard."""
    if ex.answer is None:
        return ""
    lines = [ex.answer.text.strip()]
    if ex.answer.notice:
        lines += ["", f"Note: {ex.answer.notice}"]
    if ex.scope:
        lines += ["", f"Searched only: {'; '.join(ex.scope)}."]
    if ex.answer.citations:
        lines += ["", "Sources:"]
        for n, (c, s) in enumerate(zip(ex.answer.citations, ex.sources), 1):
            date = f", {s.published}" if s.published else ""
            lines.append(f"[{n}] {s.label}: {s.title}{date} ({c.doc_id}, characters {c.start}-{c.end})")
            lines.append(f"    “{c.quote}”")
    return "\n".join(lines)


def conversation_markdown(exchanges: list[Exchange], product: str) -> str:
    out = [f"# Conversation with {product}", ""]
    for i, ex in enumerate(exchanges, 1):
        if ex.answer is None:
            continue
        out += [f"## {i}. {ex.question}", "", answer_markdown(ex), ""]
    return "\n".join(out)


def article_html(doc: Document, citation: Citation, turn: int, n: int, label: str) -> str:
    """The whole article with the quote highlighted; the browser scrolls to the <mark>."""
    meta = [esc(label)] if label and label != doc.title else []
    if doc.metadata.get("published"):
        meta.append(f"Published {esc(doc.metadata['published'])}")
    url = doc.metadata.get("url") or (doc.source if doc.source.startswith(("http://", "https://")) else "")
    if url.startswith(("http://", "https://")):
        meta.append(f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">Original article</a>')
    text = doc.text
    body = (
        esc(text[: citation.start])
        + f'<mark id="quote" title="characters {citation.start}–{citation.end}">'
        + esc(text[citation.start : citation.end])
        + "</mark>"
        + esc(text[citation.end :])
    )
    return (
        f'<div class="article-view" role="region" aria-label="Article: {esc(doc.title)}" data-doc="{esc(doc.doc_id)}">'
        f'<header><div class="article-head"><p class="kicker">Source [{n}] of answer {turn + 1}</p>'
        f'<button type="button" class="close" aria-label="Close the article">Close</button></div>'
        f'<h2 tabindex="-1">{esc(doc.title)}</h2><p class="meta">{" · ".join(meta)}</p></header>'
        f'<div class="article-text" tabindex="0" aria-label="Article text">{body}</div></div>'
    )
