"""Operations: /health, /metrics, OpenAPI and docs, request ids, JSON logs, security headers, the UI files."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa_service.logs import JsonFormatter, request_id_var

CONTRACT_PATHS = {
    "/health": {"get"},
    "/v1/ask": {"post"},
    "/v1/search": {"get"},
    "/v1/documents": {"get", "post"},
    "/v1/documents/{doc_id}": {"get", "delete"},
    "/v1/answers": {"get"},
    "/v1/answers/{answer_id}/review": {"post"},
    "/v1/quizzes": {"post"},
}


def test_health_is_the_contract_object(client: TestClient, corpus_engine: Any) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("status", "documents", "chunks")} == {
        "status": "ok",
        **corpus_engine.store.stats(),
    }
    assert body["backends"] == {"documents": "sqlite", "vectors": "chroma-embedded", "llm": None}
    assert body["reachable"] == {"documents": True, "vectors": True}
    assert body["llm_ok"] is None and body["llm_error"] is None  # no MEDCITE_LLM here


def test_metrics_are_prometheus_text(client: TestClient) -> None:
    client.get("/health")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'medcite_http_requests_total{method="GET",route="/health",status="200"}' in response.text
    assert re.search(
        r"^medcite_http_request_duration_seconds_count\{method=\"GET\",route=\"/health\"\} \d",
        response.text,
        re.M,
    )
    assert "process_resident_memory_bytes" in response.text


def test_metrics_label_routes_by_template_not_raw_path(client: TestClient) -> None:
    client.get("/v1/documents/no-such-doc-12345")
    text = client.get("/metrics").text
    assert 'route="/v1/documents/{doc_id}",status="404"' in text
    assert "no-such-doc-12345" not in text


def test_openapi_lists_every_contract_endpoint(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path, methods in CONTRACT_PATHS.items():
        assert path in spec["paths"], path
        assert methods <= set(spec["paths"][path]), (path, spec["paths"][path].keys())
    ask = spec["paths"]["/v1/ask"]["post"]
    assert ask["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/AnswerPublic")


def test_api_docs_are_served_without_a_cdn(client: TestClient) -> None:
    pytest.importorskip("fastapi_offline")
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    for asset in re.findall(r'(?:src|href)="(/static-docs/[^"]+)"', page.text):
        assert client.get(asset).status_code == 200, asset


def test_request_id_is_set_echoed_and_sanitised(client: TestClient) -> None:
    generated = client.get("/health").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert (
        client.get("/health", headers={"X-Request-ID": "abc-123.x_y"}).headers["x-request-id"]
        == "abc-123.x_y"
    )
    replaced = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"}).headers["x-request-id"]
    assert replaced != "bad id\twith spaces" and re.fullmatch(r"[0-9a-f]{32}", replaced)


def test_access_log_is_json_with_request_id_and_never_the_question(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "zebrafish-patient-7731 has what cobalamin level"
    formatter = JsonFormatter()
    with caplog.at_level(logging.INFO):
        response = client.get("/v1/search", params={"q": secret}, headers={"X-Request-ID": "req-search-1"})
    assert response.status_code == 200
    # the test's own HTTP client logs the URL it requested; only the server's lines matter here
    lines = [formatter.format(r) for r in caplog.records if not r.name.startswith("httpx")]
    assert all(secret not in line and "zebrafish" not in line for line in lines)
    access = [json.loads(line) for line in lines if '"logger": "qa_service.api.access"' in line]
    assert access, lines
    entry = access[-1]
    assert entry["request_id"] == "req-search-1"
    assert entry["method"] == "GET" and entry["path"] == "/v1/search" and entry["status"] == 200
    assert entry["latency_ms"] > 0 and entry["level"] == "info"


def test_json_formatter_carries_extras_and_exceptions() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord("medcite.test", logging.WARNING, __file__, 1, "hello %s", ("world",), None)
    record.doc_id = "d1"
    token = request_id_var.set("rid-1")
    try:
        data = json.loads(formatter.format(record))
    finally:
        request_id_var.reset(token)
    assert (
        data["message"] == "hello world" and data["level"] == "warning" and data["logger"] == "medcite.test"
    )
    assert data["request_id"] == "rid-1" and data["doc_id"] == "d1" and "ts" in data
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    assert "ValueError: boom" in json.loads(formatter.format(record))["exc"]


def test_ui_page_and_assets_are_served_with_a_strict_csp(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/app.js"' in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    for asset in ("/static/app.js", "/static/app.css"):
        assert client.get(asset).status_code == 200
    assert "http://" not in page.text and "https://" not in page.text  # nothing from elsewhere


def test_ui_script_never_inserts_html() -> None:
    from qa_service.api.routes.ui import STATIC_DIR

    script = (STATIC_DIR / "app.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink


def test_unknown_route_and_method_are_4xx_json(client: TestClient) -> None:
    assert client.get("/v1/nope").status_code == 404
    response = client.put("/v1/ask", json={})
    assert response.status_code == 405 and "detail" in response.json()


def test_a_bug_is_a_500_with_the_request_id_and_no_internals(
    client: TestClient, corpus_engine: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> dict[str, int]:
        raise RuntimeError("secret internal state")

    monkeypatch.setattr(corpus_engine.store, "stats", broken)
    with caplog.at_level(logging.ERROR):
        response = client.get("/health", headers={"X-Request-ID": "bug-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "bug-1"
    assert response.json() == {"detail": "internal error; quote request id bug-1 when reporting it"}
    logged = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert logged and logged[0].exc_info is not None and getattr(logged[0], "request_id", None) == "bug-1"


def test_audit_database_failure_is_503_and_the_answer_is_not_served(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from qa_service.audit import AuditLog

    def unavailable(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(AuditLog, "record_answer", unavailable)
    response = client.post("/v1/ask", json={"question": "What dose of cobalamin for infants?"})
    assert response.status_code == 503
    assert response.json() == {"detail": "the audit database is unavailable; try again shortly"}
    monkeypatch.setattr(AuditLog, "list", unavailable)
    assert client.get("/v1/answers").status_code == 503


def test_upload_area_recovers_after_a_crash(tmp_path: Any) -> None:
    from qa_service.api.uploads import UploadArea

    area = UploadArea(tmp_path / "uploads")
    batch = area.new_batch()
    (batch / "half.txt").write_text("half-written")
    (area.root / "guide.md").write_text("new, never ingested")
    (area.root / ".guide.md.previous").write_text("the ingested version")
    area.recover()
    assert not area.incoming.exists()
    assert (area.root / "guide.md").read_text() == "the ingested version"
    assert not (area.root / ".guide.md.previous").exists()


def test_lifespan_opens_the_engine_once_and_releases_the_data_dir(
    tmp_path: Any,
) -> None:
    from qa_service.api.app import create_app
    from tests.qa_service.api.conftest import make_settings, open_client

    settings = make_settings(tmp_path / "served")
    app = create_app(settings, public_url="http://127.0.0.1:9999")
    with open_client(app) as c:
        assert {
            k: v for k, v in c.get("/health").json().items() if k in ("status", "documents", "chunks")
        } == {
            "status": "ok",
            "documents": 0,
            "chunks": 0,
        }
        owner = json.loads((settings.data_dir / "medcite.lock").read_text())
        assert owner["command"] == "serve" and owner["url"] == "http://127.0.0.1:9999"
        assert (settings.data_dir / "audit.db").is_file()
    # flock locks of separate open() calls conflict even within one process: this fails while held
    fd = os.open(settings.data_dir / "medcite.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
