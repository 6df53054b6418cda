"""Deterministic per-case metrics; no model is needed to score an answer.

Citation recall and precision follow ALCE (Gao et al., 2023) with "the quotes contain the gold
span" in place of its NLI model: a statement is supported when its cited quotes contain the gold
facts it asserts (or, asserting none, most of its own content words); a citation is precise when
it supports its statement alone or the statement is no longer supported without it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from llama_index.core.evaluation.retrieval.metrics import MRR, HitRate

from ..citations import is_exact, normalized
from ..sentences import terms
from ..types import Answer, Chunk, Citation, Document
from .gold import Case

_MARKER = re.compile(r"\[(\d+)\]")
_STATEMENT = re.compile(r"[^\n]+?(?:(?:[.!?…][”’\"')\]]*)(?:\s*\[\d+\])*(?=\s|$)|$)")


@dataclass
class CaseResult:
    id: str
    question: str
    tags: list[str]
    answerable: bool
    abstained: bool
    answer: str
    citations: list[dict]
    latency: float
    facts_total: int = 0
    facts_found: int = 0
    facts_supported: int = 0
    missing_facts: list[str] = field(default_factory=list)
    unsupported_facts: list[str] = field(default_factory=list)
    citations_exact: int = 0
    statements: int = 0
    statements_supported: int = 0
    citations_precise: int = 0
    citations_in_statements: int = 0
    hit: float | None = None
    mrr: float | None = None
    forbidden: list[str] = field(default_factory=list)
    direct_line: str = ""  # the answer's short first line, when it opens with one ("PEP 540 [1]")
    direct_ok: bool | None = None  # ... and whether it holds a gold fact
    passed: bool = False
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


# A short first line that ends with its markers and quotes nothing: the direct answer ("about 90% [1][2]").
_DIRECT_LINE = re.compile(r"\A([^\n“]{1,120}?)\s*((?:\[\d+\])+)\s*\n")


def _has(haystack_norm: str, variants: list[str]) -> bool:
    return any(normalized(v) in haystack_norm for v in variants)


def evidence_chunk_ids(case: Case, chunks: list[Chunk], documents: dict[str, Document]) -> list[str]:
    """Chunks that overlap an evidence span by character offsets (so gold survives re-chunking)."""
    ids = []
    for ev in case.evidence:
        doc = documents.get(ev.doc)
        if doc is None:
            continue
        start = doc.text.find(ev.span)
        end = start + len(ev.span)
        for chunk in chunks:
            if chunk.doc_id == ev.doc and chunk.start < end and start < chunk.end and chunk.chunk_id not in ids:
                ids.append(chunk.chunk_id)
    return ids


def statements(text: str) -> list[tuple[str, list[int]]]:
    """Split answer text into statements with the citation numbers each carries."""
    out = []
    for m in _STATEMENT.finditer(text):
        piece = m.group().strip()
        if not piece:
            continue
        numbers = [int(n) for n in _MARKER.findall(piece)]
        out.append((_MARKER.sub("", piece).strip(), numbers))
    return out


def _supports(statement: str, quotes: list[Citation], facts: list[list[str]]) -> bool:
    if not quotes:
        return False
    quote_text = normalized(" ".join(c.quote for c in quotes))
    stated = [variants for variants in facts if _has(normalized(statement), variants)]
    if stated:
        return all(_has(quote_text, variants) for variants in stated)
    words = set(terms(statement))
    if not words:
        return True
    return len(words & set(terms(quote_text))) / len(words) >= 0.6


def score_case(
    case: Case,
    answer: Answer,
    documents: dict[str, Document],
    all_chunks: list[Chunk],
    latency: float,
) -> CaseResult:
    result = CaseResult(
        id=case.id,
        question=case.question,
        tags=case.tags,
        answerable=case.answerable,
        abstained=answer.abstained,
        answer=answer.text,
        citations=[c.to_dict() for c in answer.citations],
        latency=latency,
    )
    text_norm = normalized(answer.text)
    result.citations_exact = sum(
        1 for c in answer.citations if c.doc_id in documents and is_exact(c, documents[c.doc_id])
    )
    exact = [c for c in answer.citations if c.doc_id in documents and is_exact(c, documents[c.doc_id])]
    evidence_docs = {ev.doc for ev in case.evidence}

    direct = _DIRECT_LINE.match(answer.text) if not answer.abstained and "\n" in answer.text else None
    if direct:
        result.direct_line = direct.group(1)
        if case.answerable:
            line = normalized(direct.group(1))
            result.direct_ok = any(_has(line, variants) or any(line in normalized(v) for v in variants)
                                   for variants in case.facts)
    if case.answerable:
        result.facts_total = len(case.facts)
        for variants in case.facts:
            if _has(text_norm, variants):
                result.facts_found += 1
            else:
                result.missing_facts.append(variants[0])
            supported = any(c.doc_id in evidence_docs and _has(normalized(c.quote), variants) for c in exact)
            if supported:
                result.facts_supported += 1
            else:
                result.unsupported_facts.append(variants[0])
        expected = evidence_chunk_ids(case, all_chunks, documents)
        retrieved = [p.chunk_id for p in answer.passages]
        if expected:
            result.hit = HitRate().compute(expected_ids=expected, retrieved_ids=retrieved).score
            result.mrr = MRR().compute(expected_ids=expected, retrieved_ids=retrieved).score

    if not answer.abstained:
        for statement, numbers in statements(answer.text):
            cited = [answer.citations[n - 1] for n in numbers if 0 < n <= len(answer.citations)]
            cited = [c for c in cited if c in exact]
            if not numbers:
                continue
            result.statements += 1
            whole = _supports(statement, cited, case.facts)
            result.statements_supported += int(whole)
            result.citations_in_statements += len(cited)
            for c in cited:
                alone = _supports(statement, [c], case.facts)
                rest = [o for o in cited if o is not c]
                needed = whole and not _supports(statement, rest, case.facts)
                result.citations_precise += int(alone or needed)

    shown = normalized(answer.text + " " + " ".join(c.quote for c in answer.citations))
    result.forbidden = [s for s in case.must_not_contain if normalized(s) in shown]
    result.reasons = _reasons(case, result, len(answer.citations))
    result.passed = not result.reasons
    return result


def _reasons(case: Case, r: CaseResult, n_citations: int) -> list[str]:
    reasons = []
    if r.citations_exact < n_citations:
        reasons.append("quote not exact")
    if r.forbidden:
        reasons.append(f"must not contain: {', '.join(r.forbidden)}")
    if case.answerable:
        if r.abstained:
            reasons.append("wrong abstention")
        elif r.missing_facts:
            reasons.append(f"fact missing: {', '.join(r.missing_facts)}")
        elif r.unsupported_facts:
            reasons.append(f"fact not in a quote: {', '.join(r.unsupported_facts)}")
        if reasons and r.hit == 0.0:
            reasons.append("retrieval miss (no evidence passage retrieved)")
    elif not r.abstained:
        reasons.append("should have abstained")
    return reasons
