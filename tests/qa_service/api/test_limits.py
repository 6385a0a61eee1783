"""Per-key rate limits (429 + Retry-After) and request timeouts (504): what users of a shared service expect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ingest.errors import UsageError
from tests.qa_service.api.conftest import ANSWERABLE, KEYS, keys_setting, make_settings, open_client


def test_a_key_over_its_rate_gets_429_with_retry_after_and_other_keys_do_not(
    tmp_path: Path, corpus_engine: Any
) -> None:
    from qa_service.api.app import create_app

    settings = make_settings(tmp_path, api_keys=keys_setting(), rate_limit="3/minute")
    with open_client(create_app(settings, engine=corpus_engine)) as client:
        reader = {"X-API-Key": KEYS["reader"]}
        assert [client.get("/v1/documents", headers=reader).status_code for _ in range(3)] == [200] * 3
        limited = client.get("/v1/documents", headers=reader)
        assert limited.status_code == 429
        retry = int(limited.headers["Retry-After"])
        assert 1 <= retry <= 60
        assert "3 per 1 minute" in limited.json()["detail"]
        # counted per key: another key is served; unknown keys are refused before counting
        assert client.get("/v1/documents", headers={"X-API-Key": KEYS["editor"]}).status_code == 200
        assert client.get("/v1/documents", headers={"X-API-Key": "not-a-key-at-all"}).status_code == 401
        assert client.get("/health").status_code == 200  # operations endpoints are not limited


def test_without_keys_nothing_is_limited(tmp_path: Path, corpus_engine: Any) -> None:
    from qa_service.api.app import create_app

    with open_client(
        create_app(make_settings(tmp_path, rate_limit="2/minute"), engine=corpus_engine)
    ) as client:
        assert all(client.get("/v1/documents").status_code == 200 for _ in range(5))


@pytest.mark.parametrize(("rule", "storage"), [("lots", "memory://"), ("5/minute", "nosuch://x")])
def test_a_bad_rate_setting_is_refused_at_start(tmp_path: Path, rule: str, storage: str) -> None:
    from qa_service.api.app import create_app

    with pytest.raises(UsageError, match="MEDCITE_RATE_LIMIT"):
        create_app(
            make_settings(tmp_path, api_keys=keys_setting(), rate_limit=rule, rate_limit_storage=storage)
        )


def test_an_ask_over_the_request_timeout_is_504_not_a_hung_connection(
    tmp_path: Path, corpus_engine: Any
) -> None:
    from qa_service.api.app import create_app

    app = create_app(make_settings(tmp_path, request_timeout_s=0.001), engine=corpus_engine)
    with open_client(app) as client:
        response = client.post("/v1/ask", json={"question": ANSWERABLE})
        assert response.status_code == 504
        assert "MEDCITE_REQUEST_TIMEOUT_S" in response.json()["detail"]
        search = client.get("/v1/search", params={"q": ANSWERABLE})
        assert search.status_code == 504
        # a timed-out answer is neither served nor recorded
        assert client.get("/v1/answers").json()["total"] == 0
