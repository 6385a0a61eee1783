"""`medcite eval --url` against a rate-limited server waits out 429s (Retry-After) instead of failing the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.qa_service.api.conftest import ANSWERABLE, make_settings


def test_http_backend_waits_out_the_rate_limit(tmp_path: Path, corpus_engine: Any) -> None:
    from eval.runner import HttpBackend
    from qa_service.api.app import create_app

    settings = make_settings(tmp_path, api_keys="eval-key-0001:reader", rate_limit="2/second")
    app = create_app(settings, engine=corpus_engine)
    with TestClient(app, headers={"X-API-Key": "eval-key-0001"}) as client:
        backend = HttpBackend("http://testserver", client=client)
        passages = [backend.search(ANSWERABLE, 3) for _ in range(5)]  # 5 requests at 2 per second
        assert all(len(p) == 3 for p in passages)
        assert client.get("/v1/documents").status_code in {200, 429}  # the limit is real
