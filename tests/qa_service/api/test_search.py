"""GET /v1/search: the contract's passages, best first, and 422 for bad parameters."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

PASSAGE_KEYS = {"doc_id", "source", "title", "section", "start", "end", "text", "score"}


def test_search_returns_passages_best_first(client: TestClient) -> None:
    response = client.get("/v1/search", params={"q": "cobalamin dose for infants", "k": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["query"] == "cobalamin dose for infants"
    passages = body["passages"]
    assert 1 <= len(passages) <= 3
    assert all(set(p) == PASSAGE_KEYS for p in passages)
    scores = [p["score"] for p in passages]
    assert scores == sorted(scores, reverse=True)
    doc = client.get(f"/v1/documents/{passages[0]['doc_id']}").json()
    assert doc["text"][passages[0]["start"] : passages[0]["end"]] == passages[0]["text"]


def test_search_default_k_is_five(client: TestClient) -> None:
    response = client.get("/v1/search", params={"q": "vitamin B12"})
    assert response.status_code == 200
    assert len(response.json()["passages"]) == 5


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 2001},
        {"q": "b12", "k": 0},
        {"q": "b12", "k": 51},
        {"q": "b12", "k": "five"},
    ],
)
def test_bad_search_parameters_are_422(client: TestClient, params: dict[str, object]) -> None:
    response = client.get("/v1/search", params=params)
    assert response.status_code == 422, response.text
    assert "detail" in response.json()
