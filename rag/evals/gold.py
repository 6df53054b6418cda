"""The gold file: its schema, loading, and the checks it must pass against the corpus."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..citations import normalized
from ..resources import evals_dir
from ..types import Document

DEFAULT_GOLD = evals_dir() / "gold.yaml"


class EvidenceSpan(BaseModel):
    """Where a gold fact stands: a verbatim span of one document."""

    model_config = ConfigDict(extra="forbid")
    doc: str = Field(description="document id (or an alias from the file's `docs` map)")
    span: str = Field(description="text that occurs verbatim in that document")


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    question: str
    history: list[str] = Field(default_factory=list, description="earlier user questions in the chat")
    answerable: bool = True
    facts: list[list[str]] = Field(default_factory=list, description="each fact: its accepted variants")
    evidence: list[EvidenceSpan] = Field(default_factory=list)
    must_not_contain: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> "Case":
        if self.answerable and not (self.facts and self.evidence):
            raise ValueError(f"case {self.id}: an answerable case needs facts and evidence")
        if not self.answerable and self.facts:
            raise ValueError(f"case {self.id}: an unanswerable case has no facts")
        if any(not variants for variants in self.facts):
            raise ValueError(f"case {self.id}: a fact needs at least one variant")
        return self


class GoldSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = 1
    name: str = Field(default="gold", description="set by load_gold: the file's stem (keys baselines and reports)")
    corpus: str | None = Field(
        default=None, description="folder of the set's articles, relative to the gold file (default: the bundled corpus)"
    )
    corpus_path: Path | None = Field(default=None, exclude=True, description="set by load_gold: `corpus` resolved")
    docs: dict[str, str] = Field(default_factory=dict, description="short aliases for document ids")
    must_not_contain_all: list[str] = Field(default_factory=list)
    cases: list[Case]

    @model_validator(mode="after")
    def _resolve(self) -> "GoldSet":
        ids = [c.id for c in self.cases]
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            raise ValueError(f"duplicate case ids: {sorted(dupes)}")
        for case in self.cases:
            for ev in case.evidence:
                ev.doc = self.docs.get(ev.doc, ev.doc)
            case.must_not_contain = list(dict.fromkeys(case.must_not_contain + self.must_not_contain_all))
        return self


def load_gold(path: Path | None = None) -> GoldSet:
    path = Path(path or DEFAULT_GOLD)
    with open(path, encoding="utf-8") as fh:
        gold = GoldSet.model_validate(yaml.safe_load(fh))
    gold.name = path.stem
    gold.corpus_path = (path.parent / gold.corpus).resolve() if gold.corpus else None
    return gold


def gold_files(folder: Path | None = None) -> list[Path]:
    """Every gold set of the project: `gold.yaml` (the bundled news) first, then `gold-*.yaml`."""
    folder = folder or DEFAULT_GOLD.parent
    return sorted(folder.glob("gold*.yaml"), key=lambda p: (p.name != "gold.yaml", p.name))


def check_gold(gold: GoldSet, documents: dict[str, Document]) -> list[str]:
    """Problems with the gold file: evidence not verbatim in its article, a fact variant that no
    evidence of its case states. Empty when the gold file is sound."""
    problems = []
    for case in gold.cases:
        for ev in case.evidence:
            doc = documents.get(ev.doc)
            if doc is None:
                problems.append(f"{case.id}: unknown document {ev.doc}")
            elif ev.span not in doc.text:
                problems.append(f"{case.id}: evidence not verbatim in {ev.doc}: {ev.span[:60]!r}")
        evidence_text = " ".join(normalized(ev.span) for ev in case.evidence)
        for variants in case.facts:
            for variant in variants:
                if normalized(variant) not in evidence_text:
                    problems.append(f"{case.id}: fact variant {variant!r} is not in its evidence")
    return problems
