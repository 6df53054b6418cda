"""Readers (threads of one Assistant, and other processes) keep answering while another process
ingests alternating versions of an article: no errors, every quote on sentence boundaries of the
version it was taken from, and every reader reaches the newest version once the writer stops.
Run in embedded mode and against a real `chroma run`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from rag import Assistant, Settings
from rag.sentences import sentence_spans

from .fakes import HashEmbedder

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "How much did the harbour repairs cost?"
# The second version moves every offset, so an old offset applied to the new text lands mid-word.
VERSIONS = {
    "A": "Harbour repairs\n\nThe harbour at Port Ellis reopened on Monday after repairs costing £4.2 million, "
    "the council said. Fishing boats returned the same afternoon.\n",
    "B": "Harbour repairs, revised\n\nCouncil officers published revised accounts for the port this week. "
    "The harbour at Port Ellis reopened on Tuesday after repairs costing £5.9 million, the council said. "
    "Ferries to Kerran resumed at once.\n",
}
FIGURE = {"A": "£4.2 million", "B": "£5.9 million"}
OTHER = "Bridge vote\n\nThe council approved a new footbridge over the river on Wednesday. It opens in May.\n"
WRITES = 4  # ingests by the writer, alternating B, A, B, A: the last one leaves version A
READER_THREADS = 4
READER_PROCESSES = 2
# A reader sees the newest generation within about a second when the machine is idle; on two cores
# shared by the writer, the Chroma server and six readers it has taken over 20 s. The bound catches a
# reader that never switches, not a slow one.
REACH_SECONDS = 90


def settings_for(data: Path, chroma_url: str | None, collection: str) -> Settings:
    return Settings(data_dir=data, chroma_url=chroma_url, collection=collection, generation_check_seconds=0.2)


def quotes_ok(answer) -> int:
    """The number of quotes that are not sentence-bounded exact spans of one version of their article."""
    texts = {"harbour": list(VERSIONS.values()), "bridge": [OTHER]}
    wrong = 0
    for c in answer.citations:
        good = False
        for text in texts.get(c.doc_id, []):
            spans = sentence_spans(text)
            if text[c.start : c.end] == c.quote and c.start in {s for s, _ in spans} and c.end in {e for _, e in spans}:
                good = True
        wrong += not good
    return wrong


def read_loop(assistant: Assistant, stop: threading.Event | None, stop_file: Path | None, final: str) -> dict:
    """Ask until told to stop, then until the newest version answers (or a deadline passes)."""
    counts = {"asks": 0, "errors": 0, "wrong": 0, "reached": False, "first_error": ""}

    def ask() -> str:
        counts["asks"] += 1
        try:
            answer = assistant.ask(QUESTION)
        except Exception as exc:  # noqa: BLE001 - counted, not raised: the test asserts on counts
            counts["errors"] += 1
            counts["first_error"] = counts["first_error"] or f"{type(exc).__name__}: {exc}"
            return ""
        counts["wrong"] += quotes_ok(answer)
        return answer.text

    def stopped() -> bool:
        return stop.is_set() if stop is not None else stop_file.exists()

    while not stopped():
        ask()
    deadline = time.monotonic() + REACH_SECONDS
    while time.monotonic() < deadline:
        if FIGURE[final] in ask():
            counts["reached"] = True
            break
    return counts


def reader_main(config: str) -> None:
    """A reader in its own process (run by the test through `python -c`)."""
    cfg = json.loads(config)
    settings = settings_for(Path(cfg["data"]), cfg["url"], cfg["collection"])
    counts = read_loop(Assistant(settings, embedder=HashEmbedder()), None, Path(cfg["stop"]), cfg["final"])
    print(json.dumps(counts))


def writer_main(config: str) -> None:
    """The writer process: re-ingests the folder with the article alternating between versions."""
    cfg = json.loads(config)
    settings = settings_for(Path(cfg["data"]), cfg["url"], cfg["collection"])
    assistant = Assistant(settings, embedder=HashEmbedder())
    folder = Path(cfg["folder"])
    for i in range(WRITES):
        (folder / "harbour.md").write_text(VERSIONS["B" if i % 2 == 0 else "A"], encoding="utf-8")
        report = assistant.ingest([folder])
        assert report.updated == ["harbour"] and not report.errors, report.summary()


def run_python(code: str, config: dict) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [sys.executable, "-c", f"import sys; from tests.test_concurrency import {code}; {code}(sys.argv[1])",
         json.dumps(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )


@pytest.mark.parametrize("mode", ["embedded", "server"])
def test_readers_stay_right_while_another_process_ingests(mode, tmp_path, request):
    url = request.getfixturevalue("chroma_url") if mode == "server" else None
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "harbour.md").write_text(VERSIONS["A"], encoding="utf-8")
    (folder / "bridge.md").write_text(OTHER, encoding="utf-8")
    config = {"data": str(tmp_path / "data"), "url": url, "collection": f"c{uuid.uuid4().hex[:8]}",
              "folder": str(folder), "stop": str(tmp_path / "stop"), "final": "A"}
    settings = settings_for(Path(config["data"]), url, config["collection"])
    chat = Assistant(settings, embedder=HashEmbedder())
    chat.ingest([folder])
    assert FIGURE["A"] in chat.ask(QUESTION).text

    readers = [run_python("reader_main", config) for _ in range(READER_PROCESSES)]
    stop = threading.Event()
    results: list[dict] = []
    threads = [threading.Thread(target=lambda: results.append(read_loop(chat, stop, None, "A")))
               for _ in range(READER_THREADS)]
    for t in threads:
        t.start()
    writer = run_python("writer_main", config)
    try:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    finally:
        stop.set()
        Path(config["stop"]).touch()
        for t in threads:
            t.join(timeout=REACH_SECONDS + 30)
    for proc in readers:
        out, err = proc.communicate(timeout=REACH_SECONDS + 30)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))

    total = {k: sum(r[k] for r in results) for k in ("asks", "errors", "wrong")}
    print(f"\n{mode}: {total['asks']} asks, {total['errors']} errors, {total['wrong']} wrong quotes, "
          f"{sum(r['reached'] for r in results)}/{len(results)} readers reached the newest version")
    assert total["errors"] == 0, [r["first_error"] for r in results if r["errors"]]
    assert total["wrong"] == 0
    assert all(r["reached"] for r in results)
    assert total["asks"] > len(results) * 5  # the readers really ran during the writes
