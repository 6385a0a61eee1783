"""The OpenAPI document, made to tell the truth about this server as configured.

FastAPI describes each route from its code; what depends on the configuration is settled here,
once, when ``/openapi.json`` is first asked for:

* Auth: with ``MEDCITE_API_KEYS`` every ``/v1`` operation needs the ``X-API-Key`` scheme and may
  answer 401 or 403; without keys (loopback mode) no operation declares a security requirement
  and the scheme itself is dropped.
* Rate limits: with keys and a rate, every ``/v1`` operation may answer 429 with ``Retry-After``.
* Errors: every error response has the body the server sends, ``{"detail": str | [field problems]}``
  (FastAPI's default 422 schema allows only the list); operations with a body may answer 400 when
  it cannot be parsed at all.
* Reviews: ``reviewer`` is required unless every key that may review names its holder (then the
  holder is recorded and the field is ignored).
* Uploads need at least one file.
* ``generator`` of ``POST /v1/ask``: ``"llm"`` is offered only when ``MEDCITE_LLM`` names a model
  (otherwise the server answers 422, so the document lists only ``"extractive"``).

``schemathesis run --checks all`` against a live server, with and without keys, holds the document
to this (``.ci/schemathesis.sh``).
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from qa_service.api.schemas import NAME_PATTERN, ErrorResponse

DESCRIPTIONS = {
    400: "The request body could not be read (malformed JSON or form data).",
    401: "Missing or unknown API key (send it in the X-API-Key header).",
    403: "The API key's role may not do this.",
    404: "Not found.",
    409: "Not possible with the current state of the store.",
    413: "The request body is too large.",
    415: "A file type that cannot be ingested.",
    422: "The request does not follow this schema, or its values cannot be used.",
    429: "Too many requests for this API key; retry after the number of seconds in Retry-After.",
    503: "A service the request needs (audit database, quiz builder) is unavailable.",
    504: "The work took longer than the server's request timeout (MEDCITE_REQUEST_TIMEOUT_S).",
}

ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
SECURITY_SCHEME = "APIKeyHeader"


def errors(*codes: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each code with the error body; ``descriptions`` as ``e404="..."``."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        out[code] = {"model": ErrorResponse, "description": descriptions.get(f"e{code}", DESCRIPTIONS[code])}
    return out


def install_openapi(
    app: FastAPI, *, auth: bool, rate_limited: bool, named_reviewers: bool, llm: bool = False
) -> None:
    """Replace ``app.openapi`` with one that finishes FastAPI's document for this configuration."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = finish(
                schema, auth=auth, rate_limited=rate_limited, named_reviewers=named_reviewers, llm=llm
            )
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


def finish(
    schema: dict[str, Any], *, auth: bool, rate_limited: bool, named_reviewers: bool, llm: bool = False
) -> dict[str, Any]:
    """Apply the configuration-dependent parts (see the module docstring) to a FastAPI document."""
    schema = copy.deepcopy(schema)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    _add_error_schema(schemas)

    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if path.startswith("/v1/"):
                if auth:
                    operation["security"] = [{SECURITY_SCHEME: []}]
                    _add(responses, 401)
                    _add(responses, 403)
                    if rate_limited:
                        _add(responses, 429)
                        responses["429"]["headers"] = {
                            "Retry-After": {
                                "description": "Seconds to wait before the next request.",
                                "schema": {"type": "integer", "minimum": 1},
                            }
                        }
                else:
                    operation.pop("security", None)
            if "requestBody" in operation:
                _add(responses, 400)
            for code, response in responses.items():
                if code[:1] in {"4", "5"}:
                    response["content"] = {"application/json": {"schema": dict(ERROR_REF)}}

    if not auth:
        components.pop("securitySchemes", None)
    if "HTTPValidationError" in schemas:  # kept for clients that name it; now as the server answers
        schemas["HTTPValidationError"]["properties"]["detail"] = copy.deepcopy(
            schemas["ErrorResponse"]["properties"]["detail"]
        )

    review = schemas.get("ReviewRequest")
    if review is not None and not named_reviewers:
        review["properties"]["reviewer"] = {
            "type": "string",
            "pattern": NAME_PATTERN,
            "title": "Reviewer",
            "description": "Who reviews (name or initials), 1 to 200 characters after trimming.",
        }
        review["required"] = sorted({*review.get("required", []), "reviewer"})

    ask = schemas.get("AskRequest")
    if ask is not None and not llm and "generator" in ask.get("properties", {}):
        ask["properties"]["generator"] = {
            "anyOf": [{"type": "string", "enum": ["extractive"]}, {"type": "null"}],
            "title": "Generator",
            "description": "Who writes the answer: only 'extractive' here (no LLM configured: MEDCITE_LLM).",
        }

    for name, body in schemas.items():  # an upload needs at least one file
        if name.startswith("Body_upload_documents") and "files" in body.get("properties", {}):
            body["properties"]["files"]["minItems"] = 1
    return schema


def _add(responses: dict[str, Any], code: int) -> None:
    responses.setdefault(str(code), {"description": DESCRIPTIONS[code]})


def _add_error_schema(schemas: dict[str, Any]) -> None:
    generated = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in generated.pop("$defs", {}).items():
        schemas.setdefault(name, sub)
    schemas.setdefault("ErrorResponse", generated)
