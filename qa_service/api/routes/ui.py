"""The web UI: ``GET /`` (and ``/answers/{id}``) serve the single page; script and styles are under ``/static``."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    """The web UI (ask, documents, review)."""
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/answers/{answer_id}")
def answer_page(answer_id: str) -> FileResponse:
    """One answer at its own address (shareable; the page loads it from the audit log)."""
    return index()
