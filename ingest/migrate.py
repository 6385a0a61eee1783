"""Run the document store's Alembic migrations from code (no ``alembic.ini`` needed).

``upgrade(engine)`` brings any store database to the newest revision: a new
SQLite file, a PostgreSQL database (shared with the audit log or not), or a store
written before the store had migrations (its tables are exactly revision 0001:
it is stamped there, then upgraded, and nothing stored is touched but the
counter's new home). ``alembic_config(url)`` also serves the ``alembic`` commands
a maintainer runs by hand, e.g.
``command.revision(alembic_config(url), autogenerate=True, message=...)``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, inspect

from ingest.database import alembic_config_for, current_revision_of, head_revision_of, serialize_migrations

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "medcite_store_version"
LEGACY_REVISION = "0001"  # the layout of stores written before migrations ("layout version 1")


def alembic_config(url: str | None = None) -> Config:
    """An Alembic ``Config`` pointing at the packaged store migrations (and at ``url`` when given)."""
    config: Config = alembic_config_for(MIGRATIONS_DIR, url)
    return config


def head_revision() -> str:
    """The newest store revision shipped with this medcite."""
    return head_revision_of(MIGRATIONS_DIR)


def current_revision(engine: Engine) -> str | None:
    """The revision the store database is at (None for an empty or pre-migration database)."""
    return current_revision_of(engine, VERSION_TABLE)


def _is_legacy(conn: Connection) -> bool:
    """A store written before migrations: the tables exist, the version table does not."""
    tables = set(inspect(conn).get_table_names())
    return "documents" in tables and VERSION_TABLE not in tables


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the store database behind ``engine`` to ``revision`` in one transaction."""
    config = alembic_config()
    with engine.begin() as conn:
        serialize_migrations(conn)
        config.attributes["connection"] = conn
        if _is_legacy(conn):
            logger.info("store written before migrations: stamping it at revision %s", LEGACY_REVISION)
            command.stamp(config, LEGACY_REVISION)
        command.upgrade(config, revision)
    logger.info("document store at revision %s", current_revision(engine))
