"""Operations: ``GET /health`` (the contract's object) and ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from qa_service.api.deps import ServicesDep
from qa_service.api.schemas import Health

router = APIRouter(tags=["operations"])


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "A backend does not answer."}},
)
def read_health(services: ServicesDep) -> object:
    """Liveness, store size, which backends are in use and whether each answers (503 when one does not).

    The LLM is reported apart (``llm_ok``, ``llm_error``): without it answers are still served (the
    extractive fallback), so a model server that is down does not make the service unavailable.
    """
    store = services.engine.store
    reachable = store.backend_status()
    llm = services.engine.generator
    backends = {**store.backends(), "llm": services.engine.settings.llm if llm is not None else None}
    llm_status: dict[str, object] = {}
    if llm is not None:  # a cached probe: the model server is asked at most every few seconds
        problem = llm.health()
        llm_status = {"llm_ok": problem is None, "llm_error": problem}
    if not all(reachable.values()):
        body = {
            "status": "unavailable",
            "documents": 0,
            "chunks": 0,
            "backends": backends,
            "reachable": reachable,
        }
        return JSONResponse(Health.model_validate({**body, **llm_status}).model_dump(), status_code=503)
    stats = store.stats()
    return {"status": "ok", **stats, "backends": backends, "reachable": reachable, **llm_status}


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition format."}},
)
def read_metrics(services: ServicesDep) -> Response:
    """Request counts and latency histograms, answers and abstentions, uploads and reviews."""
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
