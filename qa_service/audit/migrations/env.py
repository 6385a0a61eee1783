"""Alembic environment for the audit database.

Driven from code (``qa_service.audit.migrate``), never from an ``alembic.ini``:
the caller hands over an open connection in ``config.attributes["connection"]``
(online) or a URL in the ``sqlalchemy.url`` option (offline ``--sql`` mode).
Logging is left to the application (no ``fileConfig``).
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine, pool

from qa_service.audit.models import Base

config = context.config
target_metadata = Base.metadata
_OWN_TABLES = set(target_metadata.tables)


def _include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Autogenerate looks only at the audit's tables (the document store's may share the database)."""
    return type_ != "table" or name in _OWN_TABLES


# SQLite cannot ALTER most things in place: batch mode copies tables when a later migration needs it.
_OPTIONS: dict[str, Any] = {
    "target_metadata": target_metadata,
    "render_as_batch": True,
    "compare_type": True,
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
