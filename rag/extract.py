"""HTML pages to article text: the main content as blocks (headings, paragraphs, list items,
label/value pairs, table rows, code), one block per paragraph, blocks separated by a blank line.

Inside a block, runs of ASCII whitespace become one space, as a browser renders them, so the
source's line wraps never reach a quote. The main content is the page's `main`/`article`/
`role=main` element when it has one; otherwise trafilatura picks it (its boilerplate removal),
and its structured output goes through the same walk. Unlike trafilatura's plain text, the walk
keeps link- and code-heavy list items and table cells, which are often the very facts asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree, html as lxml_html

# Elements that are never article text.
_SKIP = frozenset(
    "script style noscript template nav footer aside form button select option svg math iframe object embed "
    "canvas audio video input textarea head title link meta".split()
)
# Elements that start a block of their own (trafilatura's XML names included: head, item, row, cell).
_HEADINGS = frozenset("h1 h2 h3 h4 h5 h6 head".split())
_BLOCKS = frozenset(
    "p div section article main header blockquote quote figure figcaption caption address details summary "
    "ul ol list dl table thead tbody tfoot center hr".split()
) | _HEADINGS
_ITEMS = frozenset({"li", "item"})
_ROWS = frozenset({"tr", "row"})
_CELLS = frozenset({"td", "th", "cell"})
_CODE = frozenset({"pre"})
_BREAKS = frozenset({"br", "lb"})
_SKIP_CLASSES = re.compile(r"\b(?:headerlink|sphinxsidebar|related|breadcrumbs?|skip-link|visually-hidden|sr-only)\b")
_SPACE = re.compile(r"[ \t\n\r\f\v]+")  # ASCII whitespace only: a non-breaking space is text
LABEL_MAX_CHARS = 60  # a definition term this short is a label ("Editor:") ...
VALUE_MAX_CHARS = 240  # ... and its value is joined to it when it is a short, single paragraph
MAIN_MIN_SHARE = 0.2
VERSION = "blocks-2"  # part of every HTML file's fingerprint: bump when the text it gives changes  # a main/article element must hold this share of the page's text to be trusted


@dataclass
class Page:
    """What the walk found: the text blocks and the page's own metadata."""

    blocks: list[str] = field(default_factory=list)
    title: str = ""
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n\n".join(self.blocks)


def extract(data: bytes) -> Page:
    """The article text of an HTML page (empty blocks when there is none)."""
    try:
        tree = lxml_html.fromstring(data.decode("utf-8"))  # most pages are UTF-8, declared or not
    except (UnicodeDecodeError, ValueError):
        tree = lxml_html.fromstring(data)  # lxml reads the declared encoding
    metas = _metas(tree)
    page = Page(title=_title(tree, metas), metadata=_metadata(tree, metas))
    root = _main(tree)
    if root is None:
        root = _trafilatura_main(data)
    if root is not None:
        page.blocks = _Walker().run(root)
    if not page.title and page.blocks:
        page.title = page.blocks[0].removeprefix("- ")[:160]
    return page


def _text_len(el) -> int:
    return len(_SPACE.sub(" ", el.text_content() or "").strip())


def _main(tree):
    """The element holding the main content, when the page marks it."""
    body = tree.find("body")
    total = _text_len(body if body is not None else tree) or 1
    for query in ('//*[@role="main"]', "//main", "//article", '//div[contains(concat(" ", @class, " "), " body ")]'):
        sized = [(_text_len(el), el) for el in tree.xpath(query)]  # each measured once: it walks the element
        found = [(n, el) for n, el in sized if n >= MAIN_MIN_SHARE * total]
        if found:
            return max(found, key=lambda pair: pair[0])[1]
    return None


def _trafilatura_main(data: bytes):
    import trafilatura

    xml = trafilatura.extract(
        data, output_format="xml", include_comments=False, include_tables=True, favor_recall=True
    )
    if not xml:
        return None
    return etree.fromstring(xml.encode("utf-8"), etree.XMLParser(recover=True)).find("main")


def _metas(tree) -> dict[str, str]:
    """Each <meta> property or name with its first non-empty content, in one pass over the page
    (an XPath query per name walked the whole page 13 times: 1 s of a 150-page ingest)."""
    found: dict[str, str] = {}
    for el in tree.iter("meta"):
        value = (el.get("content") or "").strip()
        if value:
            for key in (el.get("property"), el.get("name")):
                if key:
                    found.setdefault(key, value)
    return found


def _meta(metas: dict[str, str], *names: str) -> str:
    """The content of the first of `names` the page gives."""
    return next((metas[name] for name in names if name in metas), "")


