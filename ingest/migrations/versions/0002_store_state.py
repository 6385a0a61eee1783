"""The change counter as an integer that many processes can bump atomically.

Layout 1 kept the generation as text in ``meta`` and bumped it by read-then-write,
which loses increments when two PostgreSQL sessions change the store at once.
``store_state.value`` is bumped with ``UPDATE ... SET value = value + 1``. The
``meta`` row ``schema`` becomes "2", so an older medcite refuses the upgraded
store instead of writing the counter where nothing reads it any more.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain SQL (valid on SQLite and PostgreSQL), so that ``alembic upgrade --sql`` can render it too.


def upgrade() -> None:
    op.create_table(
        "store_state",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    op.execute(
        "INSERT INTO store_state (name, value) "
        "SELECT 'generation', CAST(value AS BIGINT) FROM meta WHERE key = 'generation'"
    )
    op.execute(
        "INSERT INTO store_state (name, value) SELECT 'generation', 0 "
        "WHERE NOT EXISTS (SELECT 1 FROM store_state WHERE name = 'generation')"
    )
    op.execute("DELETE FROM meta WHERE key IN ('generation', 'schema')")
    op.execute("INSERT INTO meta (key, value) VALUES ('schema', '2')")


def downgrade() -> None:
    op.execute("DELETE FROM meta WHERE key IN ('generation', 'schema')")
    op.execute(
        "INSERT INTO meta (key, value) "
        "SELECT 'generation', CAST(value AS VARCHAR(20)) FROM store_state WHERE name = 'generation'"
    )
    op.execute("INSERT INTO meta (key, value) VALUES ('schema', '1')")
    op.drop_table("store_state")
