"""The audit log: Alembic migrations, the repository, the review workflow, concurrency."""

from __future__ import annotations

import io
import threading
import uuid
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from ingest.errors import NotFoundError
from ingest.settings import get_settings
from qa_service.audit import AuditLog, ReviewConflictError, ReviewStatus, allowed_next, default_database_url
from qa_service.audit.migrate import alembic_config, current_revision, head_revision
from qa_service.audit.models import Base
from qa_service.models import Answer, Citation, Statement


def make_answer(question: str = "What dose of cobalamin for infants?") -> Answer:
    return Answer(
        id=uuid.uuid4().hex,
        question=question,
        answer="Give 0.3 μg/kg/day. [1]",
        abstained=False,
        statements=[Statement(text="Give 0.3 μg/kg/day.", citations=[1], group=None)],
        citations=[
            Citation(
                id=1,
                doc_id="b12",
                source="b12.txt",
                section="Dosing",
                start=10,
                end=29,
                text="Give 0.3 μg/kg/day.",
                score=0.91,
            )
        ],
        config_hash="cfg123",
        generator="extractive",
        latency_ms=42.0,
        confidence=0.8,
    )


@pytest.fixture
def audit(tmp_path: Path) -> Iterator[AuditLog]:
    log = AuditLog(f"sqlite:///{tmp_path / 'audit.db'}")
    yield log
    log.close()


# ---------------------------------------------------------------- migrations
def test_migrations_create_the_schema_at_head(audit: AuditLog) -> None:
    assert current_revision(audit.engine) == head_revision() == "0002_groups_drift"


def test_models_match_the_migrations(audit: AuditLog) -> None:
    with audit.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diffs == []


