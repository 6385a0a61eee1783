"""Aggregation, bootstrap confidence intervals and the risk–coverage curve.

Bootstrap: questions are resampled with replacement ``resamples`` times from a
seeded ``numpy.random.Generator``; each resample is a row of per-question weights
(how often each question was drawn), so every metric of one run is computed on the
*same* resamples, and a paired comparison of two runs reuses the same rows for both.
The interval is the 2.5th-97.5th percentile of the resampled values. Same questions,
seed and resample count → same intervals, bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from eval.metrics import METRIC_BY_NAME, METRICS, RATIO_METRICS
from eval.models import QuestionResult, RiskCoveragePoint

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
_DIGITS = 6


@dataclass
class MetricInputs:
    """Per-question arrays every metric is computed from (one entry per question, in order)."""

    num: dict[str, np.ndarray]
    den: dict[str, np.ndarray]
    latency: np.ndarray
    answered: np.ndarray
    correct: np.ndarray
    confidence: np.ndarray

    @classmethod
    def from_results(cls, results: Sequence[QuestionResult]) -> MetricInputs:
        """Collect the arrays from per-question results."""
        num = {m: np.array([r.counts.get(m, (0, 0))[0] for r in results], dtype=float) for m in RATIO_METRICS}
        den = {m: np.array([r.counts.get(m, (0, 0))[1] for r in results], dtype=float) for m in RATIO_METRICS}
        return cls(
            num=num,
            den=den,
            latency=np.array([r.latency_ms for r in results], dtype=float),
            answered=np.array([r.answered for r in results], dtype=bool),
            correct=np.array([r.correct for r in results], dtype=bool),
            confidence=np.array(
                [r.confidence if r.confidence is not None else 0.0 for r in results], dtype=float
            ),
        )

    @property
    def n(self) -> int:
        return int(self.latency.shape[0])


def resample_weights(n: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n) matrix: how often each question is drawn in each bootstrap resample."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n))
    weights = np.zeros((resamples, n), dtype=float)
    rows = np.repeat(np.arange(resamples), n)
    np.add.at(weights, (rows, idx.ravel()), 1.0)
    return weights


def metric_values(inputs: MetricInputs, name: str, weights: np.ndarray) -> np.ndarray:
    """The metric under each row of ``weights`` (shape (rows, n)); NaN where undefined.

    A row of ones gives the point estimate.
    """
    kind = METRIC_BY_NAME[name].kind
    if kind == "ratio":
        num = weights @ inputs.num[name]
        den = weights @ inputs.den[name]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    if kind == "latency":
        q = 50.0 if name == "latency_p50_ms" else 95.0
        return np.array([_weighted_percentile(inputs.latency, w, q) for w in weights])
    return _aurc(inputs, weights)


def _weighted_percentile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """numpy's linear-interpolation percentile of ``values`` repeated ``weights`` times."""
    if values.size == 0 or weights.sum() <= 0:
        return float("nan")
    return float(np.percentile(np.repeat(values, weights.astype(int)), q))


def _tie_groups(inputs: MetricInputs) -> tuple[np.ndarray, np.ndarray]:
    """Answered questions by confidence (high first), and the index where each tie group ends."""
    order = np.flatnonzero(inputs.answered)
    order = order[np.argsort(-inputs.confidence[order], kind="stable")]
    conf = inputs.confidence[order]
    ends = np.flatnonzero(np.append(conf[1:] != conf[:-1], True)) if order.size else np.array([], dtype=int)
    return order, ends


def _aurc(inputs: MetricInputs, weights: np.ndarray) -> np.ndarray:
    """Area under the risk–coverage curve per weight row: mean risk over answers, ties taken together."""
    order, ends = _tie_groups(inputs)
    if order.size == 0:
        return np.full(weights.shape[0], np.nan)
    w = weights[:, order]
    cum_w = np.cumsum(w, axis=1)[:, ends]
    cum_c = np.cumsum(w * inputs.correct[order], axis=1)[:, ends]
    with np.errstate(invalid="ignore", divide="ignore"):
        risk = np.where(cum_w > 0, 1.0 - cum_c / np.where(cum_w > 0, cum_w, 1.0), 0.0)
    group_w = np.diff(cum_w, axis=1, prepend=0.0)
    total = cum_w[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (group_w * risk).sum(axis=1) / np.where(total > 0, total, 1.0), np.nan)


