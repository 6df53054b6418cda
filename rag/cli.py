"""`rag` on the command line: ingest, ask, docs, eval, chat. Every command lives here; a thin edge where a
RagError becomes exit code 1."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import RagError


def _progress_bar(desc: str):
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int, label: str) -> None:
        nonlocal bar
        if bar is None:
            # tqdm shows documents per second and the time left
            bar = tqdm(total=total, desc=desc, unit="doc", file=sys.stderr, leave=True, smoothing=0.1)
        bar.set_postfix_str(label[-40:], refresh=False)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def _assistant():
    from .assistant import Assistant

    return Assistant()


def cmd_ingest(args: argparse.Namespace) -> int:
    with _assistant() as assistant:
        report = assistant.ingest(
            args.paths or None, progress=_progress_bar("ingesting"), replace=args.replace, rebuild=args.rebuild
        )
    for error in report.errors:
        print(f"skipped: {error}", file=sys.stderr)
    for message in report.refused:
        print(f"refused: {message}", file=sys.stderr)
    print(report.summary())
    return 1 if report.errors or report.refused else 0


def cmd_ask(args: argparse.Namespace) -> int:
    with _assistant() as assistant:
        answer = assistant.ask(" ".join(args.question), doc_ids=args.doc or None)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(answer.text)
    if answer.notice:
        print(f"\n({answer.notice})")
    if answer.citations:
        print("\nSources:")
    for n, c in enumerate(answer.citations, 1):
        print(f"[{n}] {c.title} ({c.doc_id}, characters {c.start}-{c.end})")
        print(f"    “{c.quote}”")
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    with _assistant() as assistant:
        for doc in assistant.documents():
            print(f"{doc.doc_id}\t{doc.outlet or '-'}\t{doc.title}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Run each gold set (or the one given with --gold) in a store of its own; the gate applies to each."""
    from .assistant import Assistant
    from .config import Settings
    from .evals.gold import gold_files, load_gold
    from .evals.runner import (
        check, eval_settings, gate_config, load_baseline, markdown, run, table, write_baseline, write_reports,
    )
    from .resources import reports_dir

    settings = Settings()
    failed = []
    for path in [args.gold] if args.gold else gold_files():
        gold = load_gold(path)
        print(f"\n## {gold.name}: {len(gold.cases)} cases", flush=True)
        with Assistant(eval_settings(settings, gold)) as assistant:
            report = run(assistant, gold, only=args.only)
        gate = gate_config(gold.name)
        baseline = load_baseline(report.mode, gold.name)
        result = check(report, baseline if not args.only else None, gate)
        out = (args.out or reports_dir(settings.data_dir)) / gold.name
        json_path, md_path = write_reports(report, out, markdown(report, baseline, gate, result))
        print(table(report, baseline, gate))
        for line in result.regressions:
            print(f"REGRESSED {line}")
        for line in result.fixes:
            print(f"FIXED     {line}")
        for case in report.cases:
            if not case.passed:
                print(f"failing   {case.id}: {'; '.join(case.reasons)}")
        print(f"reports: {json_path} {md_path}")
        if args.update_baseline:
            print(f"baseline written: {write_baseline(report)}")
        elif args.check:
            print(f"gate ({gold.name}): {'passed' if result.ok else 'FAILED'}")
            if not result.ok:
                failed.append(gold.name)
                print("  " + "\n  ".join(result.failures), file=sys.stderr)
    return 1 if failed else 0


def cmd_chat(args: argparse.Namespace) -> int:
    # before gradio (and huggingface_hub under it) is imported: no analytics, nothing leaves the machine
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from .assistant import Assistant
    from .config import Settings
    from .ui import launch

    settings = Settings()
    host = args.host or settings.chat_host
    port = args.port or settings.chat_port
    with Assistant(settings) as assistant:
        print("Loading the articles and the embedding model…", file=sys.stderr)
        docs = assistant.documents()  # ingests the corpus on first use
        assistant.embedder.embed(["warm up"])
        print(f"{len(docs)} articles ready. Open http://{host}:{port} in a browser (Ctrl+C stops).", file=sys.stderr)
        launch(assistant, host, port, allow_remote=args.allow_remote, block=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="sync the store with article files (default: the corpus folder)")
    p.add_argument("paths", nargs="*", type=Path, help="files or folders of .md/.txt/.html articles")
    p.add_argument("--replace", action="store_true",
                   help="let these files replace documents of the same id stored from other files")
    p.add_argument("--rebuild", action="store_true",
                   help="move a broken store aside and ingest again (default: the folders ingested before)")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("ask", help="answer a question with verbatim quotes")
    p.add_argument("question", nargs="+", help="the question")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--doc", action="append", metavar="DOC_ID", help="search only this article (repeatable)")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("docs", help="list the stored articles")
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("eval", help="run the regression evals")
    p.add_argument("--gold", type=Path, default=None, help="one gold file (default: every evals/gold*.yaml)")
    p.add_argument("--check", action="store_true", help="exit 1 when a metric falls below the baseline")
    p.add_argument("--update-baseline", action="store_true", help="rewrite the baseline from this run")
    p.add_argument("--out", type=Path, default=None,
                   help="report folder (default: evals/reports in a source checkout, else DATA_DIR/eval-reports)")
    p.add_argument("--only", action="append", metavar="CASE_ID", help="run only these cases")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("chat", help="start the chat in the browser")
    p.add_argument("--host", default=None, help="address to bind (default from RAG_CHAT_HOST)")
    p.add_argument("--port", type=int, default=None, help="port (default from RAG_CHAT_PORT)")
    p.add_argument("--allow-remote", action="store_true", help="allow a non-loopback host without login")
    p.set_defaults(func=cmd_chat)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
