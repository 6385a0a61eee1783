"""Alembic environment for the document store (documents, chunks, sentence vectors, store state).

Driven from code (``ingest.migrate``), never from an ``alembic.ini``: the caller
hands over an open connection in ``config.attributes["connection"]`` (online) or a
URL in the ``sqlalchemy.url`` option (offline ``--sql`` mode). Its revisions are
recorded in their own version table, so the store and the audit log (which has its
own history in ``qa_service/audit/migrations``) can share one database.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine, pool

from ingest.docstore import metadata

VERSION_TABLE = "medcite_store_version"

config = context.config
_OWN_TABLES = set(metadata.tables)


def _include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Autogenerate looks only at the store's own tables (the audit's may share the database)."""
    return type_ != "table" or name in _OWN_TABLES


# SQLite cannot ALTER most things in place: batch mode copies tables when a migration needs it.
_OPTIONS: dict[str, Any] = {
    "target_metadata": metadata,
    "render_as_batch": True,
    "compare_type": True,
    "version_table": VERSION_TABLE,
    "include_name": _include_name,
}


def run_migrations_offline() -> None:
    """Emit SQL for the URL's dialect without connecting."""
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, **_OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate over the connection the caller gave (or one made from the URL)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **_OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, **_OPTIONS)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
