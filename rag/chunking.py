"""Chunks as the store keeps them: how a text is cut into chunks of whole sentences, the ids and
offsets of their rows, and the codec of what a chunk row carries (its sentences' offsets and
vectors). Vectors are normalised here, and only here."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .sentences import sentence_spans, words
from .types import Chunk, Document

# Bump when chunking changes, so stored documents are re-chunked on the next ingest.
# 2: sentence vectors stored; 3: chunks carry sentence offsets; 4: versioned rows (store layout v2)
# and chunk vectors summed from sentence vectors (each text embedded once); 5: sentences within blocks
# (a hard line wrap is not a sentence end). Bump it too when what `sentences.headings` finds changes:
# each text row keeps its headings as found at ingest.
CHUNKER_VERSION = "sent-pack-5"


# --- vectors -------------------------------------------------------------------------------------
def normalise(matrix: Any) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero); a single vector works too."""
    m = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(m, axis=-1, keepdims=True)
    return m / np.where(norms == 0, 1.0, norms)


def chunk_vector(sentence_vectors: np.ndarray, title_vector: np.ndarray, title_weight: float) -> np.ndarray:
    """A chunk's vector from its sentences' (embedded once, at ingest): their summed direction
    plus `title_weight` of the title's, normalised."""
    return normalise(normalise(sentence_vectors.sum(axis=0)) + title_weight * title_vector)


def encode_vectors(matrix: np.ndarray) -> str:
    """Sentence vectors as a chunk row's metadata carries them: float32, base64 (2 KB a sentence
    for 384 dimensions). float16 would halve that, but moved one eval answer's third quote (a
    near tie between two sentences), so the vectors are kept exactly as embedded."""
    return base64.b64encode(np.asarray(matrix, dtype="<f4").tobytes()).decode("ascii")


def decode_vectors(value: object, rows: int) -> np.ndarray | None:
    """The float32 matrix back from `encode_vectors` (None when absent or malformed)."""
    if not value or rows <= 0:
        return None
    data = np.frombuffer(base64.b64decode(str(value)), dtype="<f4")
    if data.size % rows:
        return None
    return data.reshape(rows, -1)


# --- ids and offsets -----------------------------------------------------------------------------
def version_key(doc_id: str, version: str) -> str:
    return f"{doc_id}@{version}"


def span_id(key: str, start: int, end: int) -> str:
    """Id of a chunk row: `doc_id@version:start-end`."""
    return f"{key}:{start}-{end}"


def parse_span_id(span: str) -> tuple[str, str, int, int]:
    """(doc_id, `doc_id@version`, start, end) of a chunk row's id."""
    key, _, offsets = span.rpartition(":")
    start, _, end = offsets.partition("-")
    return key.rpartition("@")[0], key, int(start), int(end)


def chunk_version_key(chunk: Chunk) -> str:
    """`doc_id@version` of a chunk row, from its id."""
    return chunk.chunk_id.rsplit(":", 1)[0]


def encode_spans(spans: Iterable[tuple[int, int]]) -> str:
    return ",".join(f"{a}-{b}" for a, b in spans)


def decode_spans(value: object) -> tuple[tuple[int, int], ...]:
    """Sentence offsets as a chunk row stores them: "0-57,58-140"."""
    if not value:
        return ()
    return tuple((int(a), int(b)) for a, b in (part.split("-") for part in str(value).split(",")))


# --- cutting a text into chunks ------------------------------------------------------------------
def _token_count(text: str) -> int:
    # Word pieces run ~1.3 per word in news English; close enough to pack chunks.
    return int(len(words(text)) * 1.3) + 1


def chunk_spans(
    text: str, chunk_size: int, chunk_overlap: int, sents: Sequence[tuple[int, int]] | None = None
) -> list[tuple[int, int]]:
    """Pack whole sentences into chunks of at most `chunk_size` tokens, repeating the last
    sentences (up to `chunk_overlap` tokens) at the start of the next chunk. A sentence longer
    than a chunk becomes a chunk of its own; offsets always fall on sentence boundaries."""
    sents = sentence_spans(text) if sents is None else sents
    sizes = [_token_count(text[s:e]) for s, e in sents]
    chunks: list[tuple[int, int]] = []
    i = 0
    while i < len(sents):
        j, total = i, 0
        while j < len(sents) and (j == i or total + sizes[j] <= chunk_size):
            total += sizes[j]
            j += 1
        chunks.append((sents[i][0], sents[j - 1][1]))
        if j >= len(sents):
            break
        # step back over trailing sentences that fit in the overlap, but always advance
        k, back = j, 0
        while k - 1 > i and back + sizes[k - 1] <= chunk_overlap:
            k -= 1
            back += sizes[k]
        i = k
    return chunks


def chunk_document(doc: Document, settings: Any, sents: Sequence[tuple[int, int]] | None = None) -> list:
    """llama-index nodes whose text is exactly doc.text[start:end] (id `doc_id:start-end`), each
    carrying its sentences' offsets: the chunking as a library user sees it."""
    from .retrieve import chunk_node

    sents = sentence_spans(doc.text) if sents is None else sents
    return [
        chunk_node(Chunk(f"{doc.doc_id}:{a}-{b}", doc.doc_id, doc.title, "", a, b,
                         sentences=tuple((s, e) for s, e in sents if s >= a and e <= b)), doc.text[a:b])
        for a, b in chunk_spans(doc.text, settings.chunk_size, settings.chunk_overlap, sents)
    ]
