"""The chat in a real headless Chromium, as a reader uses it, in light and dark mode and at phone width.

Every page must load nothing from outside 127.0.0.1. Screenshots go to the test's folder, or to
$UI_SCREENSHOTS (e.g. docs/) when that is set.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from rag import Assistant

from .ui_fixtures import MARKUP_QUESTION, running_chat, settings_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                       reason="Debian's chromium is not installed"),
]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWS = {
    "light": dict(viewport={"width": 1400, "height": 1000}, color_scheme="light"),
    "dark": dict(viewport={"width": 1400, "height": 1000}, color_scheme="dark"),
    "phone": dict(viewport={"width": 390, "height": 844}, color_scheme="light", is_mobile=True, has_touch=True),
}
TRADE = "How much did trade between China and Russia reach in 2023?"
OPTICS = "Which Chinese companies provide optical components for Russian tanks?"
FOLLOW_UP = "Which of them make military optics?"
AA = 4.5  # WCAG AA contrast for normal text

# Contrast of an element's text against what is painted behind it, from the page's computed styles.
# Colours go through a canvas so any CSS colour syntax is understood; translucent layers are blended.
CONTRAST_JS = """
([el, pseudo]) => {
  const ctx = document.createElement('canvas').getContext('2d', {willReadFrequently: true});
  const rgba = (c) => { ctx.clearRect(0, 0, 1, 1); ctx.fillStyle = c; ctx.fillRect(0, 0, 1, 1);
    const d = ctx.getImageData(0, 0, 1, 1).data; return [d[0], d[1], d[2], d[3] / 255]; };
  const over = (top, bottom) => [0, 1, 2].map(i => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const layers = [];
  for (let node = el; node; node = node.parentElement) {
    const c = rgba(getComputedStyle(node).backgroundColor);
    if (c[3] > 0) layers.push(c);
    if (c[3] >= 1) break;
  }
  let bg = [255, 255, 255, 1];
  for (const layer of layers.reverse()) bg = over(layer, bg);
  const fg = over(rgba(getComputedStyle(el, pseudo).color), bg);
  const lum = (c) => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return {ratio: (a + 0.05) / (b + 0.05), fg, bg};
}
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory, minilm):
    tmp = tmp_path_factory.mktemp("browser")
    settings = settings_for(tmp)
    assistant = Assistant(settings, embedder=minilm)
    assistant.documents()  # ingest before the first page asks
    with running_chat(assistant) as url:
        yield SimpleNamespace(url=url, settings=settings, minilm=minilm)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    return Path(os.environ.get("UI_SCREENSHOTS") or tmp_path)


class Reader:
    """One browser tab on the chat; remembers every URL the page requested."""

    def __init__(self, browser, url: str, view: str, **extra) -> None:
        self.context = browser.new_context(**VIEWS[view], **extra)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url)
        from playwright.sync_api import expect

        self.expect = expect
        expect(self.page.locator("#only")).to_contain_text("The Telegraph")

    def ask(self, question: str, answers: int) -> None:
        self.page.locator("#question textarea").fill(question)
        self.expect(self.page.locator("#ask")).to_be_enabled()
        self.page.locator("#ask").click()
        self.expect(self.page.locator("#chat article.turn .tools")).to_have_count(answers, timeout=60_000)

    def open(self, turn: int, n: int, keyboard: bool = False) -> str:
        """Open marker [n] of answer `turn`; the article view's highlighted quote."""
        marker = self.page.locator(f'#turn-{turn} .text button.marker[data-n="{n}"]').first
        if keyboard:
            marker.focus()
            self.page.keyboard.press("Enter")
        else:
            marker.click()
        self.expect(self.page.locator("#article .kicker")).to_have_text(f"Source [{n}] of answer {turn + 1}")
        return self.page.locator("#article mark").inner_text()

    def close_article(self) -> None:
        self.page.locator("#article button.close").click()
        self.expect(self.page.locator("#article .article-view")).to_have_count(0)

    def copy_text(self, turn: int) -> str:
        return self.page.locator(f"#turn-{turn} .copy-text").text_content()

    def contrast(self, selector: str, pseudo: str | None = None) -> float:
        return self.page.locator(selector).first.evaluate(
            "(el, pseudo) => (" + CONTRAST_JS + ")([el, pseudo])", pseudo
        )["ratio"]

    def close(self) -> None:
        self.context.close()
        outside = [u for u in self.requests if not u.startswith(("http://127.0.0.1", "data:", "blob:"))]
        assert outside == []  # the page loads nothing from the internet


@pytest.fixture
def reader(app, browser):
    opened: list[Reader] = []

    def make(view: str = "light", **extra) -> Reader:
        opened.append(Reader(browser, app.url, view, **extra))
        return opened[-1]

    yield make
    for r in opened:
        r.close()


def quoted(mark: str, copy_text: str) -> bool:
    return f"“{' '.join(mark.split())}”" in " ".join(copy_text.split())


