"""Reading article files into Documents; the text is never altered after loading.

An article file is plain text or Markdown, optionally opened by a small header:

    ---
    title: China supplying Russia with cruise missile, drone and tank parts, warns US
    outlet: The Telegraph
    published: 2024-04
    ---
    <the article text, exactly as published>

Without a header the whole file is the text and the title is its first line. An `.html` page is
reduced to its main text by rag.extract (blocks separated by blank lines, navigation and other
page furniture dropped); that extracted text is the document text that offsets point into.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import CorpusError
from .types import Document

SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm")
HTML_SUFFIXES = (".html", ".htm")
MAX_FILE_BYTES = 20 * 1024 * 1024
_HEADER = re.compile(r"\A---\r?\n(?P<fields>(?:[A-Za-z_][\w-]*:[^\r\n]*\r?\n)*)---\r?\n")
_FIELD = re.compile(r"^([A-Za-z_][\w-]*):[ \t]*(.*?)[ \t]*\r?$", re.M)


@dataclass(frozen=True)
class LoadResult:
    """Documents that loaded, and one error per file that did not."""

    documents: list[Document]
    errors: list[CorpusError]


def parse_article(raw: str, fallback_title: str) -> tuple[str, str, dict[str, str]]:
    """Split a file's text into (title, text, metadata); `text` is a verbatim slice of `raw`."""
    metadata: dict[str, str] = {}
    text = raw
    match = _HEADER.match(raw)
    if match:
        metadata = {k.lower(): v for k, v in _FIELD.findall(match.group("fields"))}
        text = raw[match.end() :]
    title = metadata.pop("title", "") or _first_line_title(text) or fallback_title
    return title, text, metadata


def _first_line_title(text: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line if len(line) <= 160 else line[:157].rstrip() + "..."
    return ""


def read_bytes(path: Path) -> bytes:
    """A file's bytes, or a CorpusError naming it."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CorpusError(f"{path} is {size // 1024 // 1024} MiB; articles over 20 MiB are not read", path)
        return path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{path} cannot be read: {exc.strerror or exc}", path) from exc


def extractor_version(path: Path) -> str:
    """Changes when the way this kind of file becomes text changes (part of its fingerprint)."""
    if path.suffix.lower() in HTML_SUFFIXES:
        from .extract import VERSION

        return f"html-{VERSION}"
    return "text-1"


def parse_document(path: Path, data: bytes, doc_id: str | None = None) -> Document:
    """Turn a file's bytes into a Document; raise CorpusError naming the file when it is not usable."""
    if path.suffix.lower() in HTML_SUFFIXES:
        return _parse_html(path, data, doc_id)
    if b"\x00" in data:
        raise CorpusError(f"{path} looks binary (it contains NUL bytes); only text articles are read", path)
    try:
        raw = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path} is not UTF-8 text (bad byte at offset {exc.start})", path) from exc
    raw = raw.removeprefix("\ufeff")
    title, text, metadata = parse_article(raw, fallback_title=path.stem)
    if not text.strip():
        raise CorpusError(f"{path} has no article text", path)
    return Document(doc_id=doc_id or path.stem, title=title, text=text, source=str(path), metadata=metadata)


def _parse_html(path: Path, data: bytes, doc_id: str | None) -> Document:
    from .extract import extract

    if b"\x00" in data[:4096]:
        raise CorpusError(f"{path} looks binary (it contains NUL bytes); only text articles are read", path)
    try:
        page = extract(data)
    except Exception as exc:  # noqa: BLE001 - parsers raise many kinds on broken markup
        raise CorpusError(f"{path} could not be parsed as HTML: {exc}", path) from exc
    text = page.text
    if not text.strip():
        raise CorpusError(f"{path} has no main text that could be extracted", path)
    title = page.title or _first_line_title(text) or path.stem
    return Document(doc_id=doc_id or path.stem, title=title, text=text, source=str(path), metadata=page.metadata)


def read_document(path: Path, doc_id: str | None = None) -> Document:
    """Read one article file; raise CorpusError naming the file when it is not usable text."""
    return parse_document(path, read_bytes(path), doc_id)


def iter_article_files(
    paths: Iterable[Path], roots: Iterable[Path] = (), errors: list[CorpusError] | None = None
) -> Iterator[tuple[Path, str]]:
    """Yield (file, doc_id) for every article under the given files and folders, sorted.

    A document's id is its path without suffix, relative to the outermost folder that contains it
    among `roots` (folders ingested before) and the folder given now; a single file outside them is
    named by its stem. So `rag ingest docs` then `rag ingest docs/howto` give `howto/x` both times.
    Linked folders are followed once; a link that leads back into a folder being walked (a loop) or
    to a folder already walked is reported in `errors` and skipped."""
    import os

    bases = [Path(r).resolve() for r in roots]

    def base_of(real: Path, is_dir: bool) -> Path | None:
        found = [b for b in bases + ([real] if is_dir else []) if real == b or real.is_relative_to(b)]
        return min(found, key=lambda b: len(b.parts)) if found else None

    def walk(root: Path) -> list[Path]:
        files: list[Path] = []
        seen = {os.path.realpath(root)}
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            here = os.path.realpath(dirpath)
            for name in sorted(dirnames):
                target = os.path.realpath(os.path.join(dirpath, name))
                if name.startswith("."):
                    dirnames.remove(name)  # hidden folders are never articles
                elif target in seen or here == target or here.startswith(target + os.sep):
                    if errors is not None:
                        kind = "a symlink loop" if here == target or here.startswith(target + os.sep) else "a second link"
                        errors.append(CorpusError(f"{Path(dirpath) / name} is {kind} (it leads to {target}); skipped",
                                                  Path(dirpath) / name))
                    dirnames.remove(name)
                else:
                    seen.add(target)
            files += [Path(dirpath) / f for f in filenames]
        return sorted(p for p in files if p.is_file())

    for root in paths:
        root = Path(root)
        if not root.exists():
            raise CorpusError(f"{root} does not exist", root)
        real = root.resolve()
        base = base_of(real, root.is_dir())
        if root.is_dir():
            prefix = real.relative_to(base) if base else Path()
            for path in walk(root):
                rel = path.relative_to(root)
                if path.suffix.lower() in SUFFIXES and not any(part.startswith(".") for part in rel.parts):
                    yield path, (prefix / rel).with_suffix("").as_posix()
        else:
            yield root, real.relative_to(base).with_suffix("").as_posix() if base else root.stem


def load_documents(paths: Iterable[Path]) -> LoadResult:
    """Load every article; a bad file becomes an error in the result, not an exception."""
    documents: dict[str, Document] = {}
    errors: list[CorpusError] = []
    for path, doc_id in iter_article_files(paths):
        try:
            doc = read_document(path, doc_id)
        except CorpusError as exc:
            errors.append(exc)
            continue
        if doc_id in documents:
            errors.append(
                CorpusError(f"{path} and {documents[doc_id].source} both map to document id {doc_id!r}", path)
            )
            continue
        documents[doc_id] = doc
    return LoadResult(list(documents.values()), errors)
