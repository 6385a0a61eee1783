"""Run the audit database's Alembic migrations from code (no ``alembic.ini`` needed).

``upgrade(engine)`` brings any database (a new SQLite file, an existing
PostgreSQL schema) to the newest revision; the server calls it at start-up.
``alembic_config(url)`` also serves the ``alembic`` commands a maintainer runs by
hand, e.g. ``command.revision(alembic_config(url), autogenerate=True, message=...)``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from ingest.database import alembic_config_for, current_revision_of, head_revision_of, serialize_migrations

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic ``Config`` pointing at the packaged audit migrations (and at ``url`` when given)."""
    config: Config = alembic_config_for(MIGRATIONS_DIR, url)
    return config


def head_revision() -> str:
    """The newest audit revision shipped with this medcite."""
    return head_revision_of(MIGRATIONS_DIR)


def current_revision(engine: Engine) -> str | None:
    """The revision the audit database is at (None for an empty or pre-migration database)."""
    return current_revision_of(engine)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision`` in one transaction."""
    config = alembic_config()
    with engine.begin() as conn:
        serialize_migrations(conn)  # several API workers start at once on one PostgreSQL database
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    logger.info("audit database at revision %s", current_revision(engine))
