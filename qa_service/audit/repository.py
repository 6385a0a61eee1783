"""The audit log: store every served answer, list it, and move it through review.

All database access of the audit lives here; the HTTP layer only translates
:class:`AuditRecord` to its response schema. Writes are safe under concurrency:
a status change is a compare-and-set (``UPDATE ... WHERE status = <seen>``), so
two reviewers acting at once cannot both win (the loser gets a 409), and within
one process writes are serialised so SQLite never has to upgrade a stale read
transaction (which fails immediately with "database is locked").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from pydantic import BaseModel, Field
from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from ingest.docstore import make_engine
from ingest.errors import MedciteError, NotFoundError
from ingest.settings import Settings
from qa_service.audit.migrate import upgrade
from qa_service.audit.models import TRANSITIONS, AnswerRow, ReviewRow, ReviewStatus, utcnow
from qa_service.models import Answer

logger = logging.getLogger(__name__)


class ReviewConflictError(MedciteError):
    """The review status change is not allowed from the answer's current status."""

    http_status = 409


class ReviewEvent(BaseModel):
    """One step of an answer's review history."""

    status: ReviewStatus = Field(description="Status the answer moved to.")
    previous_status: ReviewStatus = Field(description="Status it had before.")
    reviewer: str
    role: str = Field(description="Role of the API key that made the change ('local' without keys).")
    comment: str | None = None
    at: datetime


class AuditRecord(BaseModel):
    """An answer as it was served, with its review status and history."""

    id: str
    question: str
    answer: dict[str, Any] = Field(description="The Answer JSON exactly as served.")
    abstained: bool
    generator: str
    config_hash: str
    corpus_version: str
    role: str
    status: ReviewStatus
    created_at: datetime
    updated_at: datetime
    history: list[ReviewEvent] = Field(default_factory=list)


def default_database_url(settings: Settings) -> str:
    """``MEDCITE_DATABASE_URL``, else SQLite at ``DATA_DIR/audit.db``."""
    return settings.database_url or f"sqlite:///{settings.data_dir / 'audit.db'}"


def allowed_next(status: ReviewStatus) -> list[ReviewStatus]:
    """Statuses an answer in ``status`` may move to, in workflow order."""
    return [s for s in ReviewStatus if s in TRANSITIONS[status]]


class AuditLog:
    """Repository over the audit database (migrated to the newest schema on open)."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if migrate:
            upgrade(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings) -> AuditLog:
        """The audit log the settings name (creating and migrating it as needed)."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(default_database_url(settings))

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        with self._write_lock, self._sessions() as session, session.begin():
            yield session

    # -- writes
    def record_answer(self, answer: Answer, *, corpus_version: str, role: str) -> AuditRecord:
        """Store a served answer (status ``submitted``); returns its record."""
        now = utcnow()
        row = AnswerRow(
            id=answer.id,
            question=answer.question,
            answer=answer.public(),
            abstained=answer.abstained,
            generator=answer.generator,
            config_hash=answer.config_hash,
            corpus_version=corpus_version,
            role=role,
            status=ReviewStatus.SUBMITTED.value,
            created_at=now,
            updated_at=now,
        )
        with self._writing() as session:
            session.add(row)
        logger.info("answer recorded", extra={"answer_id": answer.id, "abstained": answer.abstained})
        return self.get(answer.id)

    def review(
        self, answer_id: str, *, status: ReviewStatus, reviewer: str, role: str, comment: str | None = None
    ) -> AuditRecord:
        """Move an answer to ``status``; raises NotFoundError or ReviewConflictError (invalid transition)."""
        with self._writing() as session:
            current = session.execute(select(AnswerRow.status).where(AnswerRow.id == answer_id)).scalar()
            if current is None:
                raise NotFoundError(f"no answer with id {answer_id!r}")
            seen = ReviewStatus(current)
            if status not in TRANSITIONS[seen]:
                allowed = ", ".join(allowed_next(seen)) or "none: the review is final"
                raise ReviewConflictError(
                    f"answer {answer_id} is {seen.value}; "
                    f"it cannot move to {status.value} (allowed: {allowed})"
                )
            now = utcnow()
            result = session.execute(
                update(AnswerRow)
                .where(AnswerRow.id == answer_id, AnswerRow.status == seen.value)
                .values(status=status.value, updated_at=now)
            )
            changed = cast("CursorResult[Any]", result).rowcount
            if changed != 1:  # another process changed it between our read and write (PostgreSQL)
                raise ReviewConflictError(
                    f"answer {answer_id} was reviewed by someone else at the same time; reload it"
                )
            session.add(
                ReviewRow(
                    answer_id=answer_id,
                    from_status=seen.value,
                    to_status=status.value,
                    reviewer=reviewer,
                    role=role,
                    comment=comment,
                    created_at=now,
                )
            )
        logger.info("answer reviewed", extra={"answer_id": answer_id, "status": status.value, "role": role})
        return self.get(answer_id)

    # -- reads
    def get(self, answer_id: str) -> AuditRecord:
        """One record with its history; raises NotFoundError."""
        with self._sessions() as session:
            row = session.get(AnswerRow, answer_id)
            if row is None:
                raise NotFoundError(f"no answer with id {answer_id!r}")
            return _to_record(row)

    def list(
        self, status: ReviewStatus | None = None, *, limit: int = 100, offset: int = 0
    ) -> tuple[list[AuditRecord], int]:
        """Records newest first (optionally of one status), and how many match in total."""
        query = select(AnswerRow)
        count = select(func.count()).select_from(AnswerRow)
        if status is not None:
            query = query.where(AnswerRow.status == status.value)
            count = count.where(AnswerRow.status == status.value)
        query = query.order_by(AnswerRow.created_at.desc(), AnswerRow.id).limit(limit).offset(offset)
        with self._sessions() as session:
            rows = session.execute(query).scalars().all()
            total = session.execute(count).scalar_one()
            return [_to_record(r) for r in rows], int(total)

    def counts(self) -> dict[str, int]:
        """Number of records per status (every status present, zeros included)."""
        with self._sessions() as session:
            found = dict(
                session.execute(select(AnswerRow.status, func.count()).group_by(AnswerRow.status)).all()
            )
        return {s.value: int(found.get(s.value, 0)) for s in ReviewStatus}


def _to_record(row: AnswerRow) -> AuditRecord:
    return AuditRecord(
        id=row.id,
        question=row.question,
        answer=row.answer,
        abstained=row.abstained,
        generator=row.generator,
        config_hash=row.config_hash,
        corpus_version=row.corpus_version,
        role=row.role,
        status=ReviewStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        history=[
            ReviewEvent(
                status=ReviewStatus(r.to_status),
                previous_status=ReviewStatus(r.from_status),
                reviewer=r.reviewer,
                role=r.role,
                comment=r.comment,
                at=r.created_at,
            )
            for r in row.reviews
        ],
    )
