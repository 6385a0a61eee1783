"""Exception handlers: every expected failure becomes ``{"detail": str}`` with its 4xx status.

``MedciteError`` subclasses carry their HTTP status (``UsageError`` 422,
``NotFoundError`` 404, ``StoreError``/``EmptyStoreError`` 409, uploads 413/415,
review conflicts 409). An unavailable audit database is a 503 (an answer is
never served unrecorded). Anything else is a bug: ObservabilityMiddleware logs it
with its traceback and answers 500 with the request id to quote, never internals.
"""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ingest.errors import MedciteError
from qa_service.api.limits import BodyLimits

logger = logging.getLogger(__name__)

TOO_LARGE = "Content Too Large"  # Starlette's body-limit detail, replaced by one that names the limit


def allowed_methods(request: Request) -> list[str]:
    """Every method the API documents at this request's path (Starlette's 405 names one route's only).

    Read from the OpenAPI document, which lists each path's operations whichever router serves them.
    """
    path = request.url.path
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), path):
            methods.update(m.upper() for m in operations)
    return sorted(methods)


def install_error_handlers(app: FastAPI, limits: BodyLimits) -> None:
    """Register the handlers on ``app``; ``limits`` only words 413 answers."""

    async def medcite_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, MedciteError)
        if exc.http_status >= 500:
            logger.error("request failed: %s", exc)
        retry_after = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return JSONResponse({"detail": str(exc)}, status_code=exc.http_status, headers=headers)

    async def database_error(_request: Request, exc: Exception) -> JSONResponse:
        logger.error("audit database error", exc_info=exc)
        return JSONResponse(
            {"detail": "the audit database is unavailable; try again shortly"}, status_code=503
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if (
            exc.status_code == 413 and exc.detail == TOO_LARGE
        ):  # a body without Content-Length, cut off while read
            detail = limits.message(request.method, request.url.path)
            exc = StarletteHTTPException(413, detail=detail, headers=exc.headers)
        if exc.status_code == 405:  # name every method of the path, not only those of the first route found
            allowed = allowed_methods(request)
            if allowed:
                exc = StarletteHTTPException(405, detail=exc.detail, headers={"Allow": ", ".join(allowed)})
        return await http_exception_handler(request, exc)  # type: ignore[return-value]

    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        # Normally ObservabilityMiddleware answers bugs (it knows the request id); this is the
        # fallback for a failure outside it.
        logger.error("unhandled error", exc_info=exc)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    app.add_exception_handler(MedciteError, medcite_error)
    app.add_exception_handler(SQLAlchemyError, database_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
