"""The OpenAPI document tells the truth about the server as configured (what schemathesis checks live in CI)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.qa_service.api.conftest import KEYS, keys_setting, make_settings, open_client


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            yield path, method, op


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory, corpus_engine: Any) -> Iterator[TestClient]:
    from qa_service.api.app import create_app

    settings = make_settings(tmp_path_factory.mktemp("openapi-keys"), api_keys=keys_setting())
    with open_client(create_app(settings, engine=corpus_engine)) as c:
        yield c


def test_keyless_document_declares_no_security(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "securitySchemes" not in spec.get("components", {})
    for path, method, op in operations(spec):
        assert "security" not in op, (method, path)
        assert not {"401", "403", "429"} & set(op["responses"]), (method, path)


def test_keyed_document_declares_auth_and_rate_limit_on_every_v1_operation(keyed: TestClient) -> None:
    spec = keyed.get("/openapi.json", headers={"X-API-Key": KEYS["reader"]}).json()
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    v1 = [(p, m, op) for p, m, op in operations(spec) if p.startswith("/v1/")]
    assert len(v1) >= 12
    for path, method, op in v1:
        assert op["security"] == [{"APIKeyHeader": []}], (method, path)
        assert {"401", "403", "429"} <= set(op["responses"]), (method, path)
        assert op["responses"]["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
    assert "security" not in spec["paths"]["/health"]["get"]


def test_every_error_response_has_the_servers_error_body(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    detail = spec["components"]["schemas"]["ErrorResponse"]["properties"]["detail"]
    assert {"string", "array"} <= {alt.get("type") for alt in detail["anyOf"]}
    for path, method, op in operations(spec):
        for code, response in op["responses"].items():
            if code[0] in "45":
                assert response["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorResponse"
                }, (method, path, code)
        if "requestBody" in op:
            assert "400" in op["responses"], (method, path)
    # and the server does answer a string detail where the document says it may
    body = client.post("/v1/ask", json={"question": "x", "top_k": 99}).json()
    assert isinstance(body["detail"], list)
    assert isinstance(client.get("/v1/documents/no-such-doc").json()["detail"], str)


def test_schema_constraints_match_the_server_for_questions_and_topics(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    pattern = re.compile(spec["components"]["schemas"]["AskRequest"]["properties"]["question"]["pattern"])
    for text, valid in [
        ("  ", False),
        ("", False),
        ("\n\t", False),
        ("\x1f\u3000", False),  # whitespace to str.strip(), not to every engine's \s: spelled out
        (" \x1fa", True),
        (" why? ", True),
        ("x" * 2000, True),
        ("x" * 2001, False),
        ("  " + "x" * 2000 + "\n", True),
    ]:
        assert bool(pattern.match(text)) is valid, repr(text[:20])
        if not valid:  # the server refuses exactly what the schema refuses
            assert client.post("/v1/ask", json={"question": text}).status_code == 422
    search_q = next(p for p in spec["paths"]["/v1/search"]["get"]["parameters"] if p["name"] == "q")
    assert re.compile(search_q["schema"]["pattern"]).match("  ") is None
    assert client.get("/v1/search", params={"q": "   "}).status_code == 422
    topic = spec["components"]["schemas"]["QuizRequest"]["properties"]["topic"]
    assert re.compile(topic["pattern"]).match(" ") is None
    # JSON Schema integers include 47.0; strings and fractions are not integers
    assert client.post("/v1/ask", json={"question": "What is the dose?", "top_k": 3.0}).status_code == 200
    for bad in ("3", 2.5, True):
        assert client.post("/v1/ask", json={"question": "What is the dose?", "top_k": bad}).status_code == 422


def test_review_requires_a_name_unless_every_reviewing_key_names_its_holder(
    client: TestClient, tmp_path: Path, corpus_engine: Any
) -> None:
    from qa_service.api.app import create_app

    schema = client.get("/openapi.json").json()["components"]["schemas"]["ReviewRequest"]
    assert "reviewer" in schema["required"] and schema["properties"]["status"]["enum"] == [
        "under_review",
        "approved",
        "rejected",
    ]
    named = make_settings(tmp_path, api_keys="rev-key-0001:reviewer:Dr A. Smith,read-key-001:reader")
    with open_client(create_app(named, engine=corpus_engine)) as c:
        spec = c.get("/openapi.json").json()["components"]["schemas"]["ReviewRequest"]
        assert "reviewer" not in spec.get("required", [])


def test_method_not_allowed_lists_every_method_of_the_path(client: TestClient) -> None:
    response = client.request("OPTIONS", "/v1/documents")
    assert response.status_code == 405 and response.headers["allow"] == "GET, POST"
    response = client.put("/v1/documents/some-doc")
    assert response.status_code == 405 and response.headers["allow"] == "DELETE, GET"


def test_huge_list_offsets_are_422_not_500(client: TestClient) -> None:
    response = client.get("/v1/answers", params={"offset": 98636764769757806592})
    assert response.status_code == 422


def test_an_uncovered_quiz_topic_is_409_with_a_reason(client: TestClient) -> None:
    pytest.importorskip("qa_service.quiz")
    response = client.post("/v1/quizzes", json={"topic": "0"})
    assert response.status_code == 409, response.text
    assert "topic" in response.json()["detail"]
