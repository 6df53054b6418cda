"""The passages as a model reads them: whole sentences numbered [S1], [S2]... grouped by article,
within a budget of tokens set from the model's context size. A sentence number maps back to
exact document offsets, so a cited sentence is an exact quote by construction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .. import prompts
from ..citations import cite
from ..sentences import sentence_spans
from ..types import Citation, Document
from .base import Evidence

CHARS_PER_TOKEN = 3.5  # news English runs about 4 characters per token; 3.5 leaves a margin
# Share of the context window given to passages (512 of 8192 tokens): small models lose the question
# in a long prompt, and a busy CPU reads prompts at 30-200 tokens a second (Gemma 270M, 2 cores).
CONTEXT_SHARE = 1 / 16
PROMPT_TOKENS = 400  # instructions, the worked example and the question
MIN_CHARS = 600  # always room for a few sentences


def budget_chars(context_tokens: int, max_tokens: int) -> int:
    tokens = min(context_tokens * CONTEXT_SHARE, context_tokens - max_tokens - PROMPT_TOKENS)
    return max(int(tokens * CHARS_PER_TOKEN), MIN_CHARS)


@dataclass(frozen=True)
class Context:
    text: str  # what the model reads
    sentences: dict[int, tuple[str, int, int]]  # sentence number -> (doc_id, start, end)
    doc_ids: list[str]

    def citation(self, n: int, documents: Mapping[str, Document]) -> Citation | None:
        span = self.sentences.get(n)
        doc = documents.get(span[0]) if span else None
        return cite(doc, span[1], span[2]) if doc is not None and span else None


def build_context(evidence: Evidence, first: list[Citation], budget: int) -> Context:
    """The sentences of `first` (the offline answer's quotes) always, then the passages in
    retrieval order while they fit in `budget` characters; overlapping passages share sentences."""
    chosen: dict[str, set[tuple[int, int]]] = {}
    used = 0

    def take(doc: Document, spans: list[tuple[int, int]], must: bool) -> None:
        nonlocal used
        new = [sp for sp in spans if sp not in chosen.get(doc.doc_id, set())]
        cost = sum(e - s + 8 for s, e in new) + (0 if doc.doc_id in chosen else len(doc.title) + 12)
        if new and (must or used + cost <= budget):
            chosen.setdefault(doc.doc_id, set()).update(new)
            used += cost

    spans_of = {}
    for p in evidence.passages:
        doc = evidence.documents.get(p.doc_id)
        if doc is not None:
            spans_of[p.chunk_id] = (doc, [tuple(sp) for sp in p.sentences] or sentence_spans(doc.text, p.start, p.end))
    for c in first:
        for doc, spans in spans_of.values():
            if doc.doc_id == c.doc_id:
                take(doc, [(s, e) for s, e in spans if s < c.end and c.start < e], must=True)
    for doc, spans in spans_of.values():
        take(doc, spans, must=False)
    lines: list[str] = []
    sentences: dict[int, tuple[str, int, int]] = {}
    for doc_id, spans in chosen.items():
        doc = evidence.documents[doc_id]
        lines.append(prompts.ARTICLE.format(title=doc.title.replace('"', "'")))
        for s, e in sorted(spans):
            sentences[len(sentences) + 1] = (doc_id, s, e)
            lines.append(prompts.SENTENCE.format(n=len(sentences), text=" ".join(doc.text[s:e].split())))
        lines.append("")
    return Context("\n".join(lines).strip(), sentences, list(chosen))
