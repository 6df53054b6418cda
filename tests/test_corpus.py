"""The bundled articles are the seed's text, verbatim; bad files get clear, named errors."""

from __future__ import annotations

import pytest

from rag.config import BUNDLED_CORPUS
from rag.corpus import load_documents, read_document
from rag.errors import CorpusError

from .conftest import SEED


def bundled_docs():
    result = load_documents([BUNDLED_CORPUS])
    assert not result.errors
    return result.documents


def test_bundled_corpus_has_the_three_articles_with_titles_and_outlets():
    docs = {d.doc_id: d for d in bundled_docs()}
    assert len(docs) == 3
    assert {d.metadata["outlet"] for d in docs.values()} == {"CNN", "The Telegraph", "AP"}
    assert all(d.title and d.text.strip() for d in docs.values())


@pytest.mark.skipif(not SEED.exists(), reason="the seed file is not beside this checkout")
def test_article_text_is_verbatim_from_the_seed_without_counters_or_footer():
    seed = SEED.read_text(encoding="utf-8")
    footer_start = seed.index("Pesquisar")
    for doc in bundled_docs():
        body = doc.text.rstrip("\n")
        pos = seed.find(body)
        assert pos >= 0, doc.doc_id
        assert pos + len(body) <= footer_start
        assert doc.title in seed[:pos]
        assert "\n2K\n" not in doc.text and "Pesquisar" not in doc.text
    # curly quotes and non-breaking spaces survived
    text = "".join(d.text for d in bundled_docs())
    assert "’" in text and "“" in text and "\u00a0" in text


def test_plain_markdown_without_header_uses_first_line_as_title(tmp_path):
    path = tmp_path / "note.md"
    path.write_text("# A headline\n\nBody “text”.\r\n", encoding="utf-8", newline="")
    doc = read_document(path)
    assert doc.title == "A headline"
    assert doc.text == "# A headline\n\nBody “text”.\r\n"  # kept exactly, CRLF included
    assert doc.doc_id == "note"


def test_header_fields_become_metadata_and_text_starts_after_it(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("---\ntitle: T\noutlet: X\n---\nHello.\n", encoding="utf-8")
    doc = read_document(path)
    assert (doc.title, doc.metadata, doc.text) == ("T", {"outlet": "X"}, "Hello.\n")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "has no article text"),
        (b"   \n\n", "has no article text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "looks binary"),
        (b"caf\xe9 au lait", "is not UTF-8 text"),
    ],
)
def test_bad_files_raise_an_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusError) as info:
        read_document(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_load_documents_collects_errors_and_keeps_good_files(tmp_path):
    (tmp_path / "good.md").write_text("Good article.\n", encoding="utf-8")
    (tmp_path / "bad.md").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")  # not an article suffix: ignored
    result = load_documents([tmp_path])
    assert [d.doc_id for d in result.documents] == ["good"]
    assert len(result.errors) == 1 and "bad.md" in str(result.errors[0])
