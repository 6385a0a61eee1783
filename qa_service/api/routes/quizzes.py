"""``POST /v1/quizzes``: multiple-choice items built from the ingested documents.

The quiz builder (``qa_service.quiz``) is imported on first use, so the service
runs without it and answers 503 with a clear reason until it is installed. A topic
the documents do not cover is a 409 (the request is well-formed; the corpus, as it
is now, cannot serve it), like asking an empty store.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, status

from ingest.errors import StoreError
from qa_service.api.deps import Reader, ServicesDep
from qa_service.api.openapi import errors
from qa_service.api.schemas import QuizRequest, QuizResponse

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["quizzes"])


class TopicNotCoveredError(StoreError):
    """The documents, as they are now, give no item on the topic (409)."""


@router.post(
    "/quizzes",
    response_model=QuizResponse,
    responses=errors(
        409,
        503,
        504,
        e409="Nothing has been ingested, or the documents do not cover the topic.",
        e503="Quiz builder missing.",
    ),
)
async def create_quiz(body: QuizRequest, services: ServicesDep, caller: Reader) -> dict[str, object]:
    """Build ``n`` multiple-choice items on ``topic``; each correct option is supported by its citations."""
    try:
        from qa_service.quiz import build_quiz
        from qa_service.quiz.errors import QuizError
    except ImportError:
        logger.warning("quiz builder not importable", exc_info=True)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="quizzes are not available: this installation has no quiz builder (qa_service.quiz)",
        ) from None

    def work() -> list[Any]:
        with services.gate.reading():
            try:
                return build_quiz(services.engine, body.topic, n=body.n, seed=body.seed)
            except QuizError as exc:
                raise TopicNotCoveredError(str(exc)) from None

    items = await services.run_bounded("the quiz", work)
    return {"items": [item.model_dump(mode="json") for item in items]}
