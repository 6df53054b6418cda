"""Runs the gold set through an Assistant, aggregates metrics, writes reports, applies the gate."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml

from ..assistant import Assistant
from ..config import BUNDLED_CORPUS, Settings
from ..errors import CorpusError
from ..resources import evals_dir
from ..types import Turn
from .gold import GoldSet, check_gold
from .metrics import CaseResult, score_case

EVALS_DIR = evals_dir()

# name: (label, higher is better)
METRICS: dict[str, tuple[str, bool]] = {
    "fact_recall": ("fact recall", True),
    "fact_support": ("fact support", True),
    "citation_exactness": ("citation exactness", True),
    "citation_recall": ("citation recall (ALCE)", True),
    "citation_precision": ("citation precision (ALCE)", True),
    "hit_rate": ("retrieval hit@k", True),
    "mrr": ("retrieval MRR", True),
    "must_not_contain_pass": ("must-not-contain pass", True),
    "abstention_precision": ("abstention precision", True),
    "abstention_recall": ("abstention recall", True),
    "false_abstention_rate": ("false abstentions", False),
    "pass_rate": ("cases passed", True),
    "direct_line_precision": ("direct first lines holding a fact", True),
    "direct_lines": ("answers opening with a direct line", True),
    "answer_words": ("answer length (words, mean)", False),
    "latency_p50": ("latency p50 (s)", False),
    "latency_p95": ("latency p95 (s)", False),
}


@dataclass
class Report:
    mode: str
    metrics: dict[str, float]
    cases: list[CaseResult]
    started: str
    seconds: float
    gold: str = "gold"

    def to_dict(self) -> dict:
        return {
            "mode": self.mode,
            "gold": self.gold,
            "started": self.started,
            "seconds": round(self.seconds, 2),
            "commit": _git_commit(),
            "metrics": self.metrics,
            "cases": [c.to_dict() for c in self.cases],
        }


def eval_settings(base: Settings | None = None, gold: GoldSet | None = None) -> Settings:
    """A gold set runs on its own corpus (default: the bundled one), in a store of its own."""
    base = base or Settings()
    name = gold.name if gold else "gold"
    corpus = gold.corpus_path if gold and gold.corpus_path else BUNDLED_CORPUS
    store = base.data_dir / "eval-store" / (name if name != "gold" else "")
    # a collection of its own too: against a Chroma server, the sets would otherwise share one store
    collection = base.collection if name == "gold" else f"{base.collection}-{name}"
    return base.model_copy(update={"corpus_dir": corpus, "data_dir": store, "collection": collection})


def run(assistant: Assistant, gold: GoldSet, only: list[str] | None = None, progress: bool = True) -> Report:
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    report = assistant.ingest([assistant.settings.corpus_dir])
    if report.errors:
        raise CorpusError(f"the corpus of {gold.name} did not load: {'; '.join(map(str, report.errors))}")
    documents = {d.doc_id: assistant.document(d.doc_id) for d in assistant.documents()}
    problems = check_gold(gold, documents)
    if problems:
        raise CorpusError(f"{gold.name} does not match its corpus:\n  " + "\n  ".join(problems))
    chunks = assistant.store.chunks()
    cases = [c for c in gold.cases if not only or c.id in only]
    results = []
    bar = _bar(len(cases), progress)
    for case in cases:
        history: list[Turn] = []
        for earlier in case.history:
            previous = assistant.chat(earlier, history=history)
            history += [Turn("user", earlier), Turn("assistant", previous.text)]
        t = time.perf_counter()
        answer = assistant.chat(case.question, history=history)
        latency = time.perf_counter() - t
        results.append(score_case(case, answer, documents, chunks, latency))
        if bar:
            bar.set_postfix_str(case.id[-30:], refresh=False)
            bar.update(1)
    if bar:
        bar.close()
    return Report(assistant.mode, aggregate(results), results, started, time.perf_counter() - t0, gold.name)


def _bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="evals", unit="case", file=sys.stderr)


def _ratio(num: float, den: float, empty: float = 1.0) -> float:
    return round(num / den, 4) if den else empty


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return round(values[lo] + (values[hi] - values[lo]) * (k - lo), 4)


def aggregate(results: list[CaseResult]) -> dict[str, float]:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    abstained = [r for r in results if r.abstained]
    with_retrieval = [r for r in answerable if r.hit is not None]
    latencies = [r.latency for r in results]
    answered = [r for r in results if not r.abstained]
    return {
        "cases": len(results),
        "fact_recall": _ratio(sum(r.facts_found for r in answerable), sum(r.facts_total for r in answerable)),
        "fact_support": _ratio(sum(r.facts_supported for r in answerable), sum(r.facts_total for r in answerable)),
        "citation_exactness": _ratio(
            sum(r.citations_exact for r in results), sum(len(r.citations) for r in results)
        ),
        "citation_recall": _ratio(sum(r.statements_supported for r in results), sum(r.statements for r in results)),
        "citation_precision": _ratio(
            sum(r.citations_precise for r in results), sum(r.citations_in_statements for r in results)
        ),
        "hit_rate": _ratio(sum(r.hit or 0 for r in with_retrieval), len(with_retrieval)),
        "mrr": _ratio(sum(r.mrr or 0 for r in with_retrieval), len(with_retrieval)),
        "must_not_contain_pass": _ratio(sum(1 for r in results if not r.forbidden), len(results)),
        "abstention_precision": _ratio(sum(1 for r in abstained if not r.answerable), len(abstained)),
        "abstention_recall": _ratio(sum(1 for r in unanswerable if r.abstained), len(unanswerable)),
        "false_abstention_rate": _ratio(sum(1 for r in answerable if r.abstained), len(answerable), 0.0),
        "pass_rate": _ratio(sum(1 for r in results if r.passed), len(results)),
        # of the direct first lines given for answerable questions, the share that holds a gold fact
        "direct_line_precision": _ratio(
            sum(1 for r in answerable if r.direct_ok), sum(1 for r in answerable if r.direct_ok is not None)
        ),
        "direct_lines": _ratio(sum(1 for r in answerable if r.direct_ok is not None), len(answerable), 0.0),
        "answer_words": round(statistics.mean(len(r.answer.split()) for r in answered), 1) if answered else 0.0,
        "latency_p50": _percentile(latencies, 0.5),
        "latency_p95": _percentile(latencies, 0.95),
    }


# --- baseline and gate -------------------------------------------------------------------------
def gate_config(gold: str = "gold") -> dict:
    """The gate for one gold set: the shared bounds, with the set's own `sets.<name>` bounds on top."""
    with open(EVALS_DIR / "gate.yaml", encoding="utf-8") as fh:
        config = yaml.safe_load(fh)
    own = (config.pop("sets", None) or {}).get(gold) or {}
    for key in ("minimum", "maximum", "tolerance"):
        config[key] = {**(config.get(key) or {}), **(own.get(key) or {})}
    return config


