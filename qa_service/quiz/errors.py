"""The quiz builder's error (kept light: the CLI imports it before any model is loaded)."""

from __future__ import annotations

from ingest.errors import MedciteError


class QuizError(MedciteError):
    """No quiz can be built for the request (topic not covered, or no item passes the checks)."""
