"""The quiz builder's error (kept light: the CLI imports it before any model is loaded)."""

from __future__ import annotations

from typing import Any

from ingest.errors import MedciteError


class QuizError(MedciteError):
    """No quiz can be built for the request (topic not covered, or no item passes the checks).

    ``report`` carries the rejected candidates when there were any (``medcite quiz --explain``).
    """

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report
