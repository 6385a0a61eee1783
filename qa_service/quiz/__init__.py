"""Quiz builder for medical educators: multiple-choice items whose keys cite their source sentence.

``build_quiz(engine, topic, n=5, seed=0) -> list[QuizItem]``. When the corpus does
not cover the topic it raises :class:`QuizError` (a ``MedciteError``: CLI exit 1,
HTTP 4xx) rather than returning items made up or an empty list. Exports live in
:mod:`qa_service.quiz.export`, the ``medcite quiz`` command in :mod:`qa_service.quiz.cli`.

Importing this package is cheap (``medcite --help`` registers the command); the
generator and its dependencies load on the first ``build_quiz`` call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qa_service.quiz.errors import QuizError

if TYPE_CHECKING:
    from qa_service.models import QuizItem

MIN_ITEMS, MAX_ITEMS = 1, 50

__all__ = ["MAX_ITEMS", "MIN_ITEMS", "QuizError", "build_quiz"]


def build_quiz(engine: Any, topic: str, n: int = 5, seed: int = 0) -> list[QuizItem]:
    """Up to ``n`` cited multiple-choice items on ``topic``; see :func:`qa_service.quiz.generate.build_quiz`.

    Raises:
        UsageError: empty or over-long topic, ``n`` outside 1..50.
        QuizError: the corpus does not cover the topic, or no item passes the checks.
    """
    from qa_service.quiz.generate import build_quiz as _build

    return _build(engine, topic, n=n, seed=seed)
