"""Tables of the audit log (SQLAlchemy 2 ORM): every answer served, and its review history.

Portable between SQLite (default, ``DATA_DIR/audit.db``) and PostgreSQL: JSON,
timezone-aware timestamps (stored as UTC, handed back timezone-aware on both),
and no database-specific types. The schema is created by the Alembic migrations
in ``qa_service/audit/migrations``; ``Base.metadata`` must match them (a test
compares the two).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class ReviewStatus(StrEnum):
    """Where an answer is in the review workflow."""

    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    REJECTED = "rejected"


# submitted -> under_review -> approved | rejected. A reviewer may also decide a
# submitted answer at once (a one-person quality team should not need two
# clicks); approved and rejected are final, so a decision is never silently
# overwritten: a second opinion is a new question, not an edit of the record.
TRANSITIONS: dict[ReviewStatus, frozenset[ReviewStatus]] = {
    ReviewStatus.SUBMITTED: frozenset(
        {ReviewStatus.UNDER_REVIEW, ReviewStatus.APPROVED, ReviewStatus.REJECTED}
    ),
    ReviewStatus.UNDER_REVIEW: frozenset({ReviewStatus.APPROVED, ReviewStatus.REJECTED}),
    ReviewStatus.APPROVED: frozenset(),
    ReviewStatus.REJECTED: frozenset(),
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the audit log; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the audit tables."""


class ReviewRow(Base):
    """One review action on an answer (the history is never edited, only appended to)."""

    __tablename__ = "audit_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    answer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("audit_answers.id", ondelete="CASCADE"), index=True, nullable=False
    )
    from_status: Mapped[str] = mapped_column(String(20), nullable=False)
    to_status: Mapped[str] = mapped_column(String(20), nullable=False)
    reviewer: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    # review | group_review | evidence_changed | recheck (see ReviewEvent)
    event: Mapped[str] = mapped_column(String(32), nullable=False, default="review", server_default="review")
    document: Mapped[str | None] = mapped_column(String(500), nullable=True)


class CitedDocRow(Base):
    """A document an answer cites, and its content hash as the answer saw it.

    The evidence-drift check compares these hashes with the store's: only answers whose cited
    documents changed since are re-read (NULL = not known yet, so checked once).
    """

    __tablename__ = "audit_cited_docs"
    __table_args__ = (Index("ix_audit_cited_docs_doc", "doc_id", "content_hash"),)

    answer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("audit_answers.id", ondelete="CASCADE"), primary_key=True
    )
    doc_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    content_hash: Mapped[str | None] = mapped_column(String(128), nullable=True)


class AnswerRow(Base):
    """One answer as it was served, with its current review status."""

    __tablename__ = "audit_answers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    question: Mapped[str] = mapped_column(Text, nullable=False)
    answer: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    abstained: Mapped[bool] = mapped_column(Boolean, nullable=False)
    generator: Mapped[str] = mapped_column(String(200), nullable=False)
    config_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    corpus_version: Mapped[str] = mapped_column(String(64), nullable=False)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    # Same question (normalised), configuration, corpus, generator and answer content: one review covers all.
    group_key: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)  # always written
    evidence_changed: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    changed_citations: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)

    reviews: Mapped[list[ReviewRow]] = relationship(
        order_by=ReviewRow.id, cascade="all, delete-orphan", lazy="selectin"
    )
