"""Evidence drift: a document edit that changes a dose flags the approved answer, puts it back in the
review queue, and a recheck shows the difference. Through the API (upload, delete) and the CLI (ingest)."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from tests.conftest import CORPUS
from tests.qa_service.api.conftest import make_settings, open_client

QUESTION = "What oral zinc dose is recommended for adults with zinc deficiency?"
NOTE = (
    "Zinc replacement protocol\n\n"
    "Background\n\n"
    "Zinc deficiency in adults causes dermatitis, diarrhoea and poor wound healing.\n\n"
    "Dosing\n\n"
    "For adults with zinc deficiency, give oral zinc {dose} once daily for 12 weeks.\n"
)
INSERTED = "Scope\n\nThis protocol applies to outpatient clinics and was reviewed by the pharmacy team.\n\n"


def upload(client: TestClient, name: str, text: str) -> dict[str, Any]:
    response = client.post("/v1/documents", files=[("files", (name, io.BytesIO(text.encode())))])
    assert response.status_code == 200, response.text
    return response.json()


def doc_id_of(client: TestClient, source: str) -> str:
    return next(d["doc_id"] for d in client.get("/v1/documents").json()["documents"] if d["source"] == source)


def ask_citing(client: TestClient, source: str) -> dict[str, Any]:
    answer = client.post("/v1/ask", json={"question": QUESTION}).json()
    assert not answer["abstained"], answer
    assert any(c["source"] == source for c in answer["citations"]), answer["citations"]
    return answer


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[TestClient]:
    """A store of its own (corpus/ only): what the answers say must not depend on other modules' uploads."""
    from ingest.pipeline import ingest_paths
    from qa_service.api.app import create_app
    from qa_service.engine import Engine

    settings = make_settings(tmp_path_factory.mktemp("drift-store"))
    engine = Engine.open(settings, owner={"command": "pytest"}, embedder=embedder)
    try:
        ingest_paths(engine.store, [CORPUS])
        with open_client(create_app(settings, engine=engine)) as c:
            yield c
    finally:
        engine.close()


def test_editing_a_dose_flags_the_approved_answer_and_recheck_shows_the_change(client: TestClient) -> None:
    name = "zinc-protocol-dose-edit.txt"
    assert upload(client, name, NOTE.format(dose="50 mg"))["added"] == 1
    answer = ask_citing(client, name)
    cited = [c["id"] for c in answer["citations"] if c["source"] == name and "50 mg" in c["text"]]
    assert cited, "the dose sentence is cited"
    approved = client.post(
        f"/v1/answers/{answer['id']}/review",
        json={"status": "approved", "reviewer": "Dr Q", "comment": "dose ok"},
    ).json()
    assert approved["status"] == "approved" and approved["evidence_changed"] is False

    assert upload(client, name, NOTE.format(dose="25 mg"))["updated"] == 1  # the protocol now says 25 mg

    record = client.get(f"/v1/answers/{answer['id']}").json()
    assert record["evidence_changed"] is True
    assert set(cited) <= set(record["changed_citations"])
    assert record["status"] == "submitted" and "approved" in record["allowed_next"]  # back in the queue
    event = record["history"][-1]
    assert event["event"] == "evidence_changed" and event["document"] == name
    assert event["previous_status"] == "approved" and event["status"] == "submitted"
    assert name in event["comment"]
    queue = client.get("/v1/answers", params={"status": "submitted", "evidence_changed": "true"}).json()
    assert answer["id"] in {r["id"] for r in queue["answers"]}

    diff = client.post(f"/v1/answers/{answer['id']}/recheck").json()
    assert diff["id"] == answer["id"] and diff["before"]["id"] == answer["id"]
    assert any("50 mg" in s for s in diff["statements_removed"]), diff["statements_removed"]
    assert any("25 mg" in s for s in diff["statements_added"]), diff["statements_added"]
    assert not any("50 mg" in s["text"] for s in diff["after"]["statements"])
    assert isinstance(diff["new_conflicts"], list)
    # the new answer is served, so it is recorded; the old one notes the recheck
    assert client.get(f"/v1/answers/{diff['after']['id']}").status_code == 200
    assert client.get(f"/v1/answers/{answer['id']}").json()["history"][-1]["event"] == "recheck"

    # marking is idempotent: checking again adds no event
    from qa_service.audit.drift import check_drift

    services = client.app.state.services  # type: ignore[attr-defined]
    before = len(client.get(f"/v1/answers/{answer['id']}").json()["history"])
    assert check_drift(services.audit, services.engine.store).flagged == []
    assert len(client.get(f"/v1/answers/{answer['id']}").json()["history"]) == before


