"""Request body limits answered as JSON before any body is read.

FastAPI's own ``max_body_size`` limits stay in place (they also cover bodies
sent without a Content-Length), but for a declared Content-Length over the limit
Starlette answers in plain text; this middleware answers first, with the
contract's ``{"detail": ...}`` and the limit spelled out.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

UPLOAD_PATH = "/v1/documents"


class BodyLimits:
    """The JSON limit for every request, and the larger one for uploads."""

    def __init__(self, json_bytes: int, upload_bytes: int, upload_rule: str) -> None:
        self.json_bytes = json_bytes
        self.upload_bytes = upload_bytes
        self.upload_rule = upload_rule

    def for_request(self, method: str, path: str) -> int:
        return self.upload_bytes if method == "POST" and path.rstrip("/") == UPLOAD_PATH else self.json_bytes

    def message(self, method: str, path: str) -> str:
        if method == "POST" and path.rstrip("/") == UPLOAD_PATH:
            return f"the upload is too large: {self.upload_rule}"
        return f"the request body is too large (limit {self.json_bytes // 1024} KiB)"


class BodyLimitMiddleware:
    """413 with a JSON detail when the declared Content-Length is over the route's limit."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method, path = scope.get("method", ""), scope.get("path", "")
            declared = Headers(scope=scope).get("content-length")
            if (
                declared is not None
                and declared.isdigit()
                and int(declared) > self.limits.for_request(method, path)
            ):
                response = JSONResponse({"detail": self.limits.message(method, path)}, status_code=413)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
