"""Alembic migrations of the audit database (run by :func:`qa_service.audit.migrate.upgrade`)."""
