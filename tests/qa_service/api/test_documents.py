"""/v1/documents: list and read, upload through the ingest pipeline, limits, unsafe names, delete."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.qa_service.api.conftest import make_settings, open_client

DOCUMENT_KEYS = {"doc_id", "source", "title", "format", "chars", "chunks", "ingested_at"}
SUMMARY_KEYS = {"added", "updated", "unchanged", "removed", "chunks", "errors"}
ZINC = (
    "# Zinc for acute diarrhoea in children\n\n"
    "## Dosing\n\n"
    "Children older than 6 months with acute diarrhoea should receive zinc sulfate 20 mg once daily "
    "for 10 to 14 days.\n\n"
    "Infants younger than 6 months should receive zinc sulfate 10 mg once daily for 10 to 14 days.\n"
)


@pytest.fixture(scope="module")
def docs_client(tmp_path_factory: pytest.TempPathFactory, writable_engine: Any) -> Iterator[TestClient]:
    """An app over the writable engine, with small limits so they are cheap to hit."""
    from qa_service.api.app import create_app

    settings = make_settings(tmp_path_factory.mktemp("docs-api"), max_upload_files=3, max_upload_mb=1)
    with open_client(create_app(settings, engine=writable_engine)) as c:
        yield c


def upload(client: TestClient, *files: tuple[str, bytes]) -> Any:
    return client.post("/v1/documents", files=[("files", (name, io.BytesIO(data))) for name, data in files])


def sources(client: TestClient) -> set[str]:
    return {d["source"] for d in client.get("/v1/documents").json()["documents"]}


# ---------------------------------------------------------------- reads (shared corpus engine)
def test_list_documents_is_the_contract_object(client: TestClient) -> None:
    response = client.get("/v1/documents")
    assert response.status_code == 200
    docs = response.json()["documents"]
    assert {d["source"] for d in docs} >= {"b12-infant-case-report.txt", "b12-under-2-treatment-answer.txt"}
    assert all(set(d) == DOCUMENT_KEYS for d in docs)


def test_read_one_document_with_text(client: TestClient) -> None:
    first = client.get("/v1/documents").json()["documents"][0]
    response = client.get(f"/v1/documents/{first['doc_id']}")
    assert response.status_code == 200
    doc = response.json()
    assert set(doc) == DOCUMENT_KEYS | {"text"}
    assert len(doc["text"]) == doc["chars"] == first["chars"]


@pytest.mark.parametrize("doc_id", ["no-such-doc", "..%2F..%2Fetc%2Fpasswd", "x" * 300])
def test_unknown_document_is_404(client: TestClient, doc_id: str) -> None:
    response = client.get(f"/v1/documents/{doc_id}")
    assert response.status_code == 404
    assert response.json()["detail"]  # "no document with id ..." (or "Not Found" when the id holds a '/')


# ---------------------------------------------------------------- upload
def test_upload_then_ask_finds_the_new_document(docs_client: TestClient, writable_engine: Any) -> None:
    response = upload(docs_client, ("zinc-guideline.md", ZINC.encode()))
    assert response.status_code == 200, response.text
    summary = response.json()
    assert set(summary) == SUMMARY_KEYS
    assert summary["added"] == 1 and summary["chunks"] >= 1 and summary["errors"] == []
    docs = {d["source"]: d for d in docs_client.get("/v1/documents").json()["documents"]}
    assert docs["zinc-guideline.md"]["format"] == "md"
    answer = docs_client.post(
        "/v1/ask", json={"question": "What dose of zinc sulfate for a child with acute diarrhoea?"}
    ).json()
    assert answer["abstained"] is False, answer
    zinc_id = docs["zinc-guideline.md"]["doc_id"]
    assert any(c["doc_id"] == zinc_id for c in answer["citations"])
    assert "20 mg" in answer["answer"] or "10 mg" in answer["answer"]
    assert docs_client.get("/health").json()["documents"] == writable_engine.store.stats()["documents"]


def test_reupload_is_unchanged_and_a_changed_file_replaces_the_document(docs_client: TestClient) -> None:
    first = upload(
        docs_client, ("replace-me.txt", b"Folic acid 400 micrograms daily before conception.")
    ).json()
    assert first["added"] == 1
    assert (
        upload(docs_client, ("replace-me.txt", b"Folic acid 400 micrograms daily before conception.")).json()[
            "unchanged"
        ]
        == 1
    )
    changed = upload(docs_client, ("replace-me.txt", b"Folic acid 5 mg daily for women at high risk.")).json()
    assert changed["updated"] == 1
    doc_id = next(
        d["doc_id"]
        for d in docs_client.get("/v1/documents").json()["documents"]
        if d["source"] == "replace-me.txt"
    )
    assert "5 mg" in docs_client.get(f"/v1/documents/{doc_id}").json()["text"]


def test_client_file_names_are_never_paths(docs_client: TestClient, writable_engine: Any) -> None:
    response = upload(
        docs_client, ("../../../escape attempt.txt", b"Iron 3 mg/kg/day for iron deficiency anaemia.")
    )
    assert response.status_code == 200, response.text
    assert "escape attempt.txt" in sources(docs_client)
    uploads = Path(writable_engine.store.data_dir) / "uploads"
    assert (uploads / "escape attempt.txt").is_file()
    assert not (uploads.parent.parent / "escape attempt.txt").exists()


@pytest.mark.parametrize("name", ["virus.exe", "notes", "archive.tar.gz", "image.PNG"])
def test_unsupported_types_are_415_and_nothing_is_ingested(docs_client: TestClient, name: str) -> None:
    before = sources(docs_client)
    response = upload(docs_client, ("fine.txt", b"Vitamin D 400 IU daily."), (name, b"\x00\x01binary"))
    assert response.status_code == 415
    assert "unsupported file type" in response.json()["detail"]
    assert sources(docs_client) == before


def test_too_many_files_is_422(docs_client: TestClient) -> None:
    files = [(f"f{i}.txt", b"text") for i in range(4)]
    response = upload(docs_client, *files)
    assert response.status_code == 422
    assert "too many files" in response.json()["detail"]


def test_file_over_the_size_limit_is_413(docs_client: TestClient) -> None:
    big = b"Vitamin A dosing. " * (1024 * 1024 // 18 + 10)  # just over 1 MB
    response = upload(docs_client, ("big.txt", big))
    assert response.status_code == 413
    assert "1 MB" in response.json()["detail"]
    assert "big.txt" not in sources(docs_client)


def test_whole_upload_over_the_request_limit_is_413_json(docs_client: TestClient) -> None:
    response = docs_client.post(
        "/v1/documents",
        content=b"x" * (4 * 1024 * 1024 + 1),
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 413
    assert "at most 3 files of 1 MB each" in response.json()["detail"]


@pytest.mark.parametrize(
    ("files", "fragment"),
    [
        ([("empty.txt", b"")], "nothing could be ingested"),
        ([("broken.pdf", b"%PDF-1.4 this is not really a pdf")], "nothing could be ingested"),
        ([("twice.txt", b"a"), ("twice.txt", b"b")], "twice"),
        ([("...", b"text")], "no usable characters"),
    ],
)
def test_unreadable_or_ambiguous_uploads_are_422(
    docs_client: TestClient, files: list[tuple[str, bytes]], fragment: str
) -> None:
    response = upload(docs_client, *files)
    assert response.status_code == 422, response.text
    assert fragment in response.json()["detail"]


def test_missing_files_field_is_422(docs_client: TestClient) -> None:
    assert docs_client.post("/v1/documents").status_code == 422
    assert docs_client.post("/v1/documents", data={"other": "x"}).status_code == 422


def test_partly_readable_upload_reports_the_bad_file(docs_client: TestClient, writable_engine: Any) -> None:
    response = upload(
        docs_client,
        ("good-one.txt", b"Vitamin K 1 mg intramuscular at birth."),
        ("bad-one.pdf", b"%PDF-nope"),
    )
    assert response.status_code == 200
    summary = response.json()
    assert summary["added"] == 1
    assert [e["source"] for e in summary["errors"]] == ["bad-one.pdf"]
    assert not (Path(writable_engine.store.data_dir) / "uploads" / "bad-one.pdf").exists()


# ---------------------------------------------------------------- delete
def test_delete_document_then_it_is_gone(docs_client: TestClient, writable_engine: Any) -> None:
    assert upload(docs_client, ("delete-me.txt", b"Thiamine 100 mg before glucose.")).status_code == 200
    doc_id = next(
        d["doc_id"]
        for d in docs_client.get("/v1/documents").json()["documents"]
        if d["source"] == "delete-me.txt"
    )
    response = docs_client.delete(f"/v1/documents/{doc_id}")
    assert response.status_code == 204 and response.content == b""
    assert docs_client.get(f"/v1/documents/{doc_id}").status_code == 404
    assert docs_client.delete(f"/v1/documents/{doc_id}").status_code == 404
    assert not (Path(writable_engine.store.data_dir) / "uploads" / "delete-me.txt").exists()
    hits = docs_client.get("/v1/search", params={"q": "thiamine before glucose", "k": 10}).json()["passages"]
    assert all(p["doc_id"] != doc_id for p in hits)


def test_safe_filename_rules() -> None:
    from ingest.errors import UsageError
    from qa_service.api.uploads import safe_filename

    assert safe_filename("../../etc/passwd.txt") == "passwd.txt"
    assert safe_filename("C:\\Users\\me\\Guide.PDF") == "Guide.PDF"
    assert safe_filename(".hidden.md") == "hidden.md"
    assert safe_filename("a<b>|c?.md") == "a_b_c_.md"
    assert (
        safe_filename("x" * 300 + ".docx").endswith(".docx")
        and len(safe_filename("x" * 300 + ".docx")) == 120
    )
    for bad in ("", None, "..", "/", "../.."):
        with pytest.raises(UsageError):
            safe_filename(bad)
