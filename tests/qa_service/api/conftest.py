"""Fixtures for the HTTP service: apps over the real engine, and a real uvicorn server in a thread.

Read-only tests share the session's ``corpus_engine`` (each module with its own
audit database); tests that ingest or delete use ``writable_engine``, a second
Engine over a temporary copy of the corpus store built with the session's model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ingest.settings import Settings, get_settings
from tests.conftest import CORPUS

ANSWERABLE = "What is the recommended treatment for vitamin B12 deficiency in infants?"
# Far from corpus/ (B12 in infants). A near question such as a metformin dose for type 2 diabetes is
# answered from the B12 dosing text today (the corpus names metformin once, as a cause): a known miss of
# abstention, measured in benchmarks/README.md, not something the API tests pin down.
UNANSWERABLE = "Which inhaler should an adult with asthma use first?"
KEYS = {
    "reader": "reader-key-0001",
    "editor": "editor-key-0002",
    "reviewer": "reviewer-key-0003",
    "admin": "admin-key-0004",
}


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test app: nothing taken from the environment unless given."""
    values: dict[str, Any] = {"api_keys": None, "database_url": None, "chroma_url": None, "llm": None}
    values.update(overrides)
    return get_settings(data_dir, **values)


def keys_setting() -> str:
    return ",".join(f"{key}:{role}" for role, key in KEYS.items())


@contextmanager
def open_client(app: FastAPI) -> Iterator[TestClient]:
    """A TestClient with the app's lifespan run (services built, audit migrated)."""
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, corpus_engine: Any) -> Iterator[TestClient]:
    """The service over the shared corpus engine, without API keys (role 'local')."""
    from qa_service.api.app import create_app

    app = create_app(make_settings(tmp_path_factory.mktemp("api")), engine=corpus_engine)
    with open_client(app) as c:
        yield c


@pytest.fixture(scope="package")
def writable_engine(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[Any]:
    """An Engine of its own over corpus/ (tests may ingest into it and delete from it).

    Shared by the modules of this package (ingesting the corpus takes seconds), so tests
    that use it add documents under names of their own and never assume an exact list.
    """
    from ingest.pipeline import ingest_paths
    from qa_service.engine import Engine

    settings = make_settings(tmp_path_factory.mktemp("writable-store"))
    engine = Engine.open(settings, owner={"command": "pytest"}, embedder=embedder)
    report = ingest_paths(engine.store, [CORPUS])
    assert report.added >= 2 and not report.errors, report
    yield engine
    engine.close()


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields the base URL."""
    import uvicorn

    from qa_service.api.server import bind_socket

    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
