"""Fixtures of the eval harness tests: the mini gold file, a run of it, the HTTP service on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

DATA = Path(__file__).resolve().parent / "data"
MINI_GOLD = DATA / "mini_gold.jsonl"
CORPUS_GOLD = REPO / "eval" / "gold" / "corpus.jsonl"


@pytest.fixture(scope="session")
def mini_run(corpus_engine: Any) -> Any:
    """The mini gold set run in-process once (4 questions on corpus/)."""
    from eval.runner import EngineBackend, run_eval

    return run_eval(MINI_GOLD, EngineBackend(corpus_engine), resamples=200)


@pytest.fixture(scope="session")
def served_engine(corpus_engine: Any) -> Iterator[str]:
    """The real HTTP service over the session engine, served by uvicorn on a free loopback port.

    Its audit log goes to the session store's (temporary) data dir.
    """
    import uvicorn

    from qa_service.api.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(corpus_engine.settings, corpus_engine)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
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
