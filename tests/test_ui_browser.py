"""The chat in a real headless Chromium: type a question, see the answer, open a citation and see
the quote highlighted in its paragraph. A screenshot is kept in the test's output folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="Debian's chromium is not installed"
)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_ask_in_the_browser_and_open_a_citation(chat_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        requests: list[str] = []
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("request", lambda r: requests.append(r.url))
        page.goto(chat_url)
        expect(page.locator("#mode")).to_contain_text("offline")
        expect(page.locator("#only")).to_contain_text("The Telegraph")
        page.locator("#question textarea").fill("Which Chinese companies provide optical components for Russian tanks?")
        page.locator("#ask").click()
        answer = page.locator("#chatbot")
        expect(answer).to_contain_text("Hikvision", timeout=60_000)
        expect(answer).to_contain_text("[1]")
        first = page.locator("#sources details#cite-1")
        expect(first).to_be_visible()
        first.locator("summary").click()
        mark = first.locator("mark")
        expect(mark).to_be_visible()
        expect(mark).to_contain_text("Hikvision")
        page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)
        browser.close()
    assert (tmp_path / "chat.png").stat().st_size > 10_000
    outside = [u for u in requests if not u.startswith(("http://127.0.0.1", "data:", "blob:"))]
    assert outside == []  # the page loads nothing from the internet
