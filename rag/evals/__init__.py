"""Regression evals: `rag eval` runs every gold set, prints a table per set, writes reports, gates CI."""

from __future__ import annotations

import argparse
import sys

from .gold import gold_files, load_gold
from .runner import EVALS_DIR, check, eval_settings, gate_config, load_baseline, markdown, run, table, write_baseline, write_reports


def main(args: argparse.Namespace) -> int:
    """Run each gold set (or the one given with --gold) in a store of its own; the gate applies to each."""
    from ..assistant import Assistant
    from ..config import Settings

    paths = [args.gold] if args.gold else gold_files()
    failed = []
    for path in paths:
        gold = load_gold(path)
        assistant = Assistant(eval_settings(Settings(), gold))
        print(f"\n## {gold.name}: {len(gold.cases)} cases", flush=True)
        report = run(assistant, gold, only=args.only)
        gate = gate_config(gold.name)
        baseline = load_baseline(report.mode, gold.name)
        result = check(report, baseline if not args.only else None, gate)
        md = markdown(report, baseline, gate, result)
        out = (args.out or EVALS_DIR / "reports") / gold.name
        json_path, md_path = write_reports(report, out, md)
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


__all__ = ["main", "load_gold", "run", "check"]
