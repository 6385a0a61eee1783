"""The audit log: every answer served, with its review status and history (SQLAlchemy + Alembic)."""

from qa_service.audit.models import TRANSITIONS, ReviewStatus
from qa_service.audit.repository import (
    AuditLog,
    AuditRecord,
    ReviewConflictError,
    ReviewEvent,
    ReviewGroup,
    allowed_next,
    default_database_url,
)

__all__ = [
    "TRANSITIONS",
    "AuditLog",
    "AuditRecord",
    "ReviewConflictError",
    "ReviewEvent",
    "ReviewGroup",
    "ReviewStatus",
    "allowed_next",
    "default_database_url",
]
