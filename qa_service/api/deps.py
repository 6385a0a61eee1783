"""Dependencies: the clients built once in the lifespan, and who is calling.

Routes never reach into ``app.state`` themselves; they declare what they need
(``EngineDep``, ``AuditDep``, ``Caller`` via ``require(...)``), which tests can
override with ``app.dependency_overrides``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from ingest.errors import MedciteError
from ingest.settings import Settings
from qa_service.api.gate import StoreGate
from qa_service.api.observability import Metrics
from qa_service.api.ratelimit import RateLimiter
from qa_service.api.security import LOCAL_CALLER, ROLE_PERMISSIONS, ApiKeys, Caller, Permission, key_id
from qa_service.api.uploads import UploadArea
from qa_service.audit import AuditLog
from qa_service.engine import Engine

T = TypeVar("T")

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="Needed on every /v1 call when the server runs with MEDCITE_API_KEYS.",
)


@dataclass
class Services:
    """Everything a request may use, built once per app."""

    settings: Settings
    engine: Engine
    audit: AuditLog
    keys: ApiKeys
    gate: StoreGate
    uploads: UploadArea
    metrics: Metrics
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(None))
    # Writes (ingest, delete) run here, one at a time, off the event loop and the request threads.
    writer: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="medcite-writer")
    )

    async def run_write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` on the writer thread (with this request's context, so logs keep its id)."""
        ctx = contextvars.copy_context()
        return await asyncio.wrap_future(self.writer.submit(ctx.run, fn, *args))

    async def run_bounded(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` in a worker thread, answering 504 when it takes longer than the request timeout.

        A thread cannot be stopped from outside: on timeout the client gets its answer at once and the
        abandoned work finishes in the background, its result dropped (an ask that timed out is
        neither served nor recorded).
        """
        limit = self.settings.request_timeout_s
        ctx = contextvars.copy_context()
        try:
            with anyio.fail_after(limit):
                return await anyio.to_thread.run_sync(
                    functools.partial(ctx.run, fn, *args), abandon_on_cancel=True
                )
        except TimeoutError:
            raise RequestTimeoutError(
                f"{what} took longer than the server's limit of {limit:g} s (MEDCITE_REQUEST_TIMEOUT_S); "
                "try again shortly, or narrow the request"
            ) from None


class RequestTimeoutError(MedciteError):
    """The work behind a request took longer than ``MEDCITE_REQUEST_TIMEOUT_S``."""

    http_status = 504


def get_services(request: Request) -> Services:
    """The app's services (set by the lifespan)."""
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:  # only when the app is used without its lifespan
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="the service is starting; try again shortly"
        )
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_engine(services: ServicesDep) -> Engine:
    return services.engine


def get_audit(services: ServicesDep) -> AuditLog:
    return services.audit


EngineDep = Annotated[Engine, Depends(get_engine)]
AuditDep = Annotated[AuditLog, Depends(get_audit)]


def get_caller(
    services: ServicesDep, api_key: Annotated[str | None, Security(api_key_header)] = None
) -> Caller:
    """The caller: ``local`` without keys configured, else the holder of a valid ``X-API-Key`` (else 401).

    Each request of a known key counts against its rate limit (429 with ``Retry-After`` past it).
    FastAPI resolves a dependency once per request, so a request counts once.
    """
    if not services.keys.enabled:
        return LOCAL_CALLER
    if not api_key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail="missing API key: send it in the X-API-Key header"
        )
    entry = services.keys.lookup(api_key)
    if entry is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="unknown API key")
    caller = Caller(
        role=entry.role.value,
        permissions=ROLE_PERMISSIONS[entry.role],
        name=entry.name,
        key_id=key_id(api_key),
    )
    services.limiter.hit(caller.key_id)
    return caller


def require(permission: Permission) -> Callable[[Caller], Caller]:
    """A dependency that lets the call through only for roles with ``permission`` (403 otherwise)."""

    def check(caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
        if not caller.can(permission):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"role '{caller.role}' may not do this (it needs the '{permission.value}' permission)",
            )
        return caller

    return check


Reader = Annotated[Caller, Depends(require(Permission.READ))]
Editor = Annotated[Caller, Depends(require(Permission.MANAGE_DOCUMENTS))]
Reviewer = Annotated[Caller, Depends(require(Permission.REVIEW))]
AnyCaller = Annotated[Caller, Depends(get_caller)]
