"""``GET /v1/me``: who the API key in this request belongs to (the web UI names the reviewer with it)."""

from __future__ import annotations

from fastapi import APIRouter

from qa_service.api.deps import AnyCaller, ServicesDep
from qa_service.api.schemas import CallerPublic
from qa_service.api.security import Permission

router = APIRouter(prefix="/v1", tags=["auth"])


@router.get("/me", response_model=CallerPublic)
def read_me(services: ServicesDep, caller: AnyCaller) -> dict[str, object]:
    """The caller's role, name and permissions (any valid key; no key needed without keys)."""
    return {
        "auth": services.keys.enabled,
        "role": caller.role,
        "name": caller.name,
        "permissions": [p.value for p in Permission if caller.can(p)],
    }
