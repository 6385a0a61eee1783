"""POST /v1/ask over the real engine on corpus/: the contract's Answer, abstentions, bad input, audit."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.qa_service.api.conftest import ANSWERABLE, UNANSWERABLE, make_settings, open_client

ANSWER_KEYS = {
    "id",
    "question",
    "answer",
    "abstained",
    "abstain_reason",
    "statements",
    "citations",
    "conflicts",
    "config_hash",
    "generator",
    "latency_ms",
}
PASSAGE_KEYS = {"doc_id", "source", "title", "section", "start", "end", "text", "score"}


@pytest.fixture(scope="module")
def served(client: TestClient) -> httpx.Response:
    """One answered question, shared by the tests that inspect it."""
    return client.post("/v1/ask", json={"question": f"  {ANSWERABLE}  "})


@pytest.fixture(scope="module")
def abstained(client: TestClient) -> httpx.Response:
    return client.post("/v1/ask", json={"question": UNANSWERABLE})


def test_ask_returns_the_contract_answer(served: httpx.Response, corpus_engine: Any) -> None:
    assert served.status_code == 200, served.text
    body = served.json()
    assert set(body) >= ANSWER_KEYS, ANSWER_KEYS - set(body)
    assert "question_id" not in body
    assert body["question"] == ANSWERABLE  # trimmed
    assert body["abstained"] is False and body["abstain_reason"] is None
    assert body["config_hash"] == corpus_engine.settings.config_hash
    assert body["generator"] == "extractive"
    assert body["latency_ms"] > 0
    assert 1 <= len(body["statements"]) <= 8
    ids = {c["id"] for c in body["citations"]}
    assert ids == set(range(1, len(body["citations"]) + 1))
    for statement in body["statements"]:
        assert statement["citations"] and set(statement["citations"]) <= ids
    for citation in body["citations"]:
        assert PASSAGE_KEYS | {"id"} <= set(citation)
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", body["answer"])}
    assert markers and markers <= ids
    for conflict in body["conflicts"]:
        assert set(conflict) >= {"description", "citations"} and set(conflict["citations"]) <= ids


def test_citation_spans_are_exact_document_text(client: TestClient, served: httpx.Response) -> None:
    documents: dict[str, str] = {}
    for citation in served.json()["citations"]:
        if citation["doc_id"] not in documents:
            response = client.get(f"/v1/documents/{citation['doc_id']}")
            assert response.status_code == 200
            documents[citation["doc_id"]] = response.json()["text"]
        assert documents[citation["doc_id"]][citation["start"] : citation["end"]] == citation["text"]


def test_the_audit_record_equals_what_was_served(
    client: TestClient, served: httpx.Response, corpus_engine: Any
) -> None:
    answer = served.json()
    records = client.get("/v1/answers").json()["answers"]
    record = next(r for r in records if r["id"] == answer["id"])
    assert record["answer"] == answer
    assert record["question"] == ANSWERABLE
    assert record["status"] == "submitted"
    assert record["role"] == "local"
    assert record["history"] == []
    assert record["config_hash"] == corpus_engine.settings.config_hash
    assert record["corpus_version"] == corpus_engine.store.corpus_version()
    assert record["allowed_next"] == ["under_review", "approved", "rejected"]


def test_unanswerable_question_abstains_with_reason(abstained: httpx.Response) -> None:
    assert abstained.status_code == 200, abstained.text
    body = abstained.json()
    assert body["abstained"] is True
    assert body["abstain_reason"]
    assert body["statements"] == []
    assert len(body["citations"]) <= 2  # at most the nearest evidence


def test_metrics_count_answers_and_abstentions(
    client: TestClient, served: httpx.Response, abstained: httpx.Response
) -> None:
    text = client.get("/metrics").text
    answered = float(re.search(r'^medcite_answers_total\{outcome="answered"\} (\S+)$', text, re.M).group(1))  # type: ignore[union-attr]
    abstains = float(re.search(r'^medcite_answers_total\{outcome="abstained"\} (\S+)$', text, re.M).group(1))  # type: ignore[union-attr]
    assert answered >= 1 and abstains >= 1
    assert 'medcite_http_requests_total{method="POST",route="/v1/ask",status="200"}' in text
    assert "medcite_http_request_duration_seconds_bucket" in text


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"question": "unterminated', "application/json"),
        (b"not json at all", "application/json"),
        (b'["a list"]', "application/json"),
        (b'"just a string"', "application/json"),
        (b'{"question": 42}', "application/json"),
        (b'{"question": null}', "application/json"),
        (b"{}", "application/json"),
        (b'{"question": ""}', "application/json"),
        (b'{"question": "   \\n\\t "}', "application/json"),
        (b'{"question": "ok?", "top_k": 0}', "application/json"),
        (b'{"question": "ok?", "top_k": 51}', "application/json"),
        (b'{"question": "ok?", "top_k": "5"}', "application/json"),
        (b'{"question": "ok?", "top_k": true}', "application/json"),
        (b'{"question": "ok?", "top_k": 2.5}', "application/json"),
        (b'{"question": "ok?", "topk": 5}', "application/json"),
        (b'{"question": "ok?"}', "text/plain"),
    ],
)
def test_bad_ask_bodies_are_422(client: TestClient, body: bytes, content_type: str) -> None:
    response = client.post("/v1/ask", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 422, response.text
    assert "detail" in response.json()


def test_question_length_limit(client: TestClient) -> None:
    response = client.post("/v1/ask", json={"question": "a" * 2001})
    assert response.status_code == 422
    assert "2000" in str(response.json()["detail"])


def test_question_of_2000_characters_after_trimming_is_accepted() -> None:
    from pydantic import ValidationError

    from qa_service.api.schemas import AskRequest

    assert AskRequest(question="  " + "a" * 2000 + "  ").question == "a" * 2000
    with pytest.raises(ValidationError):
        AskRequest(question="a" * 2001)


def test_oversized_json_body_is_413(client: TestClient) -> None:
    response = client.post(
        "/v1/ask",
        content=b'{"question": "' + b"a" * (2 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]


def test_ask_on_an_empty_store_is_409(tmp_path: Path, embedder: Any) -> None:
    from qa_service.api.app import create_app
    from qa_service.engine import Engine

    settings = make_settings(tmp_path / "empty")
    engine = Engine.open(settings, owner={"command": "pytest"}, embedder=embedder)
    try:
        with open_client(create_app(settings, engine=engine)) as c:
            response = c.post("/v1/ask", json={"question": ANSWERABLE})
            assert response.status_code == 409
            assert response.json() == {"detail": "no documents ingested: run `medcite ingest PATH`"}
            assert c.get("/v1/search", params={"q": "b12"}).status_code == 409
            assert {
                k: v for k, v in c.get("/health").json().items() if k in ("status", "documents", "chunks")
            } == {
                "status": "ok",
                "documents": 0,
                "chunks": 0,
            }
            assert c.get("/health").json()["backends"]["llm"] is None
            assert c.get("/v1/answers").json() == {
                "answers": [],
                "total": 0,
            }  # nothing served, nothing recorded
    finally:
        engine.close()
