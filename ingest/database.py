"""The relational database behind the store: one SQLAlchemy URL, SQLite or PostgreSQL, same code.

``MEDCITE_DATABASE_URL`` names it (``postgresql+psycopg://user:pass@host/db``):
documents, chunks, sections, sentence vectors and the audit log then all live
there, and any number of medcite processes on any machines share them. Unset,
the embedded default is SQLite under the data dir (``documents.db`` for the
store, ``audit.db`` for the audit log, as stores written before kept them).

Failures a person can act on become one-line :class:`StoreError` messages: the
PostgreSQL driver not installed, the server not answering at start-up.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from ingest.errors import StoreError

logger = logging.getLogger(__name__)

POSTGRES_EXTRA = "pip install -e '.[postgres]'"


def backend_name(url: str) -> str:
    """``"sqlite"`` or ``"postgresql"`` (the ``/health`` name of the documents backend)."""
    return make_url(url).get_backend_name()


def redact(url: str) -> str:
    """The URL without its password (for messages and logs)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<malformed URL>"


def store_url(database_url: str | None, data_dir: Path) -> str:
    """The document store's URL: ``MEDCITE_DATABASE_URL``, else ``DATA_DIR/documents.db``."""
    return database_url or f"sqlite:///{data_dir / 'documents.db'}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _check_driver(url: str) -> None:
    """A clear message instead of ``ModuleNotFoundError: No module named 'psycopg'`` deep in a lifespan."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"MEDCITE_DATABASE_URL is not a database URL: {url!r}") from None
    if parsed.get_backend_name() != "postgresql":
        return
    driver = parsed.get_driver_name()
    module = {"psycopg": "psycopg", "psycopg2": "psycopg2", "asyncpg": "asyncpg"}.get(driver, driver)
    if importlib.util.find_spec(module) is None:
        raise StoreError(
            f"MEDCITE_DATABASE_URL uses PostgreSQL through {driver}, which is not installed: "
            f"run {POSTGRES_EXTRA} (and use a postgresql+psycopg:// URL)"
        )


def make_engine(url: str) -> Engine:
    """An engine with the settings measured to work under concurrency (../shared/PITFALLS.md §6).

    SQLite: WAL, a 30 s busy timeout and foreign keys. PostgreSQL: connections are
    checked before use (a restarted server does not fail the next request) and a
    connect timeout keeps an unreachable server from hanging start-up.
    """
    _check_driver(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if make_url(url).get_driver_name() == "psycopg":
        connect_args = {"connect_timeout": 10, "application_name": "medcite"}
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=connect_args)


def check_connection(engine: Engine) -> None:
    """Raise a one-line StoreError when the database does not answer."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0] if (exc.orig or exc) else "no answer"
        raise StoreError(f"cannot reach the database at {redact(str(engine.url))}: {reason}") from None


def ping(engine: Engine) -> bool:
    """Whether the database answers now (for ``/health``; never raises)."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


# Keys of PostgreSQL advisory locks (any two distinct bigints; fixed so every process agrees).
MIGRATION_LOCK = 0x6D6564636974_01  # "medcit" + 1: schema migrations, one process at a time
WRITE_LOCK = 0x6D6564636974_02  # ingest and delete: one writer of the store at a time


def serialize_migrations(conn: Any) -> None:
    """Inside a migration transaction: wait for any other process migrating the same PostgreSQL database.

    Several API workers start at once against one database; without this, two of them
    run ``CREATE TABLE`` together and one start-up fails. The lock ends with the
    transaction. SQLite serialises writers by itself.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})


def alembic_config_for(migrations_dir: Path, url: str | None = None) -> Any:
    """An Alembic ``Config`` pointing at a package's migrations (and at ``url`` when given): the document
    store's and the audit log's, driven from code (no ``alembic.ini``)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    if url:
        # ConfigParser interpolation: a literal % in a password must be doubled.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision_of(migrations_dir: Path) -> str:
    """The newest revision of a package's migrations shipped with this medcite."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config_for(migrations_dir)).get_current_head()
    assert head is not None, f"no migrations packaged in {migrations_dir}"
    return head


def current_revision_of(engine: Engine, version_table: str | None = None) -> str | None:
    """The revision a database is at in ``version_table`` (None for an empty or pre-migration database)."""
    from alembic.runtime.migration import MigrationContext

    opts = {"version_table": version_table} if version_table else {}
    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts=opts).get_current_revision()


def run_alembic_env(metadata: Any, version_table: str | None = None) -> None:
    """The body of a package's Alembic ``env.py`` (the document store's and the audit log's).

    Driven from code, never from an ``alembic.ini``: the caller hands over an open connection in
    ``config.attributes["connection"]`` (online) or a URL in the ``sqlalchemy.url`` option (offline
    ``--sql`` mode). Autogenerate looks only at ``metadata``'s own tables, since the store and the
    audit log may share one database; SQLite cannot ALTER most things in place, so batch mode copies
    tables when a migration needs it.
    """
    from alembic import context
    from sqlalchemy import pool

    config = context.config
    own_tables = set(metadata.tables)

    def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
        return type_ != "table" or name in own_tables

    options: dict[str, Any] = {
        "target_metadata": metadata,
        "render_as_batch": True,
        "compare_type": True,
        "include_name": include_name,
    }
    if version_table is not None:
        options["version_table"] = version_table
    if context.is_offline_mode():  # emit SQL for the URL's dialect without connecting
        context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, **options)
        with context.begin_transaction():
            context.run_migrations()
