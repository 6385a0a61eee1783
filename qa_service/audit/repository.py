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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from pydantic import BaseModel, Field
from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from ingest.docstore import make_engine
from ingest.errors import MedciteError, NotFoundError
from ingest.settings import Settings
from qa_service.audit.grouping import group_key
from qa_service.audit.migrate import upgrade
from qa_service.audit.models import TRANSITIONS, AnswerRow, CitedDocRow, ReviewRow, ReviewStatus, utcnow
from qa_service.models import Answer

SYSTEM_REVIEWER = "medcite"  # who records events that no person made (evidence changed)
SYSTEM_ROLE = "system"
GROUP_IDS_SHOWN = 50

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
    event: str = Field(default="review", description="review | group_review | evidence_changed | recheck")
    document: str | None = Field(default=None, description="The document an evidence_changed event is about.")


class ReviewGroup(BaseModel):
    """Identical asks (see :mod:`qa_service.audit.grouping`)."""

    key: str
    size: int
    answer_ids: list[str]
    first_asked_at: datetime
    last_asked_at: datetime
    statuses: dict[str, int] = Field(
        default_factory=dict, description="How many of the asks are in each status."
    )


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
    group_key: str = ""
    evidence_changed: bool = False
    changed_citations: list[int] = Field(default_factory=list)
    group: ReviewGroup | None = None

    def cited_doc_ids(self) -> list[str]:
        """The documents the answer cites, in citation order."""
        return list(dict.fromkeys(c["doc_id"] for c in self.answer.get("citations", [])))


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
    def record_answer(
        self,
        answer: Answer,
        *,
        corpus_version: str,
        role: str,
        cited_hashes: dict[str, str] | None = None,
    ) -> AuditRecord:
        """Store a served answer; returns its record.

        ``cited_hashes`` maps each cited document to the content hash the answer saw (the drift check
        compares them with the store's later). It starts ``submitted``, also when an identical ask was
        already decided: that decision covered the asks it saw, and a later ask may be a second
        opinion (``medcite eval agreement`` reads reviewers' agreement from such records). Its group
        tells the reviewer how the identical asks were decided.
        """
        now = utcnow()
        public = answer.public()
        key = group_key(answer.question, answer.config_hash, corpus_version, answer.generator, public)
        row = AnswerRow(
            id=answer.id,
            question=answer.question,
            answer=public,
            abstained=answer.abstained,
            generator=answer.generator,
            config_hash=answer.config_hash,
            corpus_version=corpus_version,
            role=role,
            status=ReviewStatus.SUBMITTED.value,
            created_at=now,
            updated_at=now,
            group_key=key,
            evidence_changed=False,
            changed_citations=[],
        )
        hashes = cited_hashes or {}
        with self._writing() as session:
            session.add(row)
            session.flush()
            for doc_id in dict.fromkeys(c.doc_id for c in answer.citations):
                session.add(CitedDocRow(answer_id=answer.id, doc_id=doc_id, content_hash=hashes.get(doc_id)))
        logger.info("answer recorded", extra={"answer_id": answer.id, "abstained": answer.abstained})
        return self.get(answer.id)

    def review(
        self, answer_id: str, *, status: ReviewStatus, reviewer: str, role: str, comment: str | None = None
    ) -> AuditRecord:
        """Move an answer, and every identical ask in the same status, to ``status``.

        Raises NotFoundError or ReviewConflictError (invalid transition). The other members of the
        group get a ``group_review`` event with the same reviewer and comment, so each answer's
        history stays complete on its own.
        """
        with self._writing() as session:
            found = session.execute(
                select(AnswerRow.status, AnswerRow.group_key).where(AnswerRow.id == answer_id)
            ).first()
            if found is None:
                raise NotFoundError(f"no answer with id {answer_id!r}")
            current, key = found
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
            members = (
                session.execute(
                    select(AnswerRow.id).where(
                        AnswerRow.group_key == key, AnswerRow.id != answer_id, AnswerRow.status == seen.value
                    )
                )
                .scalars()
                .all()
            )
            for member in members:
                moved = session.execute(
                    update(AnswerRow)
                    .where(AnswerRow.id == member, AnswerRow.status == seen.value)
                    .values(status=status.value, updated_at=now)
                )
                if cast("CursorResult[Any]", moved).rowcount == 1:
                    session.add(
                        ReviewRow(
                            answer_id=member,
                            from_status=seen.value,
                            to_status=status.value,
                            reviewer=reviewer,
                            role=role,
                            comment=comment,
                            created_at=now,
                            event="group_review",
                        )
                    )
        logger.info(
            "answer reviewed",
            extra={"answer_id": answer_id, "status": status.value, "role": role, "group": len(members) + 1},
        )
        return self.get(answer_id)

    def add_event(
        self,
        answer_id: str,
        *,
        event: str,
        comment: str,
        reviewer: str = SYSTEM_REVIEWER,
        role: str = SYSTEM_ROLE,
        document: str | None = None,
    ) -> None:
        """Append a history event that does not change the status (e.g. a recheck)."""
        with self._writing() as session:
            current = session.execute(select(AnswerRow.status).where(AnswerRow.id == answer_id)).scalar()
            if current is None:
                raise NotFoundError(f"no answer with id {answer_id!r}")
            session.add(
                ReviewRow(
                    answer_id=answer_id,
                    from_status=current,
                    to_status=current,
                    reviewer=reviewer,
                    role=role,
                    comment=comment,
                    created_at=utcnow(),
                    event=event,
                    document=document,
                )
            )

    # -- evidence drift
    def stale_citations(self, current: dict[str, str]) -> list[tuple[str, str]]:
        """(answer id, doc id) pairs whose recorded document hash differs from ``current`` (doc id -> hash).

        A document missing from ``current`` was deleted; a NULL hash was never checked.
        """
        with self._sessions() as session:
            pairs = session.execute(select(CitedDocRow.doc_id, CitedDocRow.content_hash).distinct()).all()
            stale = [(d, h) for d, h in pairs if h is None or current.get(d) != h]
            out: list[tuple[str, str]] = []
            for doc_id, seen_hash in stale:
                query = select(CitedDocRow.answer_id).where(CitedDocRow.doc_id == doc_id)
                query = query.where(
                    CitedDocRow.content_hash.is_(None)
                    if seen_hash is None
                    else CitedDocRow.content_hash == seen_hash
                )
                out.extend((a, doc_id) for a in session.execute(query).scalars())
            return out

    def settle_citation(self, answer_id: str, doc_id: str, content_hash: str) -> None:
        """Record that ``answer_id``'s citations of ``doc_id`` were checked against ``content_hash``."""
        with self._writing() as session:
            session.execute(
                update(CitedDocRow)
                .where(CitedDocRow.answer_id == answer_id, CitedDocRow.doc_id == doc_id)
                .values(content_hash=content_hash)
            )

    def mark_evidence_changed(
        self,
        answer_id: str,
        *,
        doc_id: str,
        document: str,
        citations: list[int],
        content_hash: str,
        how: str,
    ) -> bool:
        """Flag an answer whose citations ``citations`` of ``doc_id`` changed or vanished.

        An approved answer moves back to ``submitted``; either way a history event names the
        document (``how`` says what happened to it). Returns False when nothing new was learnt
        (those citations were already flagged), so marking twice adds no second event.
        """
        with self._writing() as session:
            row = session.get(AnswerRow, answer_id)
            if row is None:
                return False
            session.execute(
                update(CitedDocRow)
                .where(CitedDocRow.answer_id == answer_id, CitedDocRow.doc_id == doc_id)
                .values(content_hash=content_hash)
            )
            known = set(row.changed_citations or [])
            new = sorted(set(citations) - known)
            if not new:
                return False
            now = utcnow()
            seen = ReviewStatus(row.status)
            target = ReviewStatus.SUBMITTED if seen is ReviewStatus.APPROVED else seen
            row.changed_citations = sorted(known | set(new))
            row.evidence_changed = True
            row.status = target.value
            row.updated_at = now
            shown = ", ".join(f"[{i}]" for i in new)
            comment = f"{document} was {how}: cited text {shown} changed or is gone"
            if target is not seen:
                comment += "; the approval no longer holds, so the answer is back in the review queue"
            session.add(
                ReviewRow(
                    answer_id=answer_id,
                    from_status=seen.value,
                    to_status=target.value,
                    reviewer=SYSTEM_REVIEWER,
                    role=SYSTEM_ROLE,
                    comment=comment,
                    created_at=now,
                    event="evidence_changed",
                    document=document,
                )
            )
        logger.info("evidence changed", extra={"answer_id": answer_id, "doc_id": doc_id, "citations": new})
        return True

    # -- reads
    def get(self, answer_id: str) -> AuditRecord:
        """One record with its history and group; raises NotFoundError."""
        with self._sessions() as session:
            row = session.get(AnswerRow, answer_id)
            if row is None:
                raise NotFoundError(f"no answer with id {answer_id!r}")
            record = _to_record(row)
            key = row.group_key or ""
            record.group = self._groups(session, [key]).get(key)
            return record

    def list(
        self,
        status: ReviewStatus | None = None,
        *,
        limit: int = 100,
        offset: int = 0,
        grouped: bool = False,
        evidence_changed: bool | None = None,
    ) -> tuple[list[AuditRecord], int]:
        """Records newest first, and how many match in total.

        With ``grouped``, one record per group of identical asks (its newest matching member) and
        the number of such groups. Filters: review ``status``, ``evidence_changed``.
        """
        conditions = []
        if status is not None:
            conditions.append(AnswerRow.status == status.value)
        if evidence_changed is not None:
            conditions.append(AnswerRow.evidence_changed.is_(evidence_changed))
        with self._sessions() as session:
            if not grouped:
                query = select(AnswerRow).where(*conditions)
                query = query.order_by(AnswerRow.created_at.desc(), AnswerRow.id).limit(limit).offset(offset)
                rows = list(session.execute(query).scalars().all())
                total = session.execute(
                    select(func.count()).select_from(AnswerRow).where(*conditions)
                ).scalar_one()
            else:
                last = func.max(AnswerRow.created_at).label("last")
                page = session.execute(
                    select(AnswerRow.group_key, last)
                    .where(*conditions)
                    .group_by(AnswerRow.group_key)
                    .order_by(last.desc(), AnswerRow.group_key)
                    .limit(limit)
                    .offset(offset)
                ).all()
                keys = [k for k, _ in page]
                newest: dict[str, AnswerRow] = {}
                if keys:
                    members = session.execute(
                        select(AnswerRow)
                        .where(AnswerRow.group_key.in_(keys), *conditions)
                        .order_by(AnswerRow.created_at.desc(), AnswerRow.id)
                    ).scalars()
                    for member in members:
                        newest.setdefault(member.group_key or "", member)
                rows = [newest[k] for k in keys if k in newest]
                total = session.execute(
                    select(func.count(func.distinct(AnswerRow.group_key))).where(*conditions)
                ).scalar_one()
            groups = self._groups(session, sorted({r.group_key or "" for r in rows}))
            records = []
            for row in rows:
                record = _to_record(row)
                record.group = groups.get(row.group_key or "")
                records.append(record)
            return records, int(total)

    @staticmethod
    def _groups(session: Session, keys: Sequence[str]) -> dict[str, ReviewGroup]:
        if not keys:
            return {}
        rows = session.execute(
            select(AnswerRow.group_key, AnswerRow.id, AnswerRow.created_at, AnswerRow.status)
            .where(AnswerRow.group_key.in_(keys))
            .order_by(AnswerRow.created_at.desc(), AnswerRow.id)
        ).all()
        out: dict[str, ReviewGroup] = {}
        for found, answer_id, created, status in rows:
            key = found or ""
            group = out.get(key)
            if group is None:
                out[key] = ReviewGroup(
                    key=key,
                    size=1,
                    answer_ids=[answer_id],
                    first_asked_at=created,
                    last_asked_at=created,
                    statuses={status: 1},
                )
                continue
            group.statuses[status] = group.statuses.get(status, 0) + 1
            group.size += 1
            group.first_asked_at = created
            if len(group.answer_ids) < GROUP_IDS_SHOWN:
                group.answer_ids.append(answer_id)
        return out

    def evidence_changed_ids(self) -> Sequence[str]:
        """Ids of every answer whose evidence changed, oldest first."""
        with self._sessions() as session:
            return tuple(
                session.execute(
                    select(AnswerRow.id)
                    .where(AnswerRow.evidence_changed.is_(True))
                    .order_by(AnswerRow.created_at, AnswerRow.id)
                ).scalars()
            )

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
        group_key=row.group_key or "",
        evidence_changed=bool(row.evidence_changed),
        changed_citations=list(row.changed_citations or []),
        history=[
            ReviewEvent(
                status=ReviewStatus(r.to_status),
                previous_status=ReviewStatus(r.from_status),
                reviewer=r.reviewer,
                role=r.role,
                comment=r.comment,
                at=r.created_at,
                event=r.event or "review",
                document=r.document,
            )
            for r in row.reviews
        ],
    )