@pytest.mark.parametrize("view", ["light", "dark", "phone"])
def test_each_answers_markers_open_its_own_quotes_and_read_well(reader, view, shots):
    r = reader(view)
    page = r.page
    if view == "phone":  # the first screen shows the example questions and the articles
        assert page.locator("#only").bounding_box()["y"] < 844 - 60
        assert page.get_by_text("How much did trade", exact=False).first.bounding_box()["y"] < 844
        page.screenshot(path=str(shots / "chat-phone-start.png"))
    if view == "dark":
        assert page.evaluate("document.body.classList.contains('dark') || "
                             "!!document.querySelector('.dark')")
    r.ask(TRADE, 1)
    r.ask(OPTICS, 2)
    r.ask(FOLLOW_UP, 3)
    assert "iRay" in page.locator("#turn-2 .text").inner_text()
    if view != "phone":  # the conversation scrolled to the newest answer
        conv, last = page.locator("#chat .conv").bounding_box(), page.locator("#turn-2 .tools").bounding_box()
        assert conv["y"] <= last["y"] and last["y"] + last["height"] <= conv["y"] + conv["height"] + 1
    marks = {}
    for turn in (0, 1, 2):
        marks[turn] = r.open(turn, 1)
        if view == "phone":  # there the article covers the screen until it is closed
            r.close_article()
    for turn, mark in marks.items():
        assert quoted(mark, r.copy_text(turn)), (turn, mark)
    assert "$240 billion" in marks[0] and marks[0] != marks[1]
    if view != "phone":
        page.evaluate("window.scrollTo(0, 0)")  # the picture starts at the page's title
        shot = page.screenshot(path=str(shots / ("chat.png" if view == "light" else f"chat-{view}.png")))
        assert len(shot) > 10_000
    # a focused marker previews its quote; an older answer's marker still opens its own quote after
    # later questions, and Enter opens it
    page.locator("#turn-0 .text button.marker").first.focus()
    r.expect(page.locator("#turn-0 .preview")).to_contain_text("[1] The Telegraph: “Trade between China")
    assert r.open(0, 1, keyboard=True) == marks[0]
    view_box = page.locator("#article .article-view").bounding_box()
    text_box = page.locator("#article .article-text").bounding_box()
    mark_box = page.locator("#article mark").bounding_box()
    assert text_box["y"] - 1 <= mark_box["y"] and mark_box["y"] + 10 <= text_box["y"] + text_box["height"]
    assert 0 <= mark_box["y"] <= VIEWS[view]["viewport"]["height"] - 10  # scrolled to the quote
    assert page.locator("#article .article-text").evaluate("e => e.scrollTop") > 0
    r.expect(page.locator("#article button.close")).to_be_in_viewport()  # the title and Close stay in view
    assert page.locator("#article .meta").inner_text().startswith("The Telegraph · Published 2024-04")
    for selector in ("#article mark", "#turn-0 .text p", "#turn-0 .text button.marker", "#turn-0 .src-title",
                     "#turn-0 .sources button.source", "#mode p", "#counter p", "#article .meta"):
        assert r.contrast(selector) >= AA, selector
    assert r.contrast("#question textarea", "::placeholder") >= AA
    page.locator("#question textarea").fill("Who is Liu Pengyu?")
    r.expect(page.locator("#ask")).to_be_enabled()
    assert r.contrast("#ask") >= AA
    if view == "phone":
        page.screenshot(path=str(shots / "chat-phone-article.png"))
        assert view_box["width"] >= 380  # the article covers the phone screen
        r.close_article()
        text = page.locator("#turn-1 .text").bounding_box()
        sources = page.locator("#turn-1 .sources").bounding_box()
        assert 0 <= sources["y"] - (text["y"] + text["height"]) < 80  # sources directly under the answer
        page.locator("#turn-1").scroll_into_view_if_needed()
        assert len(page.screenshot(path=str(shots / "chat-phone.png"))) > 10_000


def test_start_over_clears_chat_history_sources_and_filter(reader):
    r = reader("light")
    page = r.page
    page.locator("#only label", has_text="The Telegraph").click()
    r.ask("What share of Russia's microelectronics came from China?", 1)
    scope = page.locator("#turn-0 .scope")
    r.expect(scope).to_contain_text("Searched only: The Telegraph: China supplying Russia")
    assert "Searched only: The Telegraph" in r.copy_text(0)
    assert page.locator("#turn-0 .sources button.source").all_inner_texts() == ["[1] The Telegraph"] * \
        page.locator("#turn-0 .sources li").count()
    r.open(0, 1)
    r.expect(page.locator("#download")).to_be_enabled()
    page.locator("#restart").click()
    r.expect(page.locator("#chat article.turn")).to_have_count(0)
    r.expect(page.locator("#chat .welcome")).to_be_visible()
    r.expect(page.locator("#article .article-view")).to_have_count(0)
    r.expect(page.locator("#only input:checked")).to_have_count(0)
    r.expect(page.locator("#download")).to_be_disabled()
    r.ask("Who is Liu Pengyu?", 1)  # a new conversation: answer 1 again, searched in all articles
    assert page.locator("#turn-0 .scope").count() == 0 and page.locator("#turn-1").count() == 0


