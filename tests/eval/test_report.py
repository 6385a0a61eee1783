"""The HTML report is one self-contained file, escapes everything, and shows what it promises."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from eval.report import write_report
from eval.runner import build_run
from tests.eval.factories import answer, gold, run_info, score

HOSTILE = '<script>alert("x")</script>'
CITE = 'Infants up to 12 months: 0.3 µg/kg/day of cobalamin <img src=x onerror="alert(1)"> & more.'


def _run():  # type: ignore[no-untyped-def]
    results = [
        score(
            gold(
                "q1",
                facts=["0.3 μg/kg/day", "hydroxocobalamin"],
                quotes=["0.3 µg/kg/day of cobalamin"],
                question=f"Dose? {HOSTILE}",
                reference_answer="ref & answer",
            ),
            answer([(CITE, [1])], [CITE], confidence=0.9),
        ),
        score(gold("q2", answerable=False), answer(abstained=True, confidence=0.2)),
        score(
            gold("q3", facts=["x"]), None, latency=5000.0, status="error", error=f"RuntimeError: {HOSTILE}"
        ),
    ]
    return build_run(results, run_info(git_commit="a" * 40), resamples=50)


def test_report_is_self_contained_and_escaped(tmp_path: Path) -> None:
    path = write_report(_run(), tmp_path / "sub" / "r.html")
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html  # hostile text escaped, and the report needs no script
    assert "&lt;script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x" in html
    # nothing is fetched: no external src/href, no stylesheet links
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<link" not in html


def test_report_shows_metrics_intervals_plots_and_missed_facts(tmp_path: Path) -> None:
    run = _run()
    html = write_report(run, tmp_path / "r.html").read_text(encoding="utf-8")
    for name in (
        "key_fact_recall",
        "evidence_recall",
        "statement_support",
        "abstain_recall",
        "latency_p95_ms",
    ):
        assert f"<code>{name}</code>" in html
    lo, hi = run.intervals["key_fact_recall"]
    assert f"[{lo:.3f}, {hi:.3f}]" in html
    assert '<mark class="fact missed">hydroxocobalamin</mark>' in html
    assert '<span class="fact found">0.3 μg/kg/day</span>' in html
    assert "a" * 40 in html  # git commit recorded
    plots = re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(plots) == 2  # risk-coverage and latency
    for data in plots:
        root = ET.fromstring(base64.b64decode(data))
        assert root.tag.endswith("svg")
