"""POST /v1/quizzes: validation, a clear 503 without the quiz builder, the contract's items with it."""

from __future__ import annotations

import sys

import pytest
from fastapi.testclient import TestClient

QUIZ_ITEM_KEYS = {"id", "stem", "options", "answer_index", "rationale", "citations"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"topic": ""},
        {"topic": "   "},
        {"topic": 5},
        {"topic": "b12", "n": 0},
        {"topic": "b12", "n": 21},
        {"topic": "b12", "n": "3"},
        {"topic": "b12", "seed": 1.5},
        {"topic": "x" * 501},
        {"topic": "b12", "count": 3},
    ],
)
def test_bad_quiz_requests_are_422(client: TestClient, body: dict[str, object]) -> None:
    assert client.post("/v1/quizzes", json=body).status_code == 422


def test_without_the_quiz_builder_the_answer_is_503(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        sys.modules, "qa_service.quiz", None
    )  # makes the import fail as if it were not installed
    response = client.post("/v1/quizzes", json={"topic": "vitamin B12 deficiency"})
    assert response.status_code == 503
    assert "quiz" in response.json()["detail"]


def test_quiz_items_follow_the_contract(client: TestClient) -> None:
    quiz = pytest.importorskip("qa_service.quiz")
    if not hasattr(quiz, "build_quiz"):
        pytest.skip("qa_service.quiz has no build_quiz yet")
    response = client.post(
        "/v1/quizzes", json={"topic": "vitamin B12 deficiency in infants", "n": 2, "seed": 1}
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert 1 <= len(items) <= 2
    for item in items:
        assert set(item) >= QUIZ_ITEM_KEYS
        assert 0 <= item["answer_index"] < len(item["options"])
        assert item["citations"]
