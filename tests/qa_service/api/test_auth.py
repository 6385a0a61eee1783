"""API keys and roles: the contract's permission matrix, key parsing, and the loopback-only rule."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingest.errors import MedciteError, UsageError
from tests.qa_service.api.conftest import ANSWERABLE, KEYS, keys_setting, make_settings, open_client

READ, MANAGE, REVIEW = "read", "manage_documents", "review"
ROLE_CAN = {
    "reader": {READ},
    "editor": {READ, MANAGE},
    "reviewer": {READ, REVIEW},
    "admin": {READ, MANAGE, REVIEW},
}


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory, corpus_engine: Any) -> Iterator[TestClient]:
    """The service with MEDCITE_API_KEYS set (over the shared corpus: no request here changes it)."""
    from qa_service.api.app import create_app

    settings = make_settings(tmp_path_factory.mktemp("keyed-api"), api_keys=keys_setting())
    with open_client(create_app(settings, engine=corpus_engine)) as c:
        yield c


@pytest.fixture(scope="module")
def doc_id(keyed: TestClient) -> str:
    return keyed.get("/v1/documents", headers={"X-API-Key": KEYS["admin"]}).json()["documents"][0]["doc_id"]


# (name, permission, method, path, request kwargs, status when allowed). Requests that would be slow or
# change the shared store are made invalid on purpose: an allowed caller then gets the 4xx of its input,
# which shows the call passed the permission check (auth is decided before the body is validated).
ENDPOINTS: list[tuple[str, str, str, str, dict[str, Any], int]] = [
    ("ask", READ, "POST", "/v1/ask", {"json": {"question": ""}}, 422),
    ("search", READ, "GET", "/v1/search", {"params": {"q": " "}}, 422),
    ("list documents", READ, "GET", "/v1/documents", {}, 200),
    ("read document", READ, "GET", "/v1/documents/{doc_id}", {}, 200),
    ("quiz", READ, "POST", "/v1/quizzes", {"json": {"topic": ""}}, 422),
    ("upload", MANAGE, "POST", "/v1/documents", {"files": [("files", ("x.exe", io.BytesIO(b"MZ")))]}, 415),
    ("delete", MANAGE, "DELETE", "/v1/documents/no-such-document", {}, 404),
    ("list answers", REVIEW, "GET", "/v1/answers", {}, 200),
    (
        "review",
        REVIEW,
        "POST",
        "/v1/answers/no-such-answer/review",
        {"json": {"status": "approved", "reviewer": "r"}},
        404,
    ),
]


def call(
    client: TestClient, endpoint: tuple[str, str, str, str, dict[str, Any], int], doc_id: str, key: str | None
) -> Any:
    _, _, method, path, kwargs, _ = endpoint
    headers = {"X-API-Key": key} if key is not None else {}
    return client.request(method, path.format(doc_id=doc_id), headers=headers, **kwargs)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
@pytest.mark.parametrize("role", list(ROLE_CAN))
def test_role_matrix(
    keyed: TestClient, doc_id: str, role: str, endpoint: tuple[str, str, str, str, dict[str, Any], int]
) -> None:
    response = call(keyed, endpoint, doc_id, KEYS[role])
    if endpoint[1] in ROLE_CAN[role]:
        assert response.status_code == endpoint[5], response.text
    else:
        assert response.status_code == 403, response.text
        assert f"role '{role}'" in response.json()["detail"]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
@pytest.mark.parametrize("key", [None, "", "not-a-configured-key", KEYS["admin"] + "x"])
def test_missing_or_unknown_key_is_401(
    keyed: TestClient, doc_id: str, key: str | None, endpoint: Any
) -> None:
    response = call(keyed, endpoint, doc_id, key)
    assert response.status_code == 401
    assert "API key" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/health", "/metrics", "/", "/openapi.json", "/static/app.js"])
def test_operations_and_ui_need_no_key(keyed: TestClient, path: str) -> None:
    assert keyed.get(path).status_code == 200


def test_the_askers_role_is_recorded(keyed: TestClient) -> None:
    served = keyed.post("/v1/ask", json={"question": ANSWERABLE}, headers={"X-API-Key": KEYS["reader"]})
    assert served.status_code == 200, served.text
    records = keyed.get("/v1/answers", headers={"X-API-Key": KEYS["reviewer"]}).json()["answers"]
    record = next(r for r in records if r["id"] == served.json()["id"])
    assert record["role"] == "reader"
    reviewed = keyed.post(
        f"/v1/answers/{record['id']}/review",
        json={"status": "approved", "reviewer": "QA"},
        headers={"X-API-Key": KEYS["admin"]},
    ).json()
    assert reviewed["history"][0]["role"] == "admin"


# ---------------------------------------------------------------- key parsing and binding
def test_parse_api_keys() -> None:
    from qa_service.api.security import ApiKey, Role, parse_api_keys

    keys = parse_api_keys(" alpha-key-1:reader , beta:key:2345:Admin ,")
    assert keys.enabled
    assert keys.lookup("alpha-key-1") == ApiKey(Role.READER)
    assert keys.lookup("beta:key:2345") == ApiKey(Role.ADMIN)  # a key may contain ':' (read from the right)
    assert keys.lookup("alpha-key-") is None
    assert not parse_api_keys(None).enabled and not parse_api_keys("  ").enabled


def test_keys_may_name_their_holder_and_old_entries_stay_valid() -> None:
    from qa_service.api.security import ApiKey, Permission, Role, parse_api_keys

    keys = parse_api_keys(
        "rev-key-0001:reviewer:Dr A. Smith, adm:in:key-0002:admin:  QA  Lead ,plain-key-03:reader"
    )
    assert keys.lookup("rev-key-0001") == ApiKey(Role.REVIEWER, "Dr A. Smith")
    assert keys.lookup("adm:in:key-0002") == ApiKey(Role.ADMIN, "QA Lead")  # a key with ':' and a name
    assert keys.lookup("plain-key-03") == ApiKey(Role.READER)
    assert keys.all_named(Permission.REVIEW)  # the unnamed key cannot review
    assert not parse_api_keys("rev-key-0001:reviewer,other-key-1:admin:Bo").all_named(Permission.REVIEW)
    with pytest.raises(UsageError, match="unknown role"):
        parse_api_keys("some-key-001:boss:Dr X")


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("justakey12345", "not 'key:role'"),
        (":reader", "not 'key:role'"),
        ("longenough1:superuser", "unknown role"),
        ("short:reader", "at least 8"),
        ("samekey123:reader,samekey123:admin", "repeats"),
    ],
)
def test_malformed_api_keys_are_refused_without_echoing_them(raw: str, fragment: str) -> None:
    from qa_service.api.security import parse_api_keys

    with pytest.raises(UsageError) as caught:
        parse_api_keys(raw)
    assert fragment in str(caught.value)
    assert "samekey123" not in str(caught.value) and "justakey12345" not in str(caught.value)


def test_create_app_refuses_malformed_keys(tmp_path: Path) -> None:
    from qa_service.api.app import create_app

    with pytest.raises(UsageError):
        create_app(make_settings(tmp_path, api_keys="nokey"))


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.org", "10.0.0.1"])
def test_server_refuses_non_loopback_without_keys(tmp_path: Path, host: str) -> None:
    from qa_service.api.server import run

    with pytest.raises(UsageError, match="MEDCITE_API_KEYS"):
        run(host=host, port=8000, data_dir=tmp_path)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_hosts(host: str) -> None:
    from qa_service.api.security import is_loopback

    assert is_loopback(host)


def test_non_loopback_host_is_allowed_with_keys(tmp_path: Path) -> None:
    from qa_service.api.server import check_bind_allowed

    check_bind_allowed("0.0.0.0", make_settings(tmp_path, api_keys=keys_setting()))  # no error
    with pytest.raises(UsageError):
        check_bind_allowed("0.0.0.0", make_settings(tmp_path))


def test_port_in_use_is_a_clear_error() -> None:
    from qa_service.api.server import bind_socket

    first = bind_socket("127.0.0.1", 0)
    try:
        with pytest.raises(MedciteError, match=r"cannot listen on 127\.0\.0\.1"):
            bind_socket("127.0.0.1", first.getsockname()[1])
    finally:
        first.close()
