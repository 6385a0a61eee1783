"""Reviewer agreement: Cohen's κ between two reviewers who judged the same answers.

Judgements arrive as ``(answer_id, reviewer, status)`` triples in time order, from a
CSV file (columns ``answer_id,reviewer,status``) or from the audit database's review
history (where answers are matched by content: see :func:`answer_content_key`); for
each (answer, reviewer) the last verdict counts. Only verdicts count
(``approved`` / ``rejected`` by default): ``under_review`` says a review started,
not what the reviewer concluded.

κ = (p_o − p_e) / (1 − p_e), with p_o the observed agreement and p_e the agreement
expected from each reviewer's own label frequencies. It is undefined (None, with a
reason) when p_e = 1, i.e. both reviewers used one and the same label throughout.
The bootstrap interval resamples answers (seeded, deterministic).
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from ingest.errors import UsageError

logger = logging.getLogger(__name__)

VERDICTS = ("approved", "rejected")
Judgement = tuple[str, str, str]


class PairAgreement(BaseModel):
    """Agreement of two reviewers over the answers both judged."""

    reviewers: tuple[str, str]
    n: int = Field(description="Answers both reviewers judged.")
    observed_agreement: float | None
    expected_agreement: float | None
    kappa: float | None
    interval: tuple[float, float] | None = Field(default=None, description="Bootstrap 95% interval of κ.")
    undefined: str | None = Field(default=None, description="Why κ is None.")
    confusion: dict[str, dict[str, int]] = Field(
        description="confusion[label of first][label of second] = count."
    )


class AgreementReport(BaseModel):
    """κ for every pair of reviewers with answers in common."""

    judgements: int = Field(description="Verdicts read (after keeping each reviewer's last per answer).")
    reviewers: list[str]
    labels: list[str]
    pairs: list[PairAgreement]


def cohen_kappa(first: Sequence[str], second: Sequence[str]) -> tuple[float | None, float, float]:
    """(κ, observed agreement, expected agreement) for two equally long label sequences.

    >>> cohen_kappa(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    (0.5, 0.75, 0.5)
    """
    if len(first) != len(second) or not first:
        raise ValueError("two non-empty label sequences of equal length are needed")
    labels = sorted(set(first) | set(second))
    index = {label: i for i, label in enumerate(labels)}
    table = np.zeros((len(labels), len(labels)))
    for x, y in zip(first, second, strict=True):
        table[index[x], index[y]] += 1
    kappa, p_o, p_e = _kappa_from_table(table[None, :, :])
    return (None if np.isnan(kappa[0]) else float(kappa[0])), float(p_o[0]), float(p_e[0])


def _kappa_from_table(tables: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """κ, p_o, p_e for a stack of confusion tables (shape (m, L, L)); κ is NaN where p_e == 1."""
    total = tables.sum(axis=(1, 2))
    p_o = np.trace(tables, axis1=1, axis2=2) / total
    p_e = (tables.sum(axis=2) * tables.sum(axis=1)).sum(axis=1) / total**2
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = np.where(np.isclose(p_e, 1.0), np.nan, (p_o - p_e) / (1.0 - p_e))
    return kappa, p_o, p_e


def latest_verdicts(
    rows: Iterable[Judgement], verdicts: Sequence[str] = VERDICTS
) -> dict[tuple[str, str], str]:
    """(answer_id, reviewer) → the reviewer's last verdict; statuses outside ``verdicts`` ignored."""
    out: dict[tuple[str, str], str] = {}
    allowed = {v.lower() for v in verdicts}
    for answer_id, reviewer, status in rows:
        status = status.strip().lower()
        if status in allowed:
            out[(str(answer_id), str(reviewer))] = status
    return out


def agreement(
    rows: Iterable[Judgement], *, verdicts: Sequence[str] = VERDICTS, resamples: int = 1000, seed: int = 0
) -> AgreementReport:
    """Cohen's κ for every pair of reviewers who judged at least one answer in common.

    Args:
        rows: ``(answer_id, reviewer, status)`` in time order (CSV rows or review history).
        verdicts: Statuses that are verdicts; others (``under_review``) are ignored.
        resamples: Bootstrap resamples for the interval (0: none).
        seed: Bootstrap seed.
    """
    latest = latest_verdicts(rows, verdicts)
    reviewers = sorted({r for _, r in latest})
    labels = sorted(set(latest.values()))
    by_reviewer: dict[str, dict[str, str]] = {r: {} for r in reviewers}
    for (answer_id, reviewer), status in latest.items():
        by_reviewer[reviewer][answer_id] = status
    pairs = []
    for r1, r2 in itertools.combinations(reviewers, 2):
        shared = sorted(set(by_reviewer[r1]) & set(by_reviewer[r2]))
        if shared:
            first = [by_reviewer[r1][a] for a in shared]
            second = [by_reviewer[r2][a] for a in shared]
            pairs.append(_pair((r1, r2), first, second, labels, resamples, seed))
    return AgreementReport(judgements=len(latest), reviewers=reviewers, labels=labels, pairs=pairs)


def _pair(
    names: tuple[str, str], first: list[str], second: list[str], labels: list[str], resamples: int, seed: int
) -> PairAgreement:
    kappa, p_o, p_e = cohen_kappa(first, second)
    confusion = {a: {b: 0 for b in labels} for a in labels}
    for x, y in zip(first, second, strict=True):
        confusion[x][y] += 1
    interval = None
    if kappa is not None and resamples > 0:
        interval = _bootstrap_interval(first, second, labels, resamples, seed)
    return PairAgreement(
        reviewers=names,
        n=len(first),
        observed_agreement=round(p_o, 6),
        expected_agreement=round(p_e, 6),
        kappa=None if kappa is None else round(kappa, 6),
        interval=interval,
        undefined=None
        if kappa is not None
        else "both reviewers gave the same single verdict to every answer (expected agreement is 1)",
        confusion=confusion,
    )


def _bootstrap_interval(
    first: list[str], second: list[str], labels: list[str], resamples: int, seed: int
) -> tuple[float, float] | None:
    index = {label: i for i, label in enumerate(labels)}
    cell = np.array([index[x] * len(labels) + index[y] for x, y in zip(first, second, strict=True)])
    rng = np.random.default_rng(seed)
    draws = cell[rng.integers(0, len(cell), size=(resamples, len(cell)))]
    tables = (
        np.stack([np.bincount(row, minlength=len(labels) ** 2) for row in draws])
        .reshape(resamples, len(labels), len(labels))
        .astype(float)
    )
    kappa, _, _ = _kappa_from_table(tables)
    valid = kappa[~np.isnan(kappa)]
    if valid.size == 0:
        return None
    lo, hi = np.percentile(valid, [2.5, 97.5])
    return (round(float(lo), 6), round(float(hi), 6))


def read_judgements_csv(path: Path) -> list[Judgement]:
    """Rows of a CSV with columns ``answer_id,reviewer,status`` (others ignored), in file order."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = {"answer_id", "reviewer", "status"} - set(reader.fieldnames or [])
            if missing:
                raise UsageError(
                    f"{path}: missing column(s) {', '.join(sorted(missing))}"
                    " (need answer_id, reviewer, status)"
                )
            rows = []
            for row in reader:
                values = [(row.get(k) or "").strip() for k in ("answer_id", "reviewer", "status")]
                if not all(values):
                    raise UsageError(
                        f"{path}:{reader.line_num}: answer_id, reviewer and status must all be filled"
                    )
                rows.append((values[0], values[1], values[2]))
            return rows
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except csv.Error as exc:
        raise UsageError(f"{path}: not a readable CSV ({exc})") from exc


def answer_content_key(question: str, answer_text: str) -> str:
    """One id for "the same answer": the same question answered with the same text.

    The audit workflow makes approved/rejected final, so a second reviewer's opinion
    is given on a new record of the same question (CONTRACT review workflow,
    ``qa_service.audit.models.TRANSITIONS``). Extractive answers are deterministic
    for a config and corpus, so records whose question and answer text agree are
    the same answer judged twice.
    """
    raw = question.strip() + "\x00" + answer_text.strip()
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def read_judgements_database(url: str) -> list[Judgement]:
    """Review history from the audit database (``qa_service.audit``), in time order.

    Each review step gives (answer content key, reviewer, status it moved to); see
    :func:`answer_content_key` for why answers are matched by content, not record id.
    Read-only: no migration is run.
    """
    from sqlalchemy import create_engine, inspect, select
    from sqlalchemy.exc import SQLAlchemyError

    from qa_service.audit.models import AnswerRow, ReviewRow

    query = (
        select(AnswerRow.question, AnswerRow.answer, ReviewRow.reviewer, ReviewRow.to_status)
        .join(AnswerRow, AnswerRow.id == ReviewRow.answer_id)
        .order_by(ReviewRow.created_at, ReviewRow.id)
    )
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            # Only a reviewer's own verdicts: not the copies a group review leaves on identical asks,
            # nor evidence-changed or recheck events (logs from before those events have no kinds).
            if any(c["name"] == "event" for c in inspect(conn).get_columns("audit_reviews")):
                query = query.where(ReviewRow.event == "review")
            rows = conn.execute(query).all()
    except SQLAlchemyError as exc:
        raise UsageError(f"cannot read the audit database: {exc.__class__.__name__}: {exc}") from exc
    finally:
        engine.dispose()
    out: list[Judgement] = []
    for question, answer, reviewer, status in rows:
        text = str(answer.get("answer", "")) if isinstance(answer, dict) else ""
        out.append((answer_content_key(str(question), text), str(reviewer), str(status)))
    return out


def format_agreement(report: AgreementReport) -> str:
    """Terminal rendering."""
    lines = [
        f"{report.judgements} verdicts from {len(report.reviewers)} reviewers;"
        f" labels: {', '.join(report.labels) or '—'}"
    ]
    if not report.pairs:
        lines.append("No two reviewers judged the same answer: κ cannot be computed.")
    for p in report.pairs:
        head = f"{p.reviewers[0]} vs {p.reviewers[1]}: n={p.n}, observed agreement {p.observed_agreement:.3f}"
        if p.kappa is None:
            lines.append(f"{head}, κ undefined ({p.undefined})")
        else:
            ci = f" [{p.interval[0]:.3f}, {p.interval[1]:.3f}]" if p.interval else ""
            lines.append(f"{head}, κ = {p.kappa:.3f}{ci}")
    return "\n".join(lines)
