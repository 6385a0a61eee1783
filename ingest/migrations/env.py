"""Alembic environment for the document store (documents, chunks, sentence vectors, store state).

Driven from code (``ingest.migrate``; see ``ingest.database.run_alembic_env``). Its revisions are
recorded in their own version table, so the store and the audit log (which has its own history in
``qa_service/audit/migrations``) can share one database.
"""

from __future__ import annotations

from ingest.database import run_alembic_env
from ingest.docstore import metadata
from ingest.migrate import VERSION_TABLE

run_alembic_env(metadata, VERSION_TABLE)
