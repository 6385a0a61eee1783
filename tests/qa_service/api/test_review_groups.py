"""Repeated asks form one review group; one review covers it; with named keys the reviewer is the key's holder."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from qa_service.models import Answer, Citation, Statement
from tests.qa_service.api.conftest import make_settings, open_client


def served(
    question: str, *, corpus: str = "corpus-v1", config: str = "cfg", text: str = "Give 1 mg."
) -> Answer:
    return Answer(
        id=uuid.uuid4().hex,
        question=question,
        answer=f"{text} [1]",
        abstained=False,
        statements=[Statement(text=text, citations=[1])],
        citations=[Citation(id=1, doc_id="d", source="s.txt", start=0, end=len(text), text=text, score=0.9)],
        config_hash=config,
        generator="extractive",
        latency_ms=10.0,
    )


def log(client: TestClient, answer: Answer, corpus: str = "corpus-v1") -> str:
    client.app.state.services.audit.record_answer(answer, corpus_version=corpus, role="local")  # type: ignore[attr-defined]
    return answer.id


def test_identical_asks_are_one_group_and_one_review_covers_it(client: TestClient) -> None:
    question = f"What dose of drug {uuid.uuid4().hex[:6]}?"
    ids = [log(client, served(question)) for _ in range(3)]
    ids.append(log(client, served(f"  {question.upper()} ")))  # same question, other case and spacing
    other_corpus = log(client, served(question), corpus="corpus-v2")
    other_config = log(client, served(question, config="cfg2"))
    other_text = log(client, served(question, text="Give 2 mg."))

    grouped = client.get("/v1/answers", params={"group": "true", "limit": 500}).json()
    mine = [r for r in grouped["answers"] if r["question"].lower().strip() == question.lower()]
    assert sorted(r["group"]["size"] for r in mine) == [1, 1, 1, 4]
    big = next(r for r in mine if r["group"]["size"] == 4)
    assert set(big["group"]["answer_ids"]) == set(ids)
    assert big["id"] == ids[-1]  # the newest ask represents its group

    reviewed = client.post(
        f"/v1/answers/{ids[0]}/review", json={"status": "approved", "reviewer": "Dr G", "comment": "checked"}
    ).json()
    assert reviewed["status"] == "approved" and reviewed["history"][-1]["event"] == "review"
    for other in ids[1:]:
        record = client.get(f"/v1/answers/{other}").json()
        assert record["status"] == "approved"
        event = record["history"][-1]
        assert (event["event"], event["reviewer"], event["comment"]) == ("group_review", "Dr G", "checked")
    for separate in (other_corpus, other_config, other_text):
        assert client.get(f"/v1/answers/{separate}").json()["status"] == "submitted"

    # Asked again after the review: a new ask waits for its own review (it may be a second opinion),
    # and its group says how the identical asks were decided.
    later = log(client, served(question))
    record = client.get(f"/v1/answers/{later}").json()
    assert record["status"] == "submitted" and record["history"] == []
    assert record["group"]["size"] == 5 and record["group"]["statuses"] == {"approved": 4, "submitted": 1}
    queue = client.get("/v1/answers", params={"group": "true", "status": "submitted", "limit": 500}).json()
    assert later in {r["id"] for r in queue["answers"]}


def test_answers_are_readable_by_id_with_history_only_for_reviewers(
    tmp_path: Path, corpus_engine: Any
) -> None:
    from qa_service.api.app import create_app

    keys = "read-key-0001:reader,rev-key-0001:reviewer:Dr A. Smith,rev-key-0002:reviewer"
    with open_client(create_app(make_settings(tmp_path, api_keys=keys), engine=corpus_engine)) as client:
        answer_id = log(client, served(f"Which dose {uuid.uuid4().hex[:6]}?"))
        reader = client.get(f"/v1/answers/{answer_id}", headers={"X-API-Key": "read-key-0001"})
        assert reader.status_code == 200 and reader.json()["answer"]["id"] == answer_id
        assert client.get("/v1/answers", headers={"X-API-Key": "read-key-0001"}).status_code == 403

        # a named key: the holder is the reviewer, whatever the body says
        named = client.post(
            f"/v1/answers/{answer_id}/review",
            json={"status": "under_review", "reviewer": "Mallory"},
            headers={"X-API-Key": "rev-key-0001"},
        )
        assert named.status_code == 200, named.text
        assert named.json()["history"][-1]["reviewer"] == "Dr A. Smith"
        assert (
            client.get(f"/v1/answers/{answer_id}", headers={"X-API-Key": "read-key-0001"}).json()["history"]
            == []
        )
        # an unnamed key must say who reviews
        unnamed = client.post(
            f"/v1/answers/{answer_id}/review",
            json={"status": "approved"},
            headers={"X-API-Key": "rev-key-0002"},
        )
        assert unnamed.status_code == 422 and "key:role:name" in unnamed.json()["detail"]
        me = client.get("/v1/me", headers={"X-API-Key": "rev-key-0001"}).json()
        assert me == {
            "auth": True,
            "role": "reviewer",
            "name": "Dr A. Smith",
            "permissions": ["read", "review"],
        }


def test_the_answer_page_is_served_at_its_own_address(client: TestClient) -> None:
    answer_id = log(client, served(f"Which route {uuid.uuid4().hex[:6]}?"))
    page = client.get(f"/answers/{answer_id}")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert client.get(f"/v1/answers/{answer_id}").json()["id"] == answer_id
    assert client.get("/v1/answers/not-an-answer").status_code == 404


def test_reviewer_agreement_counts_only_reviewers_own_verdicts(tmp_path: Path) -> None:
    """A group review's copies and evidence-changed events are not verdicts (eval agreement reads the log)."""
    from eval.agreement import read_judgements_database
    from qa_service.audit import AuditLog, ReviewStatus

    url = f"sqlite:///{tmp_path / 'audit.db'}"
    audit = AuditLog(url)
    first, second = served("Dose?"), served("Dose?")
    for answer in (first, second):
        audit.record_answer(answer, corpus_version="v", role="local")
    audit.review(first.id, status=ReviewStatus.APPROVED, reviewer="ann", role="reviewer")  # covers `second`
    audit.mark_evidence_changed(
        first.id, doc_id="d", document="s.txt", citations=[1], content_hash="deleted", how="deleted"
    )
    audit.add_event(first.id, event="recheck", comment="asked again", reviewer="ann", role="reviewer")
    audit.close()
    assert [(who, status) for _, who, status in read_judgements_database(url)] == [("ann", "approved")]
