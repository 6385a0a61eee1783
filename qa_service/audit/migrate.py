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
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from ingest.database import serialize_migrations

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic ``Config`` pointing at the packaged migrations (and at ``url`` when given)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        # ConfigParser interpolation: a literal % in a password must be doubled.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision shipped with this medcite."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no audit migrations packaged"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision`` in one transaction."""
    config = alembic_config()
    with engine.begin() as conn:
        serialize_migrations(conn)  # several API workers start at once on one PostgreSQL database
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    logger.info("audit database at revision %s", current_revision(engine))
