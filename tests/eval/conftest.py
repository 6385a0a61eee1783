"""Fixtures of the eval harness tests: the mini gold file, a run of it, a stand-in HTTP server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from tests.conftest import REPO

DATA = Path(__file__).resolve().parent / "data"
MINI_GOLD = DATA / "mini_gold.jsonl"
CORPUS_GOLD = REPO / "eval" / "gold" / "corpus.jsonl"


class AskBody(BaseModel):
    """POST /v1/ask body (module level: FastAPI must resolve the annotation)."""

    question: str
    top_k: int | None = None


@pytest.fixture(scope="session")
def mini_run(corpus_engine: Any) -> Any:
    """The mini gold set run in-process once (4 questions on corpus/)."""
    from eval.runner import EngineBackend, run_eval

    return run_eval(MINI_GOLD, EngineBackend(corpus_engine), resamples=200)


def stand_in_app(engine: Any) -> Any:
    """The contract's /health, POST /v1/ask and GET /v1/search over an Engine (until qa_service.api lands)."""
    from fastapi import FastAPI, HTTPException

    from ingest.errors import MedciteError

    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", **engine.store.stats()}

    @app.post("/v1/ask")
    def ask(body: AskBody) -> dict[str, Any]:
        try:
            return engine.ask(body.question, body.top_k).public()  # type: ignore[no-any-return]
        except MedciteError as exc:
            raise HTTPException(exc.http_status, str(exc)) from exc

    @app.get("/v1/search")
    def search(q: str, k: int = 5) -> dict[str, Any]:
        try:
            return engine.search(q, k).model_dump()  # type: ignore[no-any-return]
        except MedciteError as exc:
            raise HTTPException(exc.http_status, str(exc)) from exc

    return app


@pytest.fixture(scope="session")
def served_engine(corpus_engine: Any) -> Iterator[str]:
    """The stand-in app over the session engine, served by uvicorn on a free loopback port."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(stand_in_app(corpus_engine), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