def test_moved_text_is_not_a_change_and_recheck_reports_the_move(client: TestClient) -> None:
    name = "zinc-protocol-moved.txt"
    upload(client, name, NOTE.format(dose="40 mg"))
    answer = ask_citing(client, name)
    text = NOTE.format(dose="40 mg")
    moved = text.replace("Background\n\n", INSERTED + "Background\n\n")  # same sentences, later offsets
    assert upload(client, name, moved)["updated"] == 1
    record = client.get(f"/v1/answers/{answer['id']}").json()
    assert record["evidence_changed"] is False and record["changed_citations"] == []
    diff = client.post(f"/v1/answers/{answer['id']}/recheck").json()
    shifted = {m["id"]: m for m in diff["citations_moved"]}
    for c in answer["citations"]:
        if c["source"] == name:
            assert shifted[c["id"]]["new_start"] == c["start"] + len(INSERTED)


def test_deleting_a_cited_document_flags_its_answers(client: TestClient) -> None:
    name = "zinc-protocol-deleted.txt"
    upload(client, name, NOTE.format(dose="45 mg"))
    answer = ask_citing(client, name)
    ours = sorted(c["id"] for c in answer["citations"] if c["source"] == name)
    assert client.delete(f"/v1/documents/{doc_id_of(client, name)}").status_code == 204
    record = client.get(f"/v1/answers/{answer['id']}").json()
    assert record["evidence_changed"] is True and set(ours) <= set(record["changed_citations"])
    assert record["status"] == "submitted"
    assert "deleted" in record["history"][-1]["comment"]


def test_cli_ingest_of_an_edited_file_flags_answers_and_audit_recheck_prints_the_diff(
    tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI path: an answer logged by the API, the file edited and re-ingested with `medcite ingest`."""
    from ingest.pipeline import ingest_paths
    from qa_service.audit import AuditLog, ReviewStatus
    from qa_service.audit.drift import cited_hashes
    from qa_service.cli import cli
    from qa_service.engine import Engine

    folder = tmp_path / "docs"
    shutil.copytree(CORPUS, folder)
    (folder / "zinc.txt").write_text(NOTE.format(dose="50 mg"), encoding="utf-8")
    settings = make_settings(tmp_path / "data")
    engine = Engine.open(settings, owner={"command": "pytest"}, embedder=embedder)
    audit = AuditLog.open(settings)
    try:
        ingest_paths(engine.store, [folder])
        answer = engine.ask(QUESTION)
        assert any(c.source == "zinc.txt" for c in answer.citations)
        audit.record_answer(
            answer,
            corpus_version=engine.store.corpus_version(),
            role="local",
            cited_hashes=cited_hashes(engine.store, answer),
        )
        audit.review(answer.id, status=ReviewStatus.APPROVED, reviewer="Dr Q", role="local")
    finally:
        engine.close()

    (folder / "zinc.txt").write_text(NOTE.format(dose="25 mg"), encoding="utf-8")
    monkeypatch.setenv("MEDCITE_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()
    result = runner.invoke(cli, ["ingest", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    assert "evidence of 1 logged answer" in result.stderr

    record = audit.get(answer.id)
    assert record.evidence_changed and record.status is ReviewStatus.SUBMITTED
    assert record.history[-1].document == "zinc.txt"

    from qa_service.cli import _register_optional_commands

    _register_optional_commands()
    rechecked = runner.invoke(cli, ["audit", "recheck", "--json"])
    assert rechecked.exit_code == 0, rechecked.output
    import json

    lines = [json.loads(line) for line in rechecked.stdout.splitlines() if line.strip()]
    assert [line["id"] for line in lines] == [answer.id]
    assert any("50 mg" in s for s in lines[0]["statements_removed"])
    assert any("25 mg" in s for s in lines[0]["statements_added"])
    audit.close()
