"""``GET /v1/search``: the best passages for a query."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AfterValidator

from qa_service.api.deps import Reader, ServicesDep
from qa_service.api.openapi import errors
from qa_service.api.schemas import QUESTION_PATTERN, SearchResponse, check_question
from qa_service.engine import MAX_K
from qa_service.models import SearchResult

router = APIRouter(prefix="/v1", tags=["search"])


@router.get(
    "/search",
    response_model=SearchResponse,
    responses=errors(409, 504, e409="Nothing has been ingested yet."),
)
async def search_passages(
    services: ServicesDep,
    caller: Reader,
    q: Annotated[
        str,
        Query(
            description="The query (1 to 2,000 characters after trimming).",
            json_schema_extra={"pattern": QUESTION_PATTERN},
        ),
        AfterValidator(check_question),
    ],
    k: Annotated[int | None, Query(ge=1, le=MAX_K, description="Number of passages (default 5).")] = None,
) -> dict[str, object]:
    """Passages that best match ``q``, best first (hybrid dense + BM25 retrieval)."""

    def work() -> SearchResult:
        with services.gate.reading():
            return services.engine.search(q, k)

    result = await services.run_bounded("the search", work)
    return result.model_dump()