def risk_coverage_curve(inputs: MetricInputs) -> list[RiskCoveragePoint]:
    """Selective accuracy when answering only the most confident answers, at each distinct confidence."""
    order, ends = _tie_groups(inputs)
    points = []
    correct = np.cumsum(inputs.correct[order])
    for e in ends:
        m = int(e) + 1
        points.append(
            RiskCoveragePoint(
                answered=m,
                coverage=round(m / inputs.n, _DIGITS),
                selective_accuracy=round(float(correct[e]) / m, _DIGITS),
                confidence=round(float(inputs.confidence[order[e]]), _DIGITS),
            )
        )
    return points


def _interval(values: np.ndarray, digits: int = _DIGITS) -> tuple[float, float] | None:
    valid = values[~np.isnan(values)]
    if valid.size == 0:
        return None
    lo, hi = np.percentile(valid, [2.5, 97.5])
    return (round(float(lo), digits), round(float(hi), digits))


@dataclass
class Summary:
    """Point estimates, intervals, support and reasons for every metric of one run."""

    metrics: dict[str, float | None] = field(default_factory=dict)
    intervals: dict[str, tuple[float, float] | None] = field(default_factory=dict)
    support: dict[str, int] = field(default_factory=dict)
    undefined: dict[str, str] = field(default_factory=dict)


def summarise(inputs: MetricInputs, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> Summary:
    """Every metric with its bootstrap 95% interval; undefined ones are None with a reason."""
    out = Summary()
    if inputs.n == 0:
        for m in METRICS:
            out.metrics[m.name], out.intervals[m.name] = None, None
            out.undefined[m.name] = "the gold file has no questions"
        return out
    ones = np.ones((1, inputs.n))
    boot = resample_weights(inputs.n, resamples, seed) if resamples > 0 else np.zeros((0, inputs.n))
    for m in METRICS:
        value = float(metric_values(inputs, m.name, ones)[0])
        out.support[m.name] = _support(inputs, m.name)
        if np.isnan(value):
            out.metrics[m.name], out.intervals[m.name] = None, None
            out.undefined[m.name] = f"no {m.population} in this run"
            continue
        digits = _DIGITS if m.unit is None else 2
        out.metrics[m.name] = round(value, digits)
        out.intervals[m.name] = _interval(metric_values(inputs, m.name, boot), digits) if boot.size else None
    return out


def _support(inputs: MetricInputs, name: str) -> int:
    kind = METRIC_BY_NAME[name].kind
    if kind == "ratio":
        return int(inputs.den[name].sum())
    if kind == "curve":
        return int(inputs.answered.sum())
    return inputs.n


@dataclass
class PairedDelta:
    """B − A for one metric over the questions both runs hold, with a paired bootstrap interval."""

    name: str
    a: float | None
    b: float | None
    delta: float | None
    interval: tuple[float, float] | None
    significant: bool
    verdict: str  # "better" | "worse" | "no significant change" | "undefined"


def paired_deltas(
    a: MetricInputs, b: MetricInputs, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> list[PairedDelta]:
    """Per metric: the change from run A to run B and whether it is beyond bootstrap noise.

    Both inputs must hold the same questions in the same order; each resample draws the
    same questions for A and B (a paired bootstrap), so question difficulty cancels out.
    A change is significant when its 95% interval excludes zero.
    """
    if a.n != b.n:
        raise ValueError("paired runs must hold the same questions")
    out = []
    ones = np.ones((1, a.n))
    boot = resample_weights(a.n, resamples, seed) if a.n and resamples > 0 else np.zeros((0, a.n))
    for m in METRICS:
        va = float(metric_values(a, m.name, ones)[0]) if a.n else float("nan")
        vb = float(metric_values(b, m.name, ones)[0]) if b.n else float("nan")
        if np.isnan(va) or np.isnan(vb):
            out.append(PairedDelta(m.name, _num(va), _num(vb), None, None, False, "undefined"))
            continue
        diffs = metric_values(b, m.name, boot) - metric_values(a, m.name, boot) if boot.size else np.array([])
        interval = _interval(diffs)
        significant = interval is not None and (interval[0] > 0 or interval[1] < 0)
        delta = vb - va
        if not significant:
            verdict = "no significant change"
        else:
            verdict = "better" if (delta > 0) == m.higher_is_better else "worse"
        out.append(
            PairedDelta(m.name, _num(va), _num(vb), round(delta, _DIGITS), interval, significant, verdict)
        )
    return out


def _num(x: float) -> float | None:
    return None if np.isnan(x) else round(x, _DIGITS)