def _title(tree, metas: dict[str, str]) -> str:
    title = _meta(metas, "og:title", "twitter:title")
    if not title:
        h1 = tree.xpath("//h1")
        title = _clean(h1[0]) if h1 else ""
    if not title:
        el = tree.find(".//title")
        title = _SPACE.sub(" ", el.text_content()).strip() if el is not None else ""
    return title


def _metadata(tree, metas: dict[str, str]) -> dict[str, str]:
    meta = {"format": "html"}
    for key, names in {
        "outlet": ("og:site_name", "application-name"),
        "published": ("article:published_time", "datePublished", "date", "dc.date", "pubdate"),
        "url": ("og:url",),
        "author": ("author", "article:author"),
    }.items():
        value = _meta(metas, *names)
        if value:
            meta[key] = value
    canonical = tree.xpath('//link[@rel="canonical"]/@href')
    if "url" not in meta and canonical:
        meta["url"] = str(canonical[0])
    if not meta.get("url", "").startswith(("http://", "https://")):
        meta.pop("url", None)  # a file:// address says nothing a reader can follow
    return meta


def _clean(el) -> str:
    return _SPACE.sub(" ", "".join(_inline(el))).strip()


def _tag(el) -> str:
    tag = el.tag
    return tag.lower() if isinstance(tag, str) else ""


def _skipped(el) -> bool:
    tag = _tag(el)
    if tag == "aside" and "footnote" in (el.get("class") or ""):
        return False  # footnotes are the article's own text
    if not tag or tag in _SKIP:
        return True
    if el.get("hidden") is not None or el.get("aria-hidden") == "true":
        return True
    return bool(_SKIP_CLASSES.search(el.get("class") or ""))


class _Walker:
    """Turns an element tree into text blocks, in document order."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self._buffer: list[str] = []
        self._prefix = ""

    def run(self, root) -> list[str]:
        self._children(root)
        self._flush()
        return [b for i, b in enumerate(self.blocks) if i == 0 or b != self.blocks[i - 1]]

    def _flush(self) -> None:
        text = _SPACE.sub(" ", "".join(self._buffer)).strip()
        self._buffer = []
        if text and text != "-":
            self.blocks.append(self._prefix + text)
            self._prefix = ""

    def _children(self, el) -> None:
        if el.text:
            self._buffer.append(el.text)
        for child in el:
            self._element(child)
            if child.tail:
                self._buffer.append(child.tail)

    def _element(self, el) -> None:
        if _skipped(el):
            return
        tag = _tag(el)
        if tag in _BREAKS:
            self._buffer.append(" ")
        elif tag in _CODE:
            self._flush()
            code = "".join(el.itertext()).strip("\n")
            # a blank line inside code would read as a block break; keep the code in one block
            code = re.sub(r"\n[ \t]*\n+", "\n", code)
            if code.strip():
                self.blocks.append(code)
        elif tag in _ITEMS:
            self._flush()
            self._prefix = "- "
            self._children(el)
            self._flush()
            self._prefix = ""
        elif tag == "dl":
            self._flush()
            self._definitions(el)
        elif tag in _ROWS:
            self._flush()
            cells = [_clean(c) for c in el if _tag(c) in _CELLS and not _skipped(c)]
            row = " | ".join(c for c in cells if c)
            if row:
                self.blocks.append(row)
        elif tag in _BLOCKS or tag in _CELLS or tag in ("dt", "dd"):
            self._flush()
            self._children(el)
            self._flush()
        else:
            self._children(el)

    def _definitions(self, dl) -> None:
        """Short "label: value" pairs stay together ("Editor: Raymond Hettinger"); a long
        definition (an API entry) keeps its term and its paragraphs as blocks."""
        items = [c for c in dl if _tag(c) in ("dt", "dd") and not _skipped(c)]
        i = 0
        while i < len(items):
            el = items[i]
            nxt = items[i + 1] if i + 1 < len(items) else None
            if _tag(el) == "dt" and nxt is not None and _tag(nxt) == "dd":
                label, value = _clean(el), _clean(nxt)
                inner = [_tag(c) for c in nxt.iter() if c is not nxt and _tag(c) in _BLOCKS | _ITEMS | _CODE | {"dl"}]
                simple = inner in ([], ["p"], ["div"])
                if label and value and simple and len(label) <= LABEL_MAX_CHARS and len(value) <= VALUE_MAX_CHARS:
                    sep = " " if label.endswith(":") else ": "
                    self.blocks.append(f"{label}{sep}{value}")
                    i += 2
                    continue
            self._element(el)
            if el.tail:
                self._buffer.append(el.tail)
            i += 1


def _inline(el) -> list[str]:
    """Text of an element as one line, skipping what is never text."""
    out: list[str] = []
    if el.text:
        out.append(el.text)
    for child in el:
        if not _skipped(child):
            out.extend(_inline(child) if _tag(child) not in _BREAKS else [" "])
        if child.tail:
            out.append(child.tail)
    return out
