"""The invariants a model's eval must keep, whatever its quality (a 270M base model has none to
speak of): every citation exact, and no answer with fewer gold facts than the offline answer.

    python tests/eval_invariants.py OFFLINE/report.json MODEL/report.json
"""

from __future__ import annotations

import json
import sys


def check(offline: dict, model: dict) -> list[str]:
    problems = []
    if model["metrics"]["citation_exactness"] < 1.0:
        problems.append(f"citation exactness {model['metrics']['citation_exactness']} < 1.0")
    before = {c["id"]: c for c in offline["cases"]}
    for case in model["cases"]:
        was = before.get(case["id"])
        if was and case["facts_found"] < was["facts_found"]:
            problems.append(f"{case['id']}: {case['facts_found']} facts, the offline answer had {was['facts_found']}")
    if model["metrics"]["fact_recall"] < offline["metrics"]["fact_recall"]:
        problems.append(f"fact recall {model['metrics']['fact_recall']} < offline {offline['metrics']['fact_recall']}")
    return problems


def main(offline_path: str, model_path: str) -> int:
    with open(offline_path, encoding="utf-8") as fh:
        offline = json.load(fh)
    with open(model_path, encoding="utf-8") as fh:
        model = json.load(fh)
    m, o = model["metrics"], offline["metrics"]
    print(f"{model['mode']}: fact recall {m['fact_recall']} (offline {o['fact_recall']}), citation exactness "
          f"{m['citation_exactness']}, latency p50 {m['latency_p50']} s (offline {o['latency_p50']} s), "
          f"p95 {m['latency_p95']} s")
    problems = check(offline, model)
    for p in problems:
        print(f"INVARIANT BROKEN: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
