"""Alembic environment for the audit database.

Driven from code (``qa_service.audit.migrate``; see ``ingest.database.run_alembic_env``). Its
revisions are in Alembic's default version table. Logging is left to the application (no
``fileConfig``).
"""

from __future__ import annotations

from ingest.database import run_alembic_env
from qa_service.audit.models import Base

run_alembic_env(Base.metadata)
