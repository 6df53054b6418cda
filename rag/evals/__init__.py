"""Regression evals: gold sets (gold.py), metrics per case (metrics.py), runs, reports and the gate
(runner.py). `rag eval` in rag.cli runs every gold set and gates CI."""

from __future__ import annotations

from .gold import load_gold
from .runner import check, run

__all__ = ["load_gold", "run", "check"]
