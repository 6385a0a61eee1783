"""The quality gate: committed thresholds that a run's metrics must meet.

``eval/thresholds.json``: ``{"min": {metric: value}, "max": {metric: value}}``. A
metric below its ``min`` (or above its ``max``), or undefined while it has a
threshold, fails the gate. ``tests/eval/test_quality_gate.py`` applies it to the
corpus gold set, and ``medcite eval GOLD --gate PATH`` exits 1 when it fails.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from eval.metrics import METRIC_BY_NAME
from eval.models import EvalRun
from ingest.errors import UsageError

DEFAULT_THRESHOLDS = Path(__file__).resolve().parent / "thresholds.json"


class Thresholds(BaseModel):
    """Minimum (and optionally maximum) values per metric."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    gold: str | None = Field(default=None, description="The gold file these thresholds were set on.")
    min: dict[str, float] = Field(default_factory=dict)
    max: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_metrics(self) -> Thresholds:
        unknown = sorted((set(self.min) | set(self.max)) - set(METRIC_BY_NAME))
        if unknown:
            raise ValueError(f"unknown metric(s): {', '.join(unknown)}")
        return self


def load_thresholds(path: Path = DEFAULT_THRESHOLDS) -> Thresholds:
    """Read and validate a thresholds file (a usage error when it is malformed)."""
    try:
        return Thresholds.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise UsageError(f"cannot read thresholds file {path}: {exc.strerror or exc}") from exc
    except (json.JSONDecodeError, ValidationError) as exc:
        raise UsageError(f"{path}: invalid thresholds ({exc})") from exc


def check_gate(run: EvalRun, thresholds: Thresholds) -> list[str]:
    """One message per threshold the run misses (empty: the gate passes)."""
    failures = []
    for name, bound in sorted(thresholds.min.items()):
        value = run.metrics.get(name)
        if value is None:
            failures.append(f"{name} is undefined ({run.undefined.get(name, 'not computed')}); min {bound}")
        elif value < bound:
            failures.append(f"{name} = {value:.4f} < min {bound}")
    for name, bound in sorted(thresholds.max.items()):
        value = run.metrics.get(name)
        if value is None:
            failures.append(f"{name} is undefined ({run.undefined.get(name, 'not computed')}); max {bound}")
        elif value > bound:
            failures.append(f"{name} = {value:.4f} > max {bound}")
    return failures
