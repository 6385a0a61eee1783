"""/v1/answers: the audit log and the review workflow (transitions, 409s, history, filters)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa_service.models import Answer, Citation, Statement


def record(client: TestClient, question: str | None = None) -> str:
    """Put an answer in the audit log as POST /v1/ask would (without spending an ask on it).

    Each call asks a question of its own unless one is given: identical asks form one review group.
    """
    question = question or f"What dose? (case {uuid.uuid4().hex[:8]})"
    answer = Answer(
        id=uuid.uuid4().hex,
        question=question,
        answer="Give 1 mg. [1]",
        abstained=False,
        statements=[Statement(text="Give 1 mg.", citations=[1])],
        citations=[Citation(id=1, doc_id="d", source="s.txt", start=0, end=10, text="Give 1 mg.", score=0.9)],
        config_hash="cfg",
        generator="extractive",
        latency_ms=12.5,
    )
    client.app.state.services.audit.record_answer(answer, corpus_version="corpus-v1", role="local")  # type: ignore[attr-defined]
    return answer.id


def review(client: TestClient, answer_id: str, status: str, **extra: Any) -> Any:
    return client.post(
        f"/v1/answers/{answer_id}/review", json={"status": status, "reviewer": "Dr Who", **extra}
    )


@pytest.mark.parametrize(
    "path",
    [
        ["under_review", "approved"],
        ["under_review", "rejected"],
        ["approved"],
        ["rejected"],
    ],
)
def test_allowed_paths_end_in_a_final_status(client: TestClient, path: list[str]) -> None:
    answer_id = record(client)
    for step in path:
        response = review(client, answer_id, step, comment=f"moving to {step}")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == step
    body = response.json()
    assert [h["status"] for h in body["history"]] == path
    assert [h["previous_status"] for h in body["history"]] == ["submitted", *path[:-1]]
    assert body["allowed_next"] == []


@pytest.mark.parametrize(
    ("path", "invalid"),
    [
        (["approved"], "rejected"),
        (["approved"], "under_review"),
        (["approved"], "approved"),
        (["rejected"], "approved"),
        (["rejected"], "under_review"),
        (["under_review"], "under_review"),
    ],
)
def test_invalid_transitions_are_409(client: TestClient, path: list[str], invalid: str) -> None:
    answer_id = record(client)
    for step in path:
        assert review(client, answer_id, step).status_code == 200
    response = review(client, answer_id, invalid)
    assert response.status_code == 409
    assert f"cannot move to {invalid}" in response.json()["detail"]
    history = client.get("/v1/answers").json()["answers"]
    assert [
        h["status"] for h in next(r for r in history if r["id"] == answer_id)["history"]
    ] == path  # unchanged


def test_review_history_keeps_reviewer_comment_role_and_time(client: TestClient) -> None:
    answer_id = record(client)
    review(client, answer_id, "under_review", comment="checking the dose against the BNF")
    body = client.post(
        f"/v1/answers/{answer_id}/review", json={"status": "approved", "reviewer": "  Dr A. Smith  "}
    ).json()
    first, second = body["history"]
    assert first == {
        "status": "under_review",
        "previous_status": "submitted",
        "reviewer": "Dr Who",
        "role": "local",
        "comment": "checking the dose against the BNF",
        "at": first["at"],
        "event": "review",
        "document": None,
    }
    assert second["reviewer"] == "Dr A. Smith" and second["comment"] is None
    assert datetime.fromisoformat(first["at"]) <= datetime.fromisoformat(second["at"])
    assert datetime.fromisoformat(second["at"]).utcoffset() is not None
    assert body["updated_at"] == second["at"]


def test_filter_by_status(client: TestClient) -> None:
    approved, rejected, waiting = record(client), record(client), record(client)
    review(client, approved, "approved")
    review(client, rejected, "rejected")
    for status, member in (("approved", approved), ("rejected", rejected), ("submitted", waiting)):
        body = client.get("/v1/answers", params={"status": status}).json()
        assert all(r["status"] == status for r in body["answers"])
        assert member in {r["id"] for r in body["answers"]}
        assert body["total"] == len(body["answers"])
    everything = client.get("/v1/answers").json()
    assert {approved, rejected, waiting} <= {r["id"] for r in everything["answers"]}


def test_list_is_newest_first_and_paged(client: TestClient) -> None:
    ids = [record(client, f"question {i}") for i in range(3)]
    page = client.get("/v1/answers", params={"limit": 2}).json()
    assert [r["id"] for r in page["answers"]] == ids[::-1][:2]
    assert page["total"] >= 3
    assert client.get("/v1/answers", params={"limit": 2, "offset": 1}).json()["answers"][0]["id"] == ids[1]


@pytest.mark.parametrize(
    "params", [{"status": "bogus"}, {"status": "SUBMITTED"}, {"limit": 0}, {"limit": 501}, {"offset": -1}]
)
def test_bad_list_parameters_are_422(client: TestClient, params: dict[str, object]) -> None:
    assert client.get("/v1/answers", params=params).status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"status": "submitted", "reviewer": "x"},
        {"status": "done", "reviewer": "x"},
        {"status": "approved"},
        {"status": "approved", "reviewer": ""},
        {"status": "approved", "reviewer": "   "},
        {"status": "approved", "reviewer": 7},
        {"status": "approved", "reviewer": "x", "comment": "c" * 5001},
        {"status": "approved", "reviewer": "x", "extra": 1},
    ],
)
def test_bad_review_bodies_are_422(client: TestClient, body: dict[str, object]) -> None:
    answer_id = record(client)
    response = client.post(f"/v1/answers/{answer_id}/review", json=body)
    assert response.status_code == 422, response.text


def test_review_of_unknown_answer_is_404(client: TestClient) -> None:
    response = review(client, "no-such-answer", "approved")
    assert response.status_code == 404
    assert "no answer" in response.json()["detail"]
