"""The FastAPI application factory.

``create_app(settings)`` builds the app; its lifespan opens the Engine (model,
Chroma, document store) and the audit log once, migrates the audit database, and
hands them to routes through ``Depends`` (:mod:`qa_service.api.deps`). Tests
pass an already-open ``engine``; the app then neither opens nor closes it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.staticfiles import StaticFiles

from ingest.settings import Settings
from qa_service.api.deps import Services
from qa_service.api.errors import install_error_handlers
from qa_service.api.gate import StoreGate
from qa_service.api.limits import BodyLimitMiddleware, BodyLimits
from qa_service.api.observability import Metrics, ObservabilityMiddleware
from qa_service.api.openapi import install_openapi
from qa_service.api.ratelimit import RateLimiter
from qa_service.api.routes import answers, ask, documents, health, me, quizzes, search, ui
from qa_service.api.security import Permission, SecurityHeadersMiddleware, parse_api_keys
from qa_service.api.uploads import UploadArea
from qa_service.audit import AuditLog
from qa_service.audit.drift import check_drift
from qa_service.engine import Engine

logger = logging.getLogger(__name__)

JSON_BODY_LIMIT = 1024 * 1024  # JSON requests are a question or a review: 1 MiB is plenty
MULTIPART_OVERHEAD = 1024 * 1024

DESCRIPTION = """\
Evidence-grounded answers to clinical questions: every statement cites the exact source sentence
(document, section, character span), or the service abstains and shows the nearest evidence.

**Auth.** When the server runs with `MEDCITE_API_KEYS` (`key:role` or `key:role:holder name`,
comma-separated), every `/v1` call needs an `X-API-Key` header. Roles: `reader` (ask, search, read
documents, quizzes), `editor` (reader + upload and delete documents), `reviewer` (reader + audit log
and reviews), `admin` (everything).
Missing or unknown key: 401; role too low: 403; more requests than the key's rate (`MEDCITE_RATE_LIMIT`):
429 with `Retry-After`. Without keys the server only listens on loopback and needs no key.

**Audit.** Every answer served by `POST /v1/ask` is recorded (question, full answer, config hash, corpus
version, time, role) and can be reviewed: `submitted` → `under_review` → `approved` | `rejected`
(a submitted answer may be approved or rejected directly). Identical asks (same question, configuration
and corpus) form a group that one review covers. With named keys the reviewer is the key's holder.

**Evidence drift.** When a document is updated or deleted, every logged answer whose cited text changed
or vanished is marked `evidence_changed` (with `changed_citations`); an approved one returns to
`submitted`. `POST /v1/answers/{id}/recheck` asks it again and shows what changed.

**Timeouts.** An ask, search, quiz or recheck that runs longer than `MEDCITE_REQUEST_TIMEOUT_S` is
answered 504.

The web UI is at `/`.
"""


def _version() -> str:
    try:
        return version("medcite")
    except PackageNotFoundError:  # running from a source tree without install
        return "0"


def _make_fastapi(**kwargs: Any) -> FastAPI:
    """FastAPI whose /docs and /redoc use bundled assets (the machines are offline), when available."""
    try:
        from fastapi_offline import FastAPIOffline
    except ImportError:
        logger.warning("fastapi-offline is not installed: /docs will try to load Swagger UI from a CDN")
        return FastAPI(**kwargs)
    return FastAPIOffline(static_url="/static-docs", **kwargs)


def create_app(settings: Settings, engine: Engine | None = None, *, public_url: str | None = None) -> FastAPI:
    """Build the HTTP service.

    Args:
        settings: API settings (keys, upload limits, audit database); also used to
            open the Engine when ``engine`` is None.
        engine: An open Engine to serve (tests); the app does not close it.
        public_url: Where the server listens, recorded as the data-dir owner so a
            CLI refused by the lock can point the user to the API.

    Returns:
        The FastAPI app; its lifespan opens the Engine and the audit log.

    Raises:
        UsageError: ``MEDCITE_API_KEYS`` is malformed.
    """
    keys = parse_api_keys(settings.api_keys)  # fail before loading anything
    limiter = RateLimiter(settings.rate_limit, settings.rate_limit_storage)
    metrics = Metrics()
    upload_total = settings.max_upload_mb * settings.max_upload_files * 1024 * 1024 + MULTIPART_OVERHEAD

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        served = engine
        if served is None:
            owner = {"command": "serve", "url": public_url or "http://127.0.0.1"}
            served = await run_in_threadpool(lambda: Engine.open(settings, owner=owner))
        audit: AuditLog | None = None
        services: Services | None = None
        try:
            audit = await run_in_threadpool(AuditLog.open, settings)
            services = Services(
                settings=settings,
                engine=served,
                audit=audit,
                keys=keys,
                gate=StoreGate(),
                uploads=UploadArea(served.store.data_dir / "uploads"),
                metrics=metrics,
                limiter=limiter,
            )
            await run_in_threadpool(services.uploads.recover)
            # Documents may have changed while no server watched (a CLI ingest that could not reach the
            # audit log, a crash between a change and its check): flag what the change affected.
            await run_in_threadpool(check_drift, audit, served.store)
            await run_in_threadpool(_warm_up, services)
            app.state.services = services
            logger.info(
                "service ready", extra={"documents": served.store.stats()["documents"], "auth": keys.enabled}
            )
            yield
        finally:
            app.state.services = None
            if services is not None:
                services.writer.shutdown(wait=True)
            if audit is not None:
                audit.close()
            if own_engine:
                served.close()

    app = _make_fastapi(
        title="medcite",
        version=_version(),
        summary="Clinical question answering in which every statement cites its source sentence.",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    limits = BodyLimits(
        json_bytes=JSON_BODY_LIMIT,
        upload_bytes=upload_total,
        upload_rule=f"at most {settings.max_upload_files} files of {settings.max_upload_mb} MB each",
    )
    install_error_handlers(app, limits)
    install_openapi(
        app,
        auth=keys.enabled,
        rate_limited=keys.enabled and limiter.enabled,
        named_reviewers=keys.all_named(Permission.REVIEW),
        llm=bool(settings.llm) or (engine is not None and engine.generator is not None),
    )
    app.add_middleware(BodyLimitMiddleware, limits=limits)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(
        ObservabilityMiddleware, metrics=metrics
    )  # outermost: sees every response, even errors

    # Limits per router, not app-wide: FastAPI puts an app-wide limit outside our middleware, where it
    # would answer 413 in plain text; BodyLimitMiddleware answers declared sizes first, in JSON.
    for router in (
        health.router,
        ask.router,
        search.router,
        answers.router,
        quizzes.router,
        me.router,
        ui.router,
    ):
        app.include_router(router, max_body_size=JSON_BODY_LIMIT)
    app.include_router(documents.router, max_body_size=upload_total)
    app.mount("/static", StaticFiles(directory=ui.STATIC_DIR), name="static")
    return app


def _warm_up(services: Services) -> None:
    """Load the lexical index now, so the first asks never race to rebuild it."""
    store = services.engine.store
    if store.stats()["chunks"]:
        with services.gate.writing():
            store.lexical()
