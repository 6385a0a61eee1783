"""Request ids, JSON access log lines and Prometheus metrics (one pure ASGI middleware).

Each request gets an id (a well-formed incoming ``X-Request-ID`` is kept, anything
else replaced), set in :data:`qa_service.logs.request_id_var` for every log line
written while serving it and echoed in the response header. The access line
holds method, path, status and latency only: never a query string or body,
which can carry a question (patient data).
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from prometheus_client import CollectorRegistry, Counter, Histogram, PlatformCollector, ProcessCollector
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa_service.logs import request_id_var

logger = logging.getLogger("qa_service.api.access")

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The service's Prometheus metrics, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.requests = Counter(
            "medcite_http_requests_total",
            "HTTP requests served.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "medcite_http_request_duration_seconds",
            "Time to serve an HTTP request.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.answers = Counter(
            "medcite_answers_total", "Answers served by POST /v1/ask.", ["outcome"], registry=self.registry
        )
        self.answer_latency = Histogram(
            "medcite_answer_duration_seconds",
            "Engine time per answer.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ingested = Counter(
            "medcite_ingested_files_total",
            "Files uploaded through the API, by result.",
            ["result"],
            registry=self.registry,
        )
        self.reviews = Counter(
            "medcite_reviews_total", "Review status changes.", ["status"], registry=self.registry
        )
        for outcome in ("answered", "abstained"):
            self.answers.labels(outcome=outcome)  # present at 0 before the first ask


def route_label(scope: Scope) -> str:
    """The matched route template (``/v1/documents/{doc_id}``), never the raw path (unbounded labels)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if scope.get("path", "").startswith("/static/"):
        return "/static"
    return "unmatched"


class ObservabilityMiddleware:
    """Request id, access log line and request metrics for every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500  # if the app dies before answering, that is what the client sees
        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                started_response = True
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.lower().encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # A bug, not bad input. Answered here, where the request id is still known, so the
            # user can quote it and the traceback in the log carries the same id.
            logger.exception("unhandled error", extra={"request_id": request_id})
            if started_response:
                raise
            detail = f"internal error; quote request id {request_id} when reporting it"
            await JSONResponse({"detail": detail}, status_code=500)(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_label(scope)
            method = scope.get("method", "?")
            self.metrics.requests.labels(method=method, route=route, status=str(status)).inc()
            self.metrics.latency.labels(method=method, route=route).observe(elapsed)
            logger.info(
                "request",
                extra={
                    "request_id": request_id,  # on the record itself: a queued handler formats it later
                    "method": method,
                    "path": scope.get("path", ""),
                    "route": route,
                    "status": status,
                    "latency_ms": round(elapsed * 1000, 2),
                },
            )
            request_id_var.reset(token)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _VALID_ID.match(candidate) else None
    return None
