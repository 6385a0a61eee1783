"""Cohen's κ between reviewers, from a CSV or from review history in a database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from eval.agreement import agreement, cohen_kappa, read_judgements_csv, read_judgements_database
from ingest.errors import UsageError
from qa_service import cli as medcite_cli


def test_kappa_by_hand() -> None:
    # 10 answers: both approve 4, both reject 3, A approves/B rejects 2, A rejects/B approves 1.
    # p_o = 7/10; A approves 6/10, B approves 5/10 -> p_e = .6*.5 + .4*.5 = .5; κ = (.7-.5)/(1-.5) = .4
    a = ["approved"] * 4 + ["rejected"] * 3 + ["approved"] * 2 + ["rejected"]
    b = ["approved"] * 4 + ["rejected"] * 3 + ["rejected"] * 2 + ["approved"]
    kappa, p_o, p_e = cohen_kappa(a, b)
    assert (kappa, p_o, p_e) == pytest.approx((0.4, 0.7, 0.5))


def test_kappa_agrees_with_scikit_learn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    a = ["approved", "rejected", "approved", "approved", "rejected", "approved", "rejected", "approved"]
    b = ["approved", "rejected", "rejected", "approved", "rejected", "approved", "approved", "approved"]
    assert cohen_kappa(a, b)[0] == pytest.approx(metrics.cohen_kappa_score(a, b))


def test_kappa_is_undefined_when_both_always_give_one_verdict() -> None:
    assert cohen_kappa(["approved"] * 3, ["approved"] * 3) == (None, 1.0, 1.0)
    report = agreement([(f"a{i}", r, "approved") for i in range(3) for r in ("ann", "bob")])
    assert report.pairs[0].kappa is None and "same single verdict" in (report.pairs[0].undefined or "")


def test_last_verdict_counts_and_under_review_is_ignored() -> None:
    rows = [
        ("a1", "ann", "approved"),
        ("a1", "bob", "under_review"),
        ("a1", "bob", "rejected"),
        ("a1", "ann", "rejected"),  # ann changed her mind: rejected counts
        ("a2", "ann", "approved"),
        ("a2", "bob", "approved"),
        ("a3", "ann", "rejected"),
        ("a3", "bob", "approved"),
        ("a4", "ann", "under_review"),  # no verdict from ann on a4
        ("a4", "bob", "approved"),
        ("a5", "cy", "approved"),  # cy shares no answer with anyone
    ]
    report = agreement(rows, resamples=200, seed=1)
    assert report.reviewers == ["ann", "bob", "cy"]
    assert len(report.pairs) == 1
    pair = report.pairs[0]
    assert pair.reviewers == ("ann", "bob") and pair.n == 3
    assert pair.confusion == {
        "approved": {"approved": 1, "rejected": 0},
        "rejected": {"approved": 1, "rejected": 1},
    }
    expected, _, _ = cohen_kappa(["rejected", "approved", "rejected"], ["rejected", "approved", "approved"])
    assert pair.kappa == pytest.approx(expected, abs=1e-6)
    assert agreement(rows, resamples=200, seed=1).pairs[0].interval == pair.interval  # seeded


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "reviews.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_reading_and_cli(tmp_path: Path) -> None:
    lines = ["answer_id,reviewer,status,comment"]
    verdicts = (
        [("approved", "approved")] * 4
        + [("rejected", "rejected")] * 3
        + [("approved", "rejected")] * 2
        + [("rejected", "approved")]
    )
    for i, (x, y) in enumerate(verdicts):
        lines += [f"a{i},ann,{x},", f"a{i},bob,{y},fine"]
    path = _csv(tmp_path, "\n".join(lines) + "\n")
    assert len(read_judgements_csv(path)) == 20
    medcite_cli._register_optional_commands()
    result = CliRunner().invoke(medcite_cli.cli, ["eval", "agreement", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["pairs"][0]["kappa"] == pytest.approx(0.4)
    text = CliRunner().invoke(medcite_cli.cli, ["eval", "agreement", str(path)])
    assert "ann vs bob: n=10" in text.stdout and "κ = 0.400" in text.stdout


def test_bad_csv_is_a_usage_error_naming_the_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="missing column"):
        read_judgements_csv(_csv(tmp_path, "answer,who,status\n"))
    with pytest.raises(UsageError, match=r"reviews.csv:3: "):
        read_judgements_csv(_csv(tmp_path, "answer_id,reviewer,status\na1,ann,approved\na1,,approved\n"))
    medcite_cli._register_optional_commands()
    result = CliRunner().invoke(medcite_cli.cli, ["eval", "agreement", str(tmp_path / "none.csv")])
    assert result.exit_code == 2


def test_review_history_from_the_audit_log(tmp_path: Path) -> None:
    from qa_service.audit import AuditLog, ReviewStatus
    from tests.eval.factories import answer

    # approved/rejected are final in the workflow, so a second opinion is a new record of the
    # same question; records with the same question and answer text are the same answer.
    same = answer([("0.3 µg/kg/day of cobalamin", [1])], ["0.3 µg/kg/day of cobalamin"])
    other = answer([("1000-2000 μg intramuscularly", [1])], ["1000-2000 μg intramuscularly"])
    log = AuditLog(f"sqlite:///{tmp_path / 'audit.db'}")
    try:
        plan = [
            ("r1", same, "ann", [ReviewStatus.UNDER_REVIEW, ReviewStatus.APPROVED]),
            ("r2", same, "bob", [ReviewStatus.REJECTED]),
            ("r3", other, "ann", [ReviewStatus.REJECTED]),
            ("r4", other, "bob", [ReviewStatus.REJECTED]),
        ]
        for rid, a, reviewer, steps in plan:
            log.record_answer(a.model_copy(update={"id": rid}), corpus_version="c", role="reader")
            for status in steps:
                log.review(rid, status=status, reviewer=reviewer, role="reviewer")
    finally:
        log.close()
    history = read_judgements_database(f"sqlite:///{tmp_path / 'audit.db'}")
    assert [(r, s) for _, r, s in history] == [
        ("ann", "under_review"),
        ("ann", "approved"),
        ("bob", "rejected"),
        ("ann", "rejected"),
        ("bob", "rejected"),
    ]
    assert history[0][0] == history[2][0] != history[3][0]  # r1 and r2 are one answer
    report = agreement(history)
    assert report.pairs[0].n == 2
    assert report.pairs[0].confusion == {
        "approved": {"approved": 0, "rejected": 1},
        "rejected": {"approved": 0, "rejected": 1},
    }
    medcite_cli._register_optional_commands()
    result = CliRunner().invoke(medcite_cli.cli, ["eval", "agreement", "--data-dir", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["pairs"][0]["n"] == 2


def test_no_audit_database_is_a_usage_error(tmp_path: Path) -> None:
    medcite_cli._register_optional_commands()
    result = CliRunner().invoke(medcite_cli.cli, ["eval", "agreement", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "no audit database" in result.stderr
