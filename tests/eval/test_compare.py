"""`medcite eval compare`: per-question regressions and improvements, metric changes beyond noise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from eval.compare import compare_runs, load_run
from eval.models import EvalRun
from eval.runner import build_run
from ingest.errors import UsageError
from qa_service import cli as medcite_cli
from tests.eval.factories import answer, gold, run_info, score

GOOD = "Infants up to 12 months: 0.3 µg/kg/day of cobalamin."
BAD = "Vitamin B12 is important."


def _run(
    good_ids: set[str], abstain_ids: set[str] = frozenset(), config: str = "cfg", n: int = 30
) -> EvalRun:  # type: ignore[assignment]
    results = []
    for i in range(n):
        qid = f"q{i:02d}"
        g = gold(qid, facts=["0.3 μg/kg/day"])
        if qid in abstain_ids:
            a = answer(abstained=True)
        else:
            text = GOOD if qid in good_ids else BAD
            a = answer([(text, [1])], [text])
        results.append(score(g, a, latency=1000.0))
    return build_run(results, run_info(config_hash=config), resamples=200)


@pytest.fixture
def two_files(tmp_path: Path) -> tuple[Path, Path]:
    ids = [f"q{i:02d}" for i in range(30)]
    a = _run(set(ids[:10]), config="aaa")  # 10 of 30 right
    b = _run(
        set(ids[:9]) | set(ids[10:28]), abstain_ids={"q29"}, config="bbb"
    )  # q09 lost, q10..q27 gained, q29 abstains
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(json.dumps(a.to_json_dict()), encoding="utf-8")
    pb.write_text(json.dumps(b.to_json_dict()), encoding="utf-8")
    return pa, pb


def test_compare_finds_regressions_improvements_and_significance(two_files: tuple[Path, Path]) -> None:
    c = compare_runs(load_run(two_files[0]), load_run(two_files[1]), resamples=500)
    assert c.common == 30 and not c.only_in_a and not c.only_in_b
    assert [q.id for q in c.regressions] == ["q09", "q29"]
    assert "correct → incorrect" in c.regressions[0].details
    assert "now abstains" in c.regressions[1].details
    assert [q.id for q in c.improvements] == [f"q{i}" for i in range(10, 28)]
    assert c.unchanged == 30 - 2 - 18
    m = {x.name: x for x in c.metrics}
    assert m["key_fact_recall"].a == pytest.approx(10 / 30, abs=1e-6)
    assert m["key_fact_recall"].b == pytest.approx(27 / 30, abs=1e-6)
    assert m["key_fact_recall"].significant and m["key_fact_recall"].verdict == "better"
    assert m["false_abstain_rate"].verdict == "no significant change"  # 0 -> 1/30 is within noise
    assert m["latency_p50_ms"].delta == 0
    assert m["abstain_recall"].verdict == "undefined"


def test_compare_pairs_only_common_questions(tmp_path: Path) -> None:
    a = _run({"q00"}, n=5)
    b = _run({"q00"}, n=3)
    c = compare_runs(a, b, resamples=100)
    assert c.common == 3 and c.only_in_a == ["q03", "q04"]
    assert c.warnings == []  # same gold file hash and corpus: nothing to warn about
    other = b.model_copy(update={"run": b.run.model_copy(update={"gold_sha256": "1" * 64})})
    assert any("different gold files" in w for w in compare_runs(a, other, resamples=10).warnings)


def test_compare_cli_text_and_json(two_files: tuple[Path, Path]) -> None:
    medcite_cli._register_optional_commands()
    runner = CliRunner()
    text = runner.invoke(medcite_cli.cli, ["eval", "compare", str(two_files[0]), str(two_files[1])])
    assert text.exit_code == 0, text.output
    assert "Regressions (2)" in text.stdout and "q09: correct → incorrect" in text.stdout
    assert "key_fact_recall" in text.stdout and "better" in text.stdout
    as_json = runner.invoke(
        medcite_cli.cli, ["eval", "compare", str(two_files[0]), str(two_files[1]), "--json"]
    )
    data = json.loads(as_json.stdout)
    assert data["common"] == 30 and len(data["improvements"]) == 18
    worse = runner.invoke(
        medcite_cli.cli, ["eval", "compare", str(two_files[1]), str(two_files[0]), "--fail-on-worse"]
    )
    assert worse.exit_code == 1


def test_compare_refuses_files_that_are_not_runs(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"n": 1}', encoding="utf-8")
    with pytest.raises(UsageError, match="not a `medcite eval --json` result"):
        load_run(bad)
    medcite_cli._register_optional_commands()
    result = CliRunner().invoke(
        medcite_cli.cli, ["eval", "compare", str(bad), str(tmp_path / "missing.json")]
    )
    assert result.exit_code == 2 and result.stderr.startswith("medcite: error: ")