def test_reopening_migrates_idempotently_and_keeps_records(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    first = AuditLog(url)
    answer = make_answer()
    first.record_answer(answer, corpus_version="v1", role="local")
    first.close()
    second = AuditLog(url)
    assert second.get(answer.id).answer == answer.public()
    second.close()


def test_migrations_render_for_postgresql() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        command.upgrade(alembic_config("postgresql://medcite@db.invalid/medcite"), "head", sql=True)
    sql = out.getvalue()
    assert "CREATE TABLE audit_answers" in sql and "CREATE TABLE audit_reviews" in sql
    assert "TIMESTAMP WITH TIME ZONE" in sql and "JSON" in sql
    assert "REFERENCES audit_answers (id) ON DELETE CASCADE" in sql


def test_downgrade_removes_the_tables(audit: AuditLog) -> None:
    config = alembic_config()
    with audit.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert current_revision(audit.engine) is None


def test_database_url_setting_and_default(tmp_path: Path) -> None:
    settings = get_settings(tmp_path, database_url=None)
    assert default_database_url(settings) == f"sqlite:///{settings.data_dir / 'audit.db'}"
    pg = get_settings(tmp_path, database_url="postgresql+psycopg://u:p@host/db")
    assert default_database_url(pg) == "postgresql+psycopg://u:p@host/db"
    log = AuditLog.open(settings)
    try:
        assert (settings.data_dir / "audit.db").is_file()
    finally:
        log.close()


# ---------------------------------------------------------------- records and reviews
def test_recorded_answer_is_the_served_json(audit: AuditLog) -> None:
    answer = make_answer()
    record = audit.record_answer(answer, corpus_version="corpus-1", role="reader")
    assert record.answer == answer.public()
    assert (
        record.question == answer.question and record.role == "reader" and record.corpus_version == "corpus-1"
    )
    assert record.config_hash == "cfg123" and record.generator == "extractive" and not record.abstained
    assert record.status is ReviewStatus.SUBMITTED and record.history == []
    assert record.created_at.utcoffset() is not None


def test_review_workflow_and_history(audit: AuditLog) -> None:
    answer_id = audit.record_answer(make_answer(), corpus_version="v", role="local").id
    audit.review(
        answer_id, status=ReviewStatus.UNDER_REVIEW, reviewer="amy", role="reviewer", comment="looking"
    )
    record = audit.review(
        answer_id, status=ReviewStatus.REJECTED, reviewer="bo", role="admin", comment="wrong dose"
    )
    assert record.status is ReviewStatus.REJECTED
    assert [(e.previous_status, e.status, e.reviewer, e.role, e.comment) for e in record.history] == [
        (ReviewStatus.SUBMITTED, ReviewStatus.UNDER_REVIEW, "amy", "reviewer", "looking"),
        (ReviewStatus.UNDER_REVIEW, ReviewStatus.REJECTED, "bo", "admin", "wrong dose"),
    ]
    with pytest.raises(ReviewConflictError, match="final"):
        audit.review(answer_id, status=ReviewStatus.APPROVED, reviewer="cy", role="admin")
    assert len(audit.get(answer_id).history) == 2


def test_allowed_next() -> None:
    assert allowed_next(ReviewStatus.SUBMITTED) == [
        ReviewStatus.UNDER_REVIEW,
        ReviewStatus.APPROVED,
        ReviewStatus.REJECTED,
    ]
    assert allowed_next(ReviewStatus.UNDER_REVIEW) == [ReviewStatus.APPROVED, ReviewStatus.REJECTED]
    assert allowed_next(ReviewStatus.APPROVED) == [] and allowed_next(ReviewStatus.REJECTED) == []


def test_unknown_ids_raise_not_found(audit: AuditLog) -> None:
    with pytest.raises(NotFoundError):
        audit.get("nope")
    with pytest.raises(NotFoundError):
        audit.review("nope", status=ReviewStatus.APPROVED, reviewer="x", role="local")


def test_list_filters_pages_and_counts(audit: AuditLog) -> None:
    ids = [audit.record_answer(make_answer(f"q{i}"), corpus_version="v", role="local").id for i in range(4)]
    audit.review(ids[0], status=ReviewStatus.APPROVED, reviewer="r", role="local")
    records, total = audit.list()
    assert total == 4 and [r.id for r in records] == ids[::-1]
    approved, n = audit.list(ReviewStatus.APPROVED)
    assert n == 1 and [r.id for r in approved] == [ids[0]]
    page, total = audit.list(limit=2, offset=1)
    assert total == 4 and [r.id for r in page] == ids[::-1][1:3]
    assert audit.counts() == {"submitted": 3, "under_review": 0, "approved": 1, "rejected": 0}


def test_concurrent_decisions_on_one_answer_have_one_winner(audit: AuditLog) -> None:
    answer_id = audit.record_answer(make_answer(), corpus_version="v", role="local").id
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def decide(status: ReviewStatus) -> None:
        barrier.wait()
        try:
            audit.review(answer_id, status=status, reviewer="r", role="local")
            outcomes.append("ok")
        except ReviewConflictError:
            outcomes.append("conflict")

    threads = [
        threading.Thread(target=decide, args=(s,)) for s in [ReviewStatus.APPROVED, ReviewStatus.REJECTED] * 4
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["conflict"] * 7 + ["ok"]
    assert len(audit.get(answer_id).history) == 1


def test_concurrent_recording_loses_nothing(audit: AuditLog) -> None:
    errors: list[BaseException] = []

    def record_many() -> None:
        try:
            for _ in range(10):
                audit.record_answer(make_answer(), corpus_version="v", role="local")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=record_many) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert audit.list(limit=500)[1] == 60


def test_upgrade_from_0001_fills_groups_and_cited_documents(tmp_path: Path) -> None:
    """A log written before review groups and drift: the migration backfills both, keeping every record."""
    import json as _json

    from sqlalchemy import text

    from ingest.docstore import make_engine
    from qa_service.audit.grouping import group_key
    from qa_service.audit.migrate import upgrade as run_upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    run_upgrade(engine, "0001")
    served = {
        "id": "a1",
        "question": "Dose?",
        "answer": "Give 1 mg. [1]",
        "abstained": False,
        "abstain_reason": None,
        "statements": [{"text": "Give 1 mg.", "citations": [1]}],
        "citations": [
            {
                "id": 1,
                "doc_id": "doc-1",
                "source": "s.txt",
                "title": None,
                "section": None,
                "start": 0,
                "end": 10,
                "text": "Give 1 mg.",
                "score": 0.9,
            }
        ],
        "conflicts": [],
        "config_hash": "cfg",
        "generator": "extractive",
        "latency_ms": 1.0,
    }
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_answers (id, question, answer, abstained, generator, config_hash, corpus_version,"
                " role, status, created_at, updated_at) VALUES ('a1', 'Dose?', :a, 0, 'extractive', 'cfg', 'v1',"
                " 'local', 'approved', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            ),
            {"a": _json.dumps(served)},
        )
        conn.execute(
            text(
                "INSERT INTO audit_reviews (answer_id, from_status, to_status, reviewer, role, comment, created_at)"
                " VALUES ('a1', 'submitted', 'approved', 'Dr Old', 'local', 'fine', '2026-01-01 00:00:01')"
            )
        )
    engine.dispose()
    log = AuditLog(url)
    record = log.get("a1")
    assert record.status.value == "approved" and record.evidence_changed is False
    assert [(h.reviewer, h.event) for h in record.history] == [("Dr Old", "review")]  # history survives
    assert record.group_key == group_key("Dose?", "cfg", "v1", "extractive", served)
    assert log.stale_citations({"doc-1": "hash"}) == [("a1", "doc-1")]  # unknown hash: checked once
    log.close()
