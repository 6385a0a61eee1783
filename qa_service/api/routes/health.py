"""Operations: ``GET /health`` (the contract's object) and ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from qa_service.api.deps import ServicesDep
from qa_service.api.schemas import Health

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=Health)
def read_health(services: ServicesDep) -> dict[str, object]:
    """Liveness, store size (documents and chunks ingested), and the LLM if one is configured."""
    stats = services.engine.store.stats()
    body: dict[str, object] = {"status": "ok", "documents": stats["documents"], "chunks": stats["chunks"]}
    llm = services.engine.generator
    body["backends"] = {"llm": services.engine.settings.llm if llm is not None else None}
    if llm is not None:  # a cached probe: the model server is asked at most every 30 s
        problem = llm.health()
        body.update(llm_ok=problem is None, llm_error=problem)
    return body


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition format."}},
)
def read_metrics(services: ServicesDep) -> Response:
    """Request counts and latency histograms, answers and abstentions, uploads and reviews."""
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
