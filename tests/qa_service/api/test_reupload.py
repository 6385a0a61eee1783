"""One source name is one document, through either door: POST /v1/documents after `medcite ingest`, and back.

Each test runs the real CLI (click) and the real app (its own Engine over the same data
dir, opened after the CLI released it), with the session's model.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from qa_service.cli import cli
from tests.qa_service.api.conftest import make_settings, open_client

NAME = "cobalamin-dosing.md"
V1 = b"# Cobalamin dosing\n\nInfants with B12 deficiency receive hydroxocobalamin 250 micrograms weekly.\n"
V2 = b"# Cobalamin dosing\n\nInfants with B12 deficiency receive hydroxocobalamin 1000 micrograms weekly.\n"
V3 = b"# Cobalamin dosing\n\nInfants with B12 deficiency receive hydroxocobalamin 500 micrograms weekly.\n"
COUNTS = ("added", "updated", "unchanged", "removed")


@pytest.fixture(autouse=True)
def _reuse_loaded_model(monkeypatch: pytest.MonkeyPatch, embedder: Any) -> None:
    """The CLI and the app each build their own store; hand them the session's model."""
    monkeypatch.setattr("ingest.store.load_embedder", lambda *_a, **_k: embedder)


@contextmanager
def api(data_dir: Path) -> Iterator[TestClient]:
    """The service over ``data_dir`` (owning it while open, like `medcite serve`)."""
    from qa_service.api.app import create_app

    with open_client(create_app(make_settings(data_dir))) as client:
        yield client


def cli_ingest(folder: Path, data_dir: Path) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["ingest", str(folder), "--json", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def cli_documents(data_dir: Path) -> list[dict[str, Any]]:
    result = CliRunner().invoke(cli, ["documents", "--json", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["documents"]


def cli_text(data_dir: Path, doc_id: str) -> str:
    result = CliRunner().invoke(cli, ["documents", "show", doc_id, "--json", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["text"]


def upload(client: TestClient, name: str, data: bytes) -> dict[str, Any]:
    response = client.post("/v1/documents", files=[("files", (name, io.BytesIO(data)))])
    assert response.status_code == 200, response.text
    return response.json()


def counts(summary: dict[str, Any]) -> dict[str, int]:
    assert summary["errors"] == []
    return {k: summary[k] for k in COUNTS if summary[k]}


def write(folder: Path, data: bytes) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / NAME).write_bytes(data)
    return folder


def test_upload_after_cli_ingest_replaces_the_document(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert counts(cli_ingest(write(tmp_path / "guidelines", V1), data)) == {"added": 1}
    (doc_id,) = [d["doc_id"] for d in cli_documents(data)]

    with api(data) as client:
        assert counts(upload(client, NAME, V1)) == {"unchanged": 1}
        assert not (data / "uploads" / NAME).exists()  # no second copy of an unchanged file
        assert counts(upload(client, NAME, V2)) == {"updated": 1}
        (listed,) = client.get("/v1/documents").json()["documents"]
        assert (listed["doc_id"], listed["source"]) == (doc_id, NAME)
        text = client.get(f"/v1/documents/{doc_id}").json()["text"]
        assert "1000 micrograms" in text and "250 micrograms" not in text
        passages = client.get("/v1/search", params={"q": "hydroxocobalamin weekly infants", "k": 5}).json()
        assert {p["doc_id"] for p in passages["passages"]} == {doc_id}
        assert all("250 micrograms" not in p["text"] for p in passages["passages"])
        assert counts(upload(client, NAME, V2)) == {"unchanged": 1}

    assert [d["doc_id"] for d in cli_documents(data)] == [doc_id]


def test_cli_ingest_after_upload_replaces_the_document(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with api(data) as client:
        assert counts(upload(client, NAME, V1)) == {"added": 1}
        (doc_id,) = [d["doc_id"] for d in client.get("/v1/documents").json()["documents"]]

    folder = write(tmp_path / "guidelines", V1)
    assert counts(cli_ingest(folder, data)) == {"unchanged": 1}
    write(folder, V2)
    assert counts(cli_ingest(folder, data)) == {"updated": 1}
    (listed,) = cli_documents(data)
    assert (listed["doc_id"], listed["source"]) == (doc_id, NAME)
    assert "1000 micrograms" in cli_text(data, doc_id)

    with api(data) as client:  # and the API again: still one document
        assert counts(upload(client, NAME, V3)) == {"updated": 1}
        (listed,) = client.get("/v1/documents").json()["documents"]
        assert listed["doc_id"] == doc_id
        assert "500 micrograms" in client.get(f"/v1/documents/{doc_id}").json()["text"]
