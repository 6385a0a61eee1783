"""``POST /v1/quizzes``: multiple-choice items built from the ingested documents.

The quiz builder (``qa_service.quiz``) is imported on first use, so the service
runs without it and answers 503 with a clear reason until it is installed.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, status

from qa_service.api.deps import Reader, ServicesDep
from qa_service.api.schemas import QuizRequest, QuizResponse

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["quizzes"])


@router.post(
    "/quizzes",
    response_model=QuizResponse,
    responses={
        409: {"description": "Nothing has been ingested yet."},
        503: {"description": "Quiz builder missing."},
    },
)
def create_quiz(body: QuizRequest, services: ServicesDep, caller: Reader) -> dict[str, object]:
    """Build ``n`` multiple-choice items on ``topic``; each correct option is supported by its citations."""
    try:
        from qa_service.quiz import build_quiz
    except ImportError:
        logger.warning("quiz builder not importable", exc_info=True)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="quizzes are not available: this installation has no quiz builder (qa_service.quiz)",
        ) from None
    with services.gate.reading():
        items = build_quiz(services.engine, body.topic, n=body.n, seed=body.seed)
    return {"items": [item.model_dump(mode="json") for item in items]}
