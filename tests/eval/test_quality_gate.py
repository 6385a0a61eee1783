"""The quality gate: the corpus gold set, run in-process, meets the thresholds in eval/thresholds.json.

This is what makes `make test` fail when answer quality drops. Thresholds were set from
measured values minus a margin; the failure message prints every measured value with its
95% interval so a regression (or an improvement that deserves a raised bar) is visible.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eval.gate import DEFAULT_THRESHOLDS, check_gate, load_thresholds
from eval.gold import load_gold
from eval.models import EvalRun
from eval.runner import EngineBackend, run_eval
from tests.eval.conftest import CORPUS_GOLD, MINI_GOLD

GATED = ("key_fact_recall", "evidence_recall", "statement_support", "abstain_recall")
GOLD = CORPUS_GOLD if CORPUS_GOLD.is_file() else MINI_GOLD


@pytest.fixture(scope="module")
def corpus_run(corpus_engine: Any) -> EvalRun:
    """The whole corpus gold set, once (about 2 s per question on this machine)."""
    return run_eval(GOLD, EngineBackend(corpus_engine), timeout_s=120)


def _measured(run: EvalRun) -> str:
    lines = []
    for name, value in run.metrics.items():
        interval = run.intervals.get(name)
        ci = f" [{interval[0]:.4f}, {interval[1]:.4f}]" if interval else ""
        lines.append(f"  {name} = {value if value is None else round(value, 4)}{ci}")
    return "measured on " + str(GOLD.name) + ":\n" + "\n".join(lines)


def test_thresholds_cover_the_gated_metrics() -> None:
    thresholds = load_thresholds(DEFAULT_THRESHOLDS)
    assert set(GATED) <= set(thresholds.min)
    assert all(0 < v <= 1 for v in thresholds.min.values())


@pytest.mark.slow
def test_corpus_gold_set_counts_every_question(corpus_run: EvalRun) -> None:
    items, digest = load_gold(GOLD)
    assert corpus_run.n == len(items)
    assert [q.id for q in corpus_run.per_question] == [i.id for i in items]
    assert corpus_run.run.gold_sha256 == digest
    assert corpus_run.failures == 0, [(q.id, q.error) for q in corpus_run.per_question if q.failed]
    json.dumps(corpus_run.to_json_dict(), allow_nan=False)
    for name in GATED:
        assert corpus_run.metrics[name] is not None, corpus_run.undefined.get(name)
        assert corpus_run.intervals[name] is not None


@pytest.mark.slow
def test_quality_gate(corpus_run: EvalRun) -> None:
    failures = check_gate(corpus_run, load_thresholds(DEFAULT_THRESHOLDS))
    assert not failures, "quality gate failed: " + "; ".join(failures) + "\n" + _measured(corpus_run)


@pytest.mark.slow
def test_corpus_report_shows_every_question(corpus_run: EvalRun, tmp_path: Path) -> None:
    from eval.report import write_report

    html = write_report(corpus_run, tmp_path / "corpus.html").read_text(encoding="utf-8")
    for q in corpus_run.per_question:
        assert f'id="q-{q.id}"' in html
