"""POST /v1/documents with upload bombs and oversized files: refused per file, nothing stored, rest ingested.

The checks live in the loaders (``ingest.loaders.limits``), so these tests and the CLI's
(``tests/qa_service/test_cli_ingest_limits.py``) cover one mechanism from both doors.
Refusal time and server memory are measured by ``benchmarks/upload_bomb.py``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingest.settings import IngestLimits
from tests.ingest import bombs
from tests.qa_service.api.conftest import make_settings, open_client

MB = 1024 * 1024
GOOD = b"# Iron\n\nOral ferrous sulfate 3 mg/kg elemental iron daily treats iron deficiency anaemia.\n"


@pytest.fixture(scope="module")
def upload_client(tmp_path_factory: pytest.TempPathFactory, writable_engine: Any) -> Iterator[TestClient]:
    """The service over the writable engine with the default upload limits (20 MB a file)."""
    from qa_service.api.app import create_app

    with open_client(
        create_app(make_settings(tmp_path_factory.mktemp("limits-api")), engine=writable_engine)
    ) as c:
        yield c


def upload(client: TestClient, *files: tuple[str, bytes]) -> Any:
    return client.post("/v1/documents", files=[("files", (name, io.BytesIO(data))) for name, data in files])


def listed(client: TestClient) -> list[dict[str, Any]]:
    return client.get("/v1/documents").json()["documents"]


def uploads_dir(engine: Any) -> Path:
    return Path(engine.store.data_dir) / "uploads"


def assert_nothing_left(engine: Any, *names: str) -> None:
    """No file of the refused upload kept, no staging folder left, no orphan vectors."""
    folder = uploads_dir(engine)
    for name in names:
        assert not (folder / name).exists(), name
    assert not any((folder / ".incoming").glob("*/*"))
    chunks = engine.store.docs.counts()[1]
    assert engine.store.vectors.count() == chunks


def test_the_issue_bomb_alone_is_422_with_its_reason(
    upload_client: TestClient, writable_engine: Any, zip_bomb: Path
) -> None:
    before = listed(upload_client)
    response = upload(upload_client, ("bomb.docx", zip_bomb.read_bytes()))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith("nothing could be ingested (bomb.docx: DOCX unpacks to 401 MB (from 1.")
    assert "MEDCITE_INGEST_LIMITS__MAX_UNPACKED_MB" in detail and "possible zip bomb" in detail
    assert listed(upload_client) == before
    assert_nothing_left(writable_engine, "bomb.docx")
    assert upload_client.get("/health").json()["status"] == "ok"


def test_bombs_among_good_files_are_reported_and_the_rest_ingested(
    upload_client: TestClient, writable_engine: Any, zip_bomb: Path, tmp_path: Path
) -> None:
    files = [
        ("iron-note.md", GOOD),
        ("bomb-2.docx", zip_bomb.read_bytes()),
        ("ratio.docx", bombs.write_docx(tmp_path / "ratio.docx", document_mb=30, variety=0.0).read_bytes()),
        ("pages.pdf", bombs.make_pdf(10_000)),
        ("lying.pdf", bombs.make_pdf(2_500, declared=3)),
        ("long-book.pdf", bombs.make_pdf(1_900)),  # huge but legitimate: passes
    ]
    assert sum(1 for name, _ in files if name.endswith(".pdf")) == 3

    response = upload(upload_client, *files)

    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["added"] == 2
    errors = {e["source"]: e["error"] for e in summary["errors"]}
    assert sorted(errors) == ["bomb-2.docx", "lying.pdf", "pages.pdf", "ratio.docx"]
    assert (
        errors["pages.pdf"]
        == "PDF has 10,000 pages; the limit is 2,000 (MEDCITE_INGEST_LIMITS__MAX_PDF_PAGES)"
    )
    assert errors["lying.pdf"].startswith("PDF has more than 2,000 pages")
    assert "possible zip bomb" in errors["bomb-2.docx"] and "possible zip bomb" in errors["ratio.docx"]
    sources = {d["source"] for d in listed(upload_client)}
    assert {"iron-note.md", "long-book.pdf"} <= sources
    assert not sources & set(errors)
    assert_nothing_left(writable_engine, *errors)
    book = next(d for d in listed(upload_client) if d["source"] == "long-book.pdf")
    assert upload_client.get(f"/v1/documents/{book['doc_id']}").json()["text"].count("Page of") == 1_900


@pytest.mark.parametrize(
    ("limit", "name", "make", "expected"),
    [
        (
            "max_file_mb",
            "scan.pdf",
            lambda p: bombs.write_sized(p, 2 * MB, b"%PDF-1.4\n"),
            "file is 2.0 MB; the limit is 1 MB",
        ),
        (
            "max_unpacked_mb",
            "page.html",
            lambda p: bombs.write_sized(p, 2 * MB, b"<p>x</p>"),
            "HTML file is 2.0 MB",
        ),
        (
            "max_compression_ratio",
            "dense.docx",
            lambda p: bombs.write_docx(p, 2, variety=0.05),
            "times its compressed",
        ),
        ("max_zip_entries", "parts.docx", lambda p: bombs.write_many_parts_docx(p, 40), "DOCX holds"),
        ("max_pdf_pages", "five.pdf", lambda p: bombs.write_pdf(p, 5), "PDF has 5 pages; the limit is 4"),
        (
            "max_text_chars",
            "wordy.txt",
            lambda p: bombs.write_long_text(p, 30_000),
            "more than 20,000 characters",
        ),
    ],
)
def test_each_limit_applies_to_uploads(
    upload_client: TestClient,
    writable_engine: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    limit: str,
    name: str,
    make: Any,
    expected: str,
) -> None:
    """Each limit, lowered in the service's settings, refuses an upload that passes by default."""
    low = {
        "max_file_mb": 1,
        "max_unpacked_mb": 1,
        "max_compression_ratio": 10,
        "max_zip_entries": 30,
        "max_pdf_pages": 4,
        "max_text_chars": 20_000,
    }
    monkeypatch.setattr(writable_engine.store.settings, "ingest_limits", IngestLimits(**{limit: low[limit]}))
    before = listed(upload_client)
    response = upload(upload_client, (name, make(tmp_path / name).read_bytes()))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert expected in detail and f"MEDCITE_INGEST_LIMITS__{limit.upper()}" in detail
    assert listed(upload_client) == before
    assert_nothing_left(writable_engine, name)