def test_empty_question_cannot_be_asked_and_the_counter_shows_the_limit(reader, app):
    r = reader("light")
    page = r.page
    limit = app.settings.max_question_chars
    r.expect(page.locator("#ask")).to_be_disabled()
    page.locator("#question textarea").fill("   ")
    r.expect(page.locator("#counter")).to_contain_text(f"0 / {limit}")
    r.expect(page.locator("#ask")).to_be_disabled()
    page.locator("#question textarea").fill("Who is Liu Pengyu?")
    r.expect(page.locator("#counter")).to_contain_text(f"18 / {limit}")
    r.expect(page.locator("#ask")).to_be_enabled()
    page.locator("#question textarea").fill("x" * (limit + 1))
    r.expect(page.locator("#counter")).to_contain_text(f"{limit + 1} / {limit} characters (too long)")
    r.expect(page.locator("#ask")).to_be_disabled()


def test_copy_and_download_carry_the_sources(reader):
    r = reader("light", permissions=["clipboard-read", "clipboard-write"])
    page = r.page
    r.ask(OPTICS, 1)
    page.locator("#turn-0 button.copy").click()
    r.expect(page.locator("#turn-0 button.copy")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "Hikvision" in copied and "Sources:" in copied
    assert re.search(r"^\[1\] (?:AP|The Telegraph|CNN): \S", copied, re.M)  # each source numbered with its outlet
    with page.expect_download() as download:
        page.locator("#download").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.startswith("# Conversation with") and f"## 1. {OPTICS}" in text and copied in text


def test_article_markup_shows_as_text_and_makes_the_browser_fetch_nothing(reader):
    r = reader("light")
    page = r.page
    r.expect(page.locator("#only")).to_contain_text("Zebra council <img src=x-title> report <b>bold</b>")
    r.ask(MARKUP_QUESTION, 1)
    answer = page.locator("#turn-0 .text").inner_text()
    assert "<img src=x-quote" in answer and "<script>window.pwned=4</script>" in answer
    assert "<svg><circle" in answer and "${value} and {{value}}" in answer
    assert "<svg onload=" in page.locator("#turn-0 .sources").inner_text()
    mark = r.open(0, 1)
    assert "<img src=x-quote" in mark
    assert page.locator("#article h2").inner_text() == "Zebra council <img src=x-title> report <b>bold</b>"
    assert page.locator("#article a").count() == 0  # a javascript: url is not a link
    for where in ("#chat", "#article", "#only"):
        assert page.locator(f"{where} img, {where} script, {where} svg circle, {where} b").count() == 0
    assert page.evaluate("window.pwned") is None
    assert not [u for u in r.requests if "x-quote" in u or "x-title" in u]


def test_filter_shows_articles_ingested_by_another_process_while_the_chat_runs(reader, app):
    r = reader("light")
    page = r.page
    folder = app.settings.corpus_dir
    (folder / "late-otter-report.md").write_text(
        "---\ntitle: Otters return to the river\noutlet: River Times\npublished: 2024-06\n---\n"
        "Otters returned to the river this spring after twenty years away.\n", encoding="utf-8")
    Assistant(app.settings, embedder=app.minilm).ingest()  # another writer of the same store
    deadline = time.monotonic() + 30
    while "Otters return" not in page.locator("#only").inner_text():
        assert time.monotonic() < deadline, "the new article never appeared in the filter"
        page.locator("#refresh").click()
        page.wait_for_timeout(300)
    r.expect(page.locator("#only")).to_contain_text("River Times: Otters return to the river")


def test_login_page_names_the_product_keeps_the_user_name_and_lets_the_reader_in(browser, tmp_path):
    from playwright.sync_api import expect

    from .fakes import HashEmbedder

    settings = settings_for(tmp_path, chat_user="ana", chat_password="s3cret")
    with running_chat(Assistant(settings, embedder=HashEmbedder())) as url:
        context = browser.new_context(**VIEWS["light"])
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(url)
        expect(page.locator("h1")).to_have_text("rag · news articles, quoted")
        assert "gradio_api_info" not in page.content() and "telegraph" not in page.content().lower()
        page.locator("#username").fill("ana")
        page.locator("#password").fill("wrong")
        page.locator("button[type=submit]").click()
        expect(page.locator(".error")).to_have_text("Wrong user name or password.")
        expect(page.locator("#username")).to_have_value("ana")
        expect(page.locator("#password")).to_be_focused()
        page.locator("#password").fill("s3cret")
        page.locator("button[type=submit]").click()
        expect(page.locator("#only")).to_contain_text("The Telegraph")
        page.locator("#question textarea").fill("Who is Liu Pengyu?")
        page.locator("#ask").click()
        expect(page.locator("#turn-0 .tools")).to_have_count(1, timeout=60_000)
        with page.expect_download() as download:
            page.locator("#download").click()
        assert "Liu Pengyu" in Path(download.value.path()).read_text(encoding="utf-8")
        context.close()
    assert [u for u in requests if not u.startswith("http://127.0.0.1")] == []
