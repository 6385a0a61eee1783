"""Alembic revision scripts of the audit database, oldest first."""
