"""Compare two eval runs (``medcite eval compare A.json B.json``).

Per metric: B − A over the questions both runs hold, with a paired bootstrap 95%
interval; a change is "beyond noise" when the interval excludes zero. Per question:
what got worse (regressions) or better (improvements).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from eval.models import EvalRun, QuestionResult
from eval.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, MetricInputs, paired_deltas
from ingest.errors import UsageError


class MetricChange(BaseModel):
    """One metric in both runs, over the common questions."""

    name: str
    a: float | None
    b: float | None
    delta: float | None
    interval: tuple[float, float] | None = Field(description="Paired bootstrap 95% interval of B − A.")
    significant: bool = Field(description="True when the interval excludes 0 (the change is beyond noise).")
    verdict: str = Field(description="better | worse | no significant change | undefined")


class QuestionChange(BaseModel):
    """How one question's result changed from A to B."""

    id: str
    change: Literal["regression", "improvement", "mixed"]
    details: list[str]


class Comparison(BaseModel):
    """The ``medcite eval compare --json`` document."""

    a: dict[str, object]
    b: dict[str, object]
    common: int = Field(description="Questions in both runs (the paired metrics use only these).")
    only_in_a: list[str] = Field(default_factory=list)
    only_in_b: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    metrics: list[MetricChange]
    regressions: list[QuestionChange]
    improvements: list[QuestionChange]
    mixed: list[QuestionChange]
    unchanged: int


def load_run(path: Path) -> EvalRun:
    """Read a ``medcite eval --json`` file (a usage error when it is not one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from exc
    try:
        return EvalRun.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise UsageError(f"{path}: not a `medcite eval --json` result ({where}: {err['msg']})") from exc


def _diff(a: QuestionResult, b: QuestionResult) -> tuple[list[str], list[str]]:
    """(worse, better) descriptions for one question."""
    worse: list[str] = []
    better: list[str] = []
    if a.correct != b.correct:
        (better if b.correct else worse).append("correct → incorrect" if a.correct else "incorrect → correct")
    if a.status != b.status:
        (worse if b.failed else better).append(
            f"status {a.status} → {b.status}" + (f" ({b.error})" if b.error else "")
        )
    if a.abstained is not None and b.abstained is not None and a.abstained != b.abstained:
        good = b.abstained != b.answerable  # abstaining is right exactly when unanswerable
        (better if good else worse).append("now abstains" if b.abstained else "no longer abstains")
    lost = [f for f in a.key_facts_found if f not in b.key_facts_found]
    gained = [f for f in b.key_facts_found if f not in a.key_facts_found]
    if lost:
        worse.append("key facts lost: " + "; ".join(lost))
    if gained:
        better.append("key facts gained: " + "; ".join(gained))
    lost_q = [q for q in a.evidence_found if q not in b.evidence_found]
    gained_q = [q for q in b.evidence_found if q not in a.evidence_found]
    if lost_q:
        worse.append(f"gold quotes no longer cited: {len(lost_q)}")
    if gained_q:
        better.append(f"gold quotes newly cited: {len(gained_q)}")
    unsup_a = sum(not s.supported for s in a.statements)
    unsup_b = sum(not s.supported for s in b.statements)
    if unsup_b != unsup_a:
        (worse if unsup_b > unsup_a else better).append(f"unsupported statements {unsup_a} → {unsup_b}")
    return worse, better


def compare_runs(
    a: EvalRun, b: EvalRun, *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> Comparison:
    """Metric deltas with paired bootstrap intervals, and per-question regressions and improvements."""
    b_by_id = {q.id: q for q in b.per_question}
    a_ids = {q.id for q in a.per_question}
    pairs = [(q, b_by_id[q.id]) for q in a.per_question if q.id in b_by_id]
    warnings = []
    if a.run.gold_sha256 != b.run.gold_sha256:
        warnings.append("the runs used different gold files; only questions with the same id are compared")
    if a.run.corpus_version and b.run.corpus_version and a.run.corpus_version != b.run.corpus_version:
        warnings.append("the runs used different corpora")
    if not pairs:
        warnings.append("the runs have no question in common")
    deltas = paired_deltas(
        MetricInputs.from_results([p[0] for p in pairs]),
        MetricInputs.from_results([p[1] for p in pairs]),
        resamples,
        seed,
    )
    groups: dict[str, list[QuestionChange]] = {"regression": [], "improvement": [], "mixed": []}
    unchanged = 0
    for qa, qb in pairs:
        worse, better = _diff(qa, qb)
        if not worse and not better:
            unchanged += 1
            continue
        kind: Literal["regression", "improvement", "mixed"] = (
            "mixed" if worse and better else "regression" if worse else "improvement"
        )
        groups[kind].append(QuestionChange(id=qa.id, change=kind, details=worse + better))
    return Comparison(
        a=_brief(a),
        b=_brief(b),
        common=len(pairs),
        only_in_a=[q.id for q in a.per_question if q.id not in b_by_id],
        only_in_b=[q.id for q in b.per_question if q.id not in a_ids],
        warnings=warnings,
        metrics=[MetricChange(**d.__dict__) for d in deltas],
        regressions=groups["regression"],
        improvements=groups["improvement"],
        mixed=groups["mixed"],
        unchanged=unchanged,
    )


def _brief(run: EvalRun) -> dict[str, object]:
    r = run.run
    return {
        "n": run.n,
        "config_hash": r.config_hash,
        "corpus_version": r.corpus_version,
        "git_commit": r.git_commit,
        "gold_path": r.gold_path,
        "started_at": r.started_at,
    }


def format_comparison(c: Comparison) -> str:
    """A terminal rendering of a comparison."""
    lines = [
        _describe_run("A", c.a),
        _describe_run("B", c.b),
        f"{c.common} questions in both"
        + (f"; only in A: {len(c.only_in_a)}" if c.only_in_a else "")
        + (f"; only in B: {len(c.only_in_b)}" if c.only_in_b else ""),
    ]
    lines += [f"warning: {w}" for w in c.warnings]
    lines.append("")
    lines.append(f"{'metric':<22} {'A':>10} {'B':>10} {'B-A':>10}  {'95% interval of B-A':<24} verdict")
    for m in c.metrics:
        interval = f"[{m.interval[0]:+.4g}, {m.interval[1]:+.4g}]" if m.interval else "—"
        lines.append(
            f"{m.name:<22} {_fmt(m.a):>10} {_fmt(m.b):>10} {_fmt(m.delta, signed=True):>10}"
            f"  {interval:<24} {m.verdict}"
        )
    for title, items in (
        ("Regressions", c.regressions),
        ("Improvements", c.improvements),
        ("Mixed", c.mixed),
    ):
        lines.append("")
        lines.append(f"{title} ({len(items)})")
        lines += [f"  {q.id}: " + "; ".join(q.details) for q in items]
    lines.append("")
    lines.append(f"Unchanged: {c.unchanged}")
    return "\n".join(lines)


def _describe_run(label: str, brief: dict[str, object]) -> str:
    commit = str(brief.get("git_commit") or "?")[:10]
    return f"{label}: config {brief.get('config_hash')} · commit {commit} · {brief.get('n')} questions"


def _fmt(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "—"
    return f"{x:+.4g}" if signed else f"{x:.4g}"