def baseline_path(mode: str, gold: str = "gold") -> Path:
    kind = "offline" if mode == "offline" else "llm"
    return EVALS_DIR / (f"baseline-{kind}.json" if gold == "gold" else f"baseline-{kind}-{gold}.json")


def load_baseline(mode: str, gold: str = "gold") -> dict | None:
    path = baseline_path(mode, gold)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def write_baseline(report: Report) -> Path:
    path = baseline_path(report.mode, report.gold)
    data = {
        "mode": report.mode,
        "commit": _git_commit(),
        "metrics": report.metrics,
        "cases": {c.id: {"passed": c.passed, "reasons": c.reasons} for c in report.cases},
    }
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


@dataclass
class GateResult:
    failures: list[str]
    regressions: list[str]  # cases that were right and are now wrong
    fixes: list[str]  # cases that were wrong and are now right

    @property
    def ok(self) -> bool:
        return not self.failures


def check(report: Report, baseline: dict | None, gate: dict) -> GateResult:
    failures = []
    m = report.metrics
    for name, bound in (gate.get("minimum") or {}).items():
        if m.get(name, 0.0) < bound:
            failures.append(f"{name} = {m.get(name)} is below its threshold {bound}")
    for name, bound in (gate.get("maximum") or {}).items():
        if m.get(name, 0.0) > bound:
            failures.append(f"{name} = {m.get(name)} is above its limit {bound}")
    regressions, fixes = [], []
    if baseline:
        base = baseline["metrics"]
        for name, tol in (gate.get("tolerance") or {}).items():
            if name not in base or name not in m:
                continue
            higher_better = METRICS.get(name, (name, True))[1]
            if higher_better and m[name] < base[name] - tol:
                failures.append(f"{name} fell from {base[name]} to {m[name]} (tolerance {tol})")
            if not higher_better and m[name] > base[name] * (1 + tol) + gate.get("latency_slack", 0.0):
                failures.append(f"{name} rose from {base[name]} to {m[name]} (tolerance {tol:.0%})")
        was = baseline.get("cases", {})
        for case in report.cases:
            before = was.get(case.id)
            if before and before["passed"] and not case.passed:
                regressions.append(f"{case.id}: was right, now wrong: {'; '.join(case.reasons)}")
            elif before and not before["passed"] and case.passed:
                fixes.append(f"{case.id}: was wrong ({'; '.join(before['reasons'])}), now right")
        if regressions and gate.get("fail_on_case_regression", True):
            failures.append(f"{len(regressions)} case(s) regressed")
    return GateResult(failures, regressions, fixes)


# --- reports -------------------------------------------------------------------------------------
def table(report: Report, baseline: dict | None, gate: dict) -> str:
    base = (baseline or {}).get("metrics", {})
    mins, maxs = gate.get("minimum") or {}, gate.get("maximum") or {}
    rows = ["| metric | value | baseline | gate |", "| --- | ---: | ---: | --- |"]
    for name, (label, _) in METRICS.items():
        bound = f">= {mins[name]}" if name in mins else f"<= {maxs[name]}" if name in maxs else ""
        rows.append(f"| {label} | {report.metrics.get(name, '')} | {base.get(name, '')} | {bound} |")
    return "\n".join(rows)


def markdown(report: Report, baseline: dict | None, gate: dict, result: GateResult) -> str:
    lines = [
        f"# Eval report: {report.gold} ({report.mode})",
        "",
        f"{report.metrics['cases']} cases, {report.started}, {report.seconds:.1f}s, commit {_git_commit()}.",
        "",
        table(report, baseline, gate),
        "",
        f"Gate: {'passed' if result.ok else 'FAILED'}",
    ]
    lines += [f"- {f}" for f in result.failures]
    if result.regressions:
        lines += ["", "## Was right, now wrong"] + [f"- {r}" for r in result.regressions]
    if result.fixes:
        lines += ["", "## Was wrong, now right"] + [f"- {r}" for r in result.fixes]
    failing = [c for c in report.cases if not c.passed]
    if failing:
        lines += ["", "## Failing cases", "", "| case | reasons | answer |", "| --- | --- | --- |"]
        for c in failing:
            answer = c.answer.replace("\n", " ").replace("|", "\\|")
            lines.append(f"| {c.id} | {'; '.join(c.reasons)} | {answer[:160]} |")
    return "\n".join(lines) + "\n"


def write_reports(report: Report, out_dir: Path, md: str) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "report.json", out_dir / "summary.md"
    json_path.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(md, encoding="utf-8")
    return json_path, md_path


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=EVALS_DIR, timeout=5
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
