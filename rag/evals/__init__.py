"""Regression evals: `rag eval` runs the gold set, prints a table, writes reports, gates CI."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .gold import load_gold
from .runner import EVALS_DIR, check, eval_settings, gate_config, load_baseline, markdown, run, table, write_baseline, write_reports


def main(args: argparse.Namespace) -> int:
    from ..assistant import Assistant

    assistant = Assistant(eval_settings())
    gold = load_gold(args.gold)
    report = run(assistant, gold, only=args.only)
    gate = gate_config()
    baseline = load_baseline(report.mode)
    result = check(report, baseline if not args.only else None, gate)
    md = markdown(report, baseline, gate, result)
    out = args.out or EVALS_DIR / "reports"
    json_path, md_path = write_reports(report, out, md)
    print(table(report, baseline, gate))
    for line in result.regressions:
        print(f"REGRESSED {line}")
    for line in result.fixes:
        print(f"FIXED     {line}")
    for case in report.cases:
        if not case.passed:
            print(f"failing   {case.id}: {'; '.join(case.reasons)}")
    print(f"\nreports: {json_path} {md_path}")
    if args.update_baseline:
        print(f"baseline written: {write_baseline(report)}")
        return 0
    if args.check:
        if result.ok:
            print("gate: passed")
            return 0
        print("gate: FAILED\n  " + "\n  ".join(result.failures), file=sys.stderr)
        return 1
    return 0


__all__ = ["main", "load_gold", "run", "check"]
