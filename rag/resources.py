"""Where the data shipped inside the package lives: the bundled corpus and the gold sets.

Both are package data (`rag/data/corpus`, `rag/data/evals`) found with importlib.resources, so an
installed wheel has them wherever it is installed. In a source checkout those two are links to the
top-level `corpus/` and `evals/` folders: the tests, an editable install and `rag eval
--update-baseline` read and write the very files that are committed.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _data(name: str) -> Path:
    # rag is installed as plain files (never zipped), so the resource is a real folder
    return Path(str(files("rag") / "data" / name))


def corpus_dir() -> Path:
    """The bundled articles: the default corpus."""
    return _data("corpus").resolve()


def evals_dir() -> Path:
    """The gold sets, their corpora, the baselines and the gate."""
    return _data("evals").resolve()


def reports_dir(data_dir: Path) -> Path:
    """Default folder of eval reports: `evals/reports` in a source checkout (where CI and the
    README look), else under the data folder (an installed package's files are not ours to write)."""
    return evals_dir() / "reports" if _data("evals").is_symlink() else data_dir / "eval-reports"
