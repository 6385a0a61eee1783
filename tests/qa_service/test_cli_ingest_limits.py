"""`medcite ingest` with upload bombs and oversized files: each refused with its reason, the rest ingested.

The same files through ``POST /v1/documents`` are in ``tests/qa_service/api/test_upload_limits.py``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa_service.cli import cli
from tests.ingest import bombs

MB = 1024 * 1024
GOOD = "# Zinc\n\nOral zinc 20 mg daily for 10 to 14 days shortens acute diarrhoea in children.\n"


@pytest.fixture(autouse=True)
def _reuse_loaded_model(monkeypatch: pytest.MonkeyPatch, embedder) -> None:  # type: ignore[no-untyped-def]
    """The CLI builds its own store; hand it the session's model instead of loading it again."""
    monkeypatch.setattr("ingest.store.load_embedder", lambda *_a, **_k: embedder)


def _ingest(folder: Path, data_dir: Path, env: dict[str, str] | None = None) -> tuple[int, dict, str]:
    result = CliRunner().invoke(cli, ["ingest", str(folder), "--json", "--data-dir", str(data_dir)], env=env)
    return result.exit_code, json.loads(result.stdout), result.stderr


def _documents(data_dir: Path) -> list[str]:
    result = CliRunner().invoke(cli, ["documents", "--json", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    return sorted(d["source"] for d in json.loads(result.stdout)["documents"])


def _stored_counts(data_dir: Path) -> tuple[int, int]:
    """(chunk rows, vectors): equal when nothing of a refused file was left behind."""
    from ingest.settings import get_settings
    from ingest.store import Store

    with Store(get_settings(data_dir), owner={"command": "pytest"}) as store:
        return store.docs.counts()[1], store.vectors.count()


def _errors(report: dict) -> dict[str, str]:
    return {e["source"]: e["error"] for e in report["errors"]}


def test_every_bomb_is_refused_and_the_rest_ingested(tmp_path: Path, zip_bomb: Path) -> None:
    """Default limits: the issue's DOCX bomb, a ratio bomb, a 10,000-page PDF, a PDF that lies about its
    pages, a 65 MB HTML page and a 101 MB file are refused; a note and a 1,900-page PDF are ingested."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    shutil.copy(zip_bomb, folder / "bomb.docx")
    bombs.write_docx(folder / "ratio.docx", document_mb=30, variety=0.0)
    bombs.write_pdf(folder / "pages.pdf", pages=10_000)
    bombs.write_pdf(folder / "lying.pdf", pages=2_500, declared=3)
    bombs.write_sized(folder / "page.html", 65 * MB, head=b"<html><body><p>x</p>")
    bombs.write_sized(folder / "scan.pdf", 101 * MB, head=b"%PDF-1.4\n")
    (folder / "zinc.md").write_text(GOOD, encoding="utf-8")
    bombs.write_pdf(folder / "book.pdf", pages=1_900)
    data = tmp_path / "data"

    code, report, stderr = _ingest(folder, data)

    assert code == 0, stderr
    assert report["added"] == 2 and report["updated"] == 0
    errors = _errors(report)
    assert sorted(errors) == ["bomb.docx", "lying.pdf", "page.html", "pages.pdf", "ratio.docx", "scan.pdf"]
    assert (
        errors["bomb.docx"].startswith("DOCX unpacks to 401 MB")
        and "possible zip bomb" in errors["bomb.docx"]
    )
    assert "unpacks to" in errors["ratio.docx"] and "MAX_COMPRESSION_RATIO" in errors["ratio.docx"]
    assert errors["pages.pdf"].startswith("PDF has 10,000 pages; the limit is 2,000")
    assert errors["lying.pdf"].startswith("PDF has more than 2,000 pages")
    assert errors["page.html"].startswith("HTML file is 65 MB; the limit is 64 MB")
    assert errors["scan.pdf"].startswith("file is 101 MB; the limit is 100 MB")
    assert _documents(data) == ["book.pdf", "zinc.md"]
    chunks, vectors = _stored_counts(data)
    assert chunks == vectors == report["chunks"]


def test_each_limit_is_a_setting(tmp_path: Path) -> None:
    """Each limit, lowered by its MEDCITE_INGEST_LIMITS__* variable, refuses a file that passes by default."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    bombs.write_sized(folder / "two-mb.pdf", 2 * MB, head=b"%PDF-1.4\n")
    bombs.write_long_text(folder / "two-mb.txt", chars=2 * MB)
    bombs.write_docx(folder / "squeezed.docx", document_mb=2, variety=0.05)
    bombs.write_many_parts_docx(folder / "parts.docx", parts=40)
    bombs.write_pdf(folder / "five-pages.pdf", pages=5)
    bombs.write_long_text(folder / "wordy.md", chars=30_000)
    (folder / "zinc.md").write_text(GOOD, encoding="utf-8")
    env = {
        "MEDCITE_INGEST_LIMITS__MAX_FILE_MB": "1",
        "MEDCITE_INGEST_LIMITS__MAX_UNPACKED_MB": "3",
        "MEDCITE_INGEST_LIMITS__MAX_COMPRESSION_RATIO": "10",
        "MEDCITE_INGEST_LIMITS__MAX_ZIP_ENTRIES": "30",
        "MEDCITE_INGEST_LIMITS__MAX_PDF_PAGES": "4",
        "MEDCITE_INGEST_LIMITS__MAX_TEXT_CHARS": "20000",
    }
    data = tmp_path / "data"

    code, report, stderr = _ingest(folder, data, env)

    assert code == 0, stderr
    errors = _errors(report)
    assert report["added"] == 1 and _documents(data) == ["zinc.md"]
    expected = {
        "two-mb.pdf": "MAX_FILE_MB",
        "two-mb.txt": "MAX_FILE_MB",
        "squeezed.docx": "MAX_COMPRESSION_RATIO",
        "parts.docx": "MAX_ZIP_ENTRIES",
        "five-pages.pdf": "MAX_PDF_PAGES",
        "wordy.md": "MAX_TEXT_CHARS",
    }
    assert {
        source: next(k for k in expected.values() if k in error) for source, error in errors.items()
    } == expected


def test_unpacked_limit_for_text_formats(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    bombs.write_long_text(folder / "notes.txt", chars=2 * MB)
    code, report, _ = _ingest(folder, tmp_path / "data", {"MEDCITE_INGEST_LIMITS__MAX_UNPACKED_MB": "1"})
    assert code == 1  # nothing could be ingested
    assert _errors(report)["notes.txt"].startswith("text file is 2.0 MB; the limit is 1 MB")


def test_a_bomb_alone_exits_1_with_its_reason(tmp_path: Path, zip_bomb: Path) -> None:
    result = CliRunner().invoke(cli, ["ingest", str(zip_bomb), "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 1
    assert "skipped bomb.docx: DOCX unpacks to 401 MB" in result.stderr
    assert "nothing could be ingested" in result.stderr
