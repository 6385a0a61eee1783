"""Bootstrap intervals are deterministic and sane; the risk–coverage curve and AURC by hand."""

from __future__ import annotations

import numpy as np
import pytest

from eval.models import QuestionResult
from eval.stats import (
    MetricInputs,
    metric_values,
    paired_deltas,
    resample_weights,
    risk_coverage_curve,
    summarise,
)
from tests.eval.factories import answer, gold, score

SENT = "Infants up to 12 months: 0.3 µg/kg/day of cobalamin."


def _results(flags: list[tuple[bool, float]]) -> list[QuestionResult]:
    """Answerable questions answered with confidence c; correct when the flag is set."""
    out = []
    for i, (ok, conf) in enumerate(flags):
        text = SENT if ok else "Something else entirely."
        out.append(
            score(
                gold(f"q{i}", facts=["0.3 μg/kg/day"]),
                answer([(text, [1])], [text], confidence=conf),
                latency=100.0 + i,
            )
        )
    return out


def test_resample_weights_are_seeded_counts() -> None:
    w = resample_weights(7, 50, seed=3)
    assert w.shape == (50, 7)
    assert (w.sum(axis=1) == 7).all()
    assert np.array_equal(w, resample_weights(7, 50, seed=3))
    assert not np.array_equal(w, resample_weights(7, 50, seed=4))


def test_same_seed_same_intervals_and_they_bracket_the_estimate() -> None:
    inputs = MetricInputs.from_results(_results([(i % 3 != 0, 0.5 + i / 100) for i in range(30)]))
    a = summarise(inputs, resamples=500, seed=11)
    b = summarise(inputs, resamples=500, seed=11)
    c = summarise(inputs, resamples=500, seed=12)
    assert a.intervals == b.intervals
    assert a.intervals["key_fact_recall"] != c.intervals["key_fact_recall"]
    lo, hi = a.intervals["key_fact_recall"]
    assert lo < a.metrics["key_fact_recall"] < hi
    assert a.metrics["key_fact_recall"] == pytest.approx(20 / 30, abs=1e-6)
    lo, hi = a.intervals["latency_p50_ms"]
    assert lo <= a.metrics["latency_p50_ms"] <= hi


def test_weighted_percentile_equals_percentile_of_the_resample() -> None:
    inputs = MetricInputs.from_results(_results([(True, 0.5)] * 9))
    w = resample_weights(9, 5, seed=0)
    got = metric_values(inputs, "latency_p95_ms", w)
    for row, value in zip(w, got, strict=True):
        drawn = np.repeat(inputs.latency, row.astype(int))
        assert value == pytest.approx(np.percentile(drawn, 95))


def test_aurc_and_curve_by_hand() -> None:
    # confidences 0.9, 0.8, 0.7 with correct, wrong, correct:
    # risk after 1 answer 0, after 2 answers 1/2, after 3 answers 1/3 -> AURC = (0 + 1/2 + 1/3) / 3
    inputs = MetricInputs.from_results(_results([(True, 0.9), (False, 0.8), (True, 0.7)]))
    aurc = metric_values(inputs, "aurc", np.ones((1, 3)))[0]
    assert aurc == pytest.approx((0 + 1 / 2 + 1 / 3) / 3)
    curve = risk_coverage_curve(inputs)
    assert [(p.answered, p.selective_accuracy) for p in curve] == [
        (1, 1.0),
        (2, 0.5),
        (3, pytest.approx(2 / 3, abs=1e-6)),
    ]


def test_tied_confidences_enter_the_curve_together_whatever_their_order() -> None:
    a = MetricInputs.from_results(_results([(True, 0.9), (False, 0.9), (True, 0.5)]))
    b = MetricInputs.from_results(_results([(False, 0.9), (True, 0.9), (True, 0.5)]))
    ones = np.ones((1, 3))
    # the tie group of two has risk 1/2 for both its members, then 1/3
    expected = (1 / 2 + 1 / 2 + 1 / 3) / 3
    assert metric_values(a, "aurc", ones)[0] == pytest.approx(expected)
    assert metric_values(b, "aurc", ones)[0] == pytest.approx(expected)
    assert [p.answered for p in risk_coverage_curve(a)] == [2, 3]


def test_paired_bootstrap_flags_real_changes_only() -> None:
    worse = MetricInputs.from_results(_results([(i % 4 == 0, 0.6) for i in range(40)]))
    better = MetricInputs.from_results(_results([(i % 4 != 3, 0.6) for i in range(40)]))
    by_name = {d.name: d for d in paired_deltas(worse, better, resamples=500, seed=0)}
    kfr = by_name["key_fact_recall"]
    assert kfr.delta == pytest.approx(0.75 - 0.25)
    assert kfr.significant and kfr.verdict == "better"
    assert kfr.interval is not None and kfr.interval[0] > 0
    same = {d.name: d for d in paired_deltas(worse, worse, resamples=200, seed=0)}
    assert same["key_fact_recall"].verdict == "no significant change"
    assert same["key_fact_recall"].interval == (0.0, 0.0)
    assert same["abstain_recall"].verdict == "undefined"
    back = {d.name: d for d in paired_deltas(better, worse, resamples=500, seed=0)}
    assert back["key_fact_recall"].verdict == "worse"
    assert back["latency_p50_ms"].verdict == "no significant change"  # same latencies
