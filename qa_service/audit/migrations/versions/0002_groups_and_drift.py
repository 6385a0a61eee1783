"""Review groups, named reviewers' event kinds, and evidence drift.

Adds to ``audit_answers`` the group key (backfilled for existing rows), ``evidence_changed`` and
``changed_citations``; to ``audit_reviews`` the event kind and the document an event is about; and
the table of documents each answer cites (backfilled from the stored answers, hashes unknown so the
next drift check reads them once).

Revision ID: 0002_groups_drift
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_groups_drift"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from qa_service.audit.grouping import group_key

    # Plain ADD COLUMNs, never a batch table copy: on SQLite a copy drops the old table, and with
    # foreign keys on, that DELETE would cascade to every review row. (So group_key stays nullable.)
    op.add_column("audit_answers", sa.Column("group_key", sa.String(64), nullable=True))
    op.add_column(
        "audit_answers",
        sa.Column("evidence_changed", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("audit_answers", sa.Column("changed_citations", sa.JSON(), nullable=True))
    op.add_column("audit_reviews", sa.Column("event", sa.String(32), nullable=False, server_default="review"))
    op.add_column("audit_reviews", sa.Column("document", sa.String(500), nullable=True))
    op.create_index("ix_audit_answers_group_key", "audit_answers", ["group_key"])
    op.create_table(
        "audit_cited_docs",
        sa.Column(
            "answer_id",
            sa.String(64),
            sa.ForeignKey("audit_answers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("doc_id", sa.String(200), primary_key=True),
        sa.Column("content_hash", sa.String(128), nullable=True),
    )
    op.create_index("ix_audit_cited_docs_doc", "audit_cited_docs", ["doc_id", "content_hash"])

    if not op.get_context().as_sql:  # backfill (online only; an offline script starts from empty tables)
        conn = op.get_bind()
        answers = sa.table(
            "audit_answers",
            sa.column("id", sa.String),
            sa.column("question", sa.Text),
            sa.column("answer", sa.JSON),
            sa.column("config_hash", sa.String),
            sa.column("corpus_version", sa.String),
            sa.column("generator", sa.String),
            sa.column("group_key", sa.String),
        )
        cited = sa.table(
            "audit_cited_docs", sa.column("answer_id", sa.String), sa.column("doc_id", sa.String)
        )
        rows = conn.execute(
            sa.select(
                answers.c.id,
                answers.c.question,
                answers.c.answer,
                answers.c.config_hash,
                answers.c.corpus_version,
                answers.c.generator,
            )
        ).all()
        for row in rows:
            answer = row.answer if isinstance(row.answer, dict) else json.loads(row.answer)
            key = group_key(row.question, row.config_hash, row.corpus_version, row.generator, answer)
            conn.execute(sa.update(answers).where(answers.c.id == row.id).values(group_key=key))
            docs = sorted({c["doc_id"] for c in answer.get("citations", []) if c.get("doc_id")})
            if docs:
                conn.execute(sa.insert(cited), [{"answer_id": row.id, "doc_id": d} for d in docs])


def downgrade() -> None:
    op.drop_index("ix_audit_cited_docs_doc", table_name="audit_cited_docs")
    op.drop_table("audit_cited_docs")
    op.drop_column("audit_reviews", "document")  # SQLite >= 3.35 drops columns in place
    op.drop_column("audit_reviews", "event")
    op.drop_index("ix_audit_answers_group_key", table_name="audit_answers")
    op.drop_column("audit_answers", "changed_citations")
    op.drop_column("audit_answers", "evidence_changed")
    op.drop_column("audit_answers", "group_key")
