"""``GET /v1/search``: the best passages for a query."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from qa_service.api.deps import Reader, ServicesDep
from qa_service.api.schemas import SearchResponse
from qa_service.engine import MAX_K

router = APIRouter(prefix="/v1", tags=["search"])


@router.get(
    "/search",
    response_model=SearchResponse,
    responses={409: {"description": "Nothing has been ingested yet."}},
)
def search_passages(
    services: ServicesDep,
    caller: Reader,
    q: Annotated[str, Query(description="The query (1 to 2,000 characters after trimming).")],
    k: Annotated[int | None, Query(ge=1, le=MAX_K, description="Number of passages (default 5).")] = None,
) -> dict[str, object]:
    """Passages that best match ``q``, best first (hybrid dense + BM25 retrieval)."""
    with services.gate.reading():
        result = services.engine.search(q, k)
    return result.model_dump()
