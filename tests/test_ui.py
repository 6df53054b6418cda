"""The Gradio chat, launched for real on 127.0.0.1 and driven through gradio_client."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from rag import Assistant, ConfigError, Settings
from rag.ui import launch

pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402

from .conftest import free_port  # noqa: E402


def last_answer(chat) -> str:
    content = chat[-1]["content"]
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def test_question_gets_answer_and_citations_with_highlighted_context(chat_url):
    client = Client(chat_url, verbose=False)
    chat, box, sources = client.predict("How much did trade between China and Russia reach in 2023?", [], [],
                                        api_name="/ask")
    assert "$240 billion" in last_answer(chat) and "[1]" in last_answer(chat)
    assert "<mark>" in sources and "$240 billion" in sources and "cite-1" in sources
    assert box == ""


def test_follow_up_uses_the_conversation_and_clear_starts_over(chat_url):
    client = Client(chat_url, verbose=False)
    client.predict("Which Chinese companies provide optical components for Russian tanks?", [], [], api_name="/ask")
    chat, _, sources = client.predict("Which of them make military optics?", [], [], api_name="/ask")
    assert "iRay" in sources
    cleared = client.predict(api_name="/clear")
    assert cleared[0] == []


def test_errors_are_polite_messages_and_the_app_keeps_working(chat_url):
    client = Client(chat_url, verbose=False)
    chat, box, _ = client.predict("   ", [], [], api_name="/ask")
    assert "Sorry" in last_answer(chat) and "Please type a question" in last_answer(chat)
    chat, _, _ = client.predict("x" * 5000, [], [], api_name="/ask")
    assert "limit" in last_answer(chat)
    chat, _, _ = client.predict("Who is Liu Pengyu?", [], [], api_name="/ask")
    assert "Liu Pengyu" in last_answer(chat)


def test_search_can_be_limited_to_chosen_articles(chat_url):
    client = Client(chat_url, verbose=False)
    tel = "telegraph-china-cruise-missile-drone-tank-parts"
    _, _, sources = client.predict("What share of Russia's microelectronics came from China?", [], [tel],
                                   api_name="/ask")
    assert tel in sources and "ap-china" not in sources


def test_ten_concurrent_chats_are_all_answered_correctly(chat_url):
    questions = {
        "How much did trade between China and Russia reach in 2023?": "$240 billion",
        "Who is Liu Pengyu?": "Liu Pengyu",
        "What does General Atomics produce?": "Predator",
        "Where will the Group of 7 foreign ministers meet?": "Capri",
        "What share of Russia's microelectronics came from China in 2023?": "90",
    }
    jobs = list(questions.items()) * 2

    def one(job):
        question, fact = job
        chat, _, sources = Client(chat_url, verbose=False).predict(question, [], [], api_name="/ask")
        return fact in last_answer(chat) and fact in sources

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(one, jobs))
    assert results == [True] * 10


def test_no_login_means_loopback_only(minilm, tmp_path):
    assistant = Assistant(Settings(data_dir=tmp_path), embedder=minilm)
    with pytest.raises(ConfigError, match="without a login"):
        launch(assistant, "0.0.0.0", free_port(), block=False)
    half = Assistant(Settings(data_dir=tmp_path, chat_user="ana"), embedder=minilm)
    with pytest.raises(ConfigError, match="both"):
        launch(half, "127.0.0.1", free_port(), block=False)


def test_login_is_required_when_configured(minilm, tmp_path):
    assistant = Assistant(Settings(data_dir=tmp_path, chat_user="ana", chat_password="s3cret"), embedder=minilm)
    port = free_port()
    app = launch(assistant, "127.0.0.1", port, block=False)
    try:
        with pytest.raises(Exception):
            Client(f"http://127.0.0.1:{port}/", verbose=False)
        client = Client(f"http://127.0.0.1:{port}/", auth=("ana", "s3cret"), verbose=False)
        chat, _, _ = client.predict("Who is Liu Pengyu?", [], [], api_name="/ask")
        assert "Liu Pengyu" in last_answer(chat)
    finally:
        app.close()
