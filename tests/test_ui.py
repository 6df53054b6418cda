"""The chat launched for real on 127.0.0.1 and driven through gradio_client and HTTP; the HTML it renders."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from rag import Assistant, ConfigError, Settings
from rag.types import Answer, Citation, Document
from rag.ui import launch, respond
from rag.ui.render import Exchange, Source, article_html, chat_html
from rag.ui.style import PRODUCT

pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402

from .conftest import free_port  # noqa: E402
from .fakes import HashEmbedder  # noqa: E402
from .ui_fixtures import MARKUP_ID, ScriptedAnswerer, running_chat, settings_for  # noqa: E402

TEL = "telegraph-china-cruise-missile-drone-tank-parts"


def turns(html: str) -> int:
    return html.count('<article class="turn"')


def test_question_gets_answer_with_markers_that_open_its_quotes(chat_url):
    client = Client(chat_url, verbose=False)
    html, box, download = client.predict("How much did trade between China and Russia reach in 2023?", [],
                                         api_name="/ask")
    assert "$240 billion" in html and 'class="marker" data-turn="0" data-n="1"' in html
    assert "Sources" in html and "The Telegraph" in html
    assert "trade" not in str(box)  # emptied when the question was posted, not refilled


def test_follow_up_keeps_each_answers_markers_and_restart_clears_everything(chat_url):
    client = Client(chat_url, verbose=False)
    client.predict("Which Chinese companies provide optical components for Russian tanks?", [], api_name="/ask")
    html, _, download = client.predict("Which of them make military optics?", [], api_name="/ask")
    assert turns(html) == 2 and 'data-turn="1" data-n="1"' in html and 'data-turn="0" data-n="1"' in html
    assert "iRay" in html.split('id="turn-1"')[1]
    text = open(download["value"] if isinstance(download, dict) else download, encoding="utf-8").read()
    assert "## 2. Which of them make military optics?" in text and "“" in text
    chat, box, article, only, download = client.predict(api_name="/restart")
    assert turns(chat) == 0 and box == "" and article == "" and only["value"] == []
    html, _, _ = client.predict("Who is Liu Pengyu?", [], api_name="/ask")
    assert turns(html) == 1  # the history went with the chat


def test_blank_question_posts_nothing_and_errors_are_polite(chat_url):
    client = Client(chat_url, verbose=False)
    html, _, _ = client.predict("   ", [], api_name="/ask")
    assert turns(html) == 0
    html, box, _ = client.predict("x" * 5000, [], api_name="/ask")
    assert "limit" in html and 'role="alert"' in html and box == "x" * 5000
    html, _, _ = client.predict("Who is Liu Pengyu?", [], api_name="/ask")
    assert "Liu Pengyu" in html


def test_a_limited_search_says_so_in_its_answer(chat_url):
    client = Client(chat_url, verbose=False)
    html, _, _ = client.predict("What share of Russia's microelectronics came from China?", [TEL], api_name="/ask")
    assert "Searched only: The Telegraph: China supplying Russia" in html
    assert "[1] The Telegraph" in html and "[1] AP" not in html


def test_ten_concurrent_chats_are_all_answered_correctly(chat_url):
    questions = {
        "How much did trade between China and Russia reach in 2023?": "$240 billion",
        "Who is Liu Pengyu?": "Liu Pengyu",
        "What does General Atomics produce?": "Predator",
        "Where will the Group of 7 foreign ministers meet?": "Capri",
        "What share of Russia's microelectronics came from China in 2023?": "90",
    }

    def one(job):
        question, fact = job
        html, _, _ = Client(chat_url, verbose=False).predict(question, [], api_name="/ask")
        return fact in html and 'class="marker"' in html

    with ThreadPoolExecutor(max_workers=10) as pool:
        assert list(pool.map(one, list(questions.items()) * 2)) == [True] * 10


def test_status_reset_and_notice_are_shown_as_they_stream(tmp_path):
    assistant = Assistant(settings_for(tmp_path), embedder=HashEmbedder(), answerer=ScriptedAnswerer())
    steps = [html for html, _, _ in respond(assistant, "What did the zebra council chair say?", [], None)]
    assert "Searching the articles…" in steps[0]
    assert any("A first draft" in s for s in steps)
    assert any("starting again" in s and "A first draft" not in s for s in steps)
    assert any("Checking quotes…" in s and "The article says so" in s for s in steps)
    final = steps[-1]
    assert 'role="status"' not in final and 'class="notice" role="note"' in final and "was removed" in final
    assert "&lt;b&gt;not bold&lt;/b&gt;" in final and "[7]" in final and 'data-n="7"' not in final


def test_everything_from_articles_and_models_is_escaped():
    doc = Document(MARKUP_ID, "T <img src=x>", "say <script>x()</script> and <svg/onload=1> end", "",
                   {"outlet": "<b>O</b>", "url": "javascript:alert(1)", "published": "<i>2024</i>"})
    start = doc.text.index("<script>")
    cite = Citation(doc.doc_id, doc.title, doc.text[start:start + 18], start, start + 18)
    answer = Answer("He said “<script>x()</script>” [1] <img src=y>", [cite])
    ex = Exchange(question="<svg onload=1>?", answer=answer, sources=[Source("<b>O</b>", doc.title, "<i>2024</i>")],
                  scope=["<img src=z>"], status=None)
    for html in (chat_html([ex]), article_html(doc, cite, 0, 1, "<b>O</b>")):
        assert not re.search(r"<(img|script|svg|b|i)[\s>/]", html), html
        assert "&lt;script&gt;" in html and "javascript:" not in html
    assert '<mark id="quote"' in article_html(doc, cite, 0, 1, "O")


def test_no_login_means_loopback_only(minilm, tmp_path):
    assistant = Assistant(Settings(data_dir=tmp_path), embedder=minilm)
    with pytest.raises(ConfigError, match="without a login"):
        launch(assistant, "0.0.0.0", free_port(), block=False)
    half = Assistant(Settings(data_dir=tmp_path, chat_user="ana"), embedder=minilm)
    with pytest.raises(ConfigError, match="both"):
        launch(half, "127.0.0.1", free_port(), block=False)


@pytest.fixture(scope="module")
def login_url(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("login")
    settings = settings_for(tmp, chat_user="ana", chat_password="s3cret")
    with running_chat(Assistant(settings, embedder=HashEmbedder())) as url:
        yield url


def test_nothing_about_the_articles_is_served_before_login(login_url):
    with httpx.Client(base_url=login_url) as http:
        for path in ("/config", "/gradio_api/info", "/gradio_api/queue/join", "/theme.css", "/"):
            r = http.get(path)
            assert r.status_code in (303, 401), path
            assert MARKUP_ID not in r.text and "telegraph" not in r.text.lower()
        page = http.get("/", headers={"accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"] == "/login"
        login = http.get("/login")
        assert PRODUCT in login.text and "telegraph" not in login.text.lower()


def test_wrong_password_keeps_the_user_name_and_failures_are_throttled(login_url):
    # a client address of its own: the throttle is per client, and other tests sign in from 127.0.0.1
    with httpx.Client(base_url=login_url, headers={"accept": "text/html"},
                      transport=httpx.HTTPTransport(local_address="127.0.0.3")) as http:
        for _ in range(3):
            r = http.post("/login", data={"username": "ana<b>", "password": "nope"})
            assert r.status_code == 401 and 'value="ana&lt;b&gt;"' in r.text and "Wrong user name" in r.text
        assert http.post("/login", data={"username": "ana", "password": "nope"}).status_code == 401
        # the fourth failure made this client wait: even the right password is refused for now
        r = http.post("/login", data={"username": "ana", "password": "s3cret"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and 'value="ana"' in r.text


def test_login_lets_the_browser_and_the_client_in(login_url):
    with httpx.Client(base_url=login_url, headers={"accept": "text/html"},
                      transport=httpx.HTTPTransport(local_address="127.0.0.2")) as http:
        r = http.post("/login", data={"username": "ana", "password": "s3cret"})
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert http.get("/config").status_code == 200
    client = Client(login_url, auth=("ana", "s3cret"), verbose=False)
    html, _, _ = client.predict("Who is Liu Pengyu?", [], api_name="/ask")
    assert "Liu Pengyu" in html
