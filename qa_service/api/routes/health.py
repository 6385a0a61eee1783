"""Operations: ``GET /health`` (the contract's object) and ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from qa_service.api.deps import ServicesDep
from qa_service.api.schemas import Health

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=Health)
def read_health(services: ServicesDep) -> dict[str, object]:
    """Liveness and store size (documents and chunks ingested)."""
    stats = services.engine.store.stats()
    return {"status": "ok", "documents": stats["documents"], "chunks": stats["chunks"]}


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition format."}},
)
def read_metrics(services: ServicesDep) -> Response:
    """Request counts and latency histograms, answers and abstentions, uploads and reviews."""
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
