"""Ingest limits in the loaders: bombs and oversized files are refused before parsing, legit big files pass.

The CLI and API paths over the same files are tested in ``tests/qa_service``; timings
are measured by ``benchmarks/upload_bomb.py``, never asserted here.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from ingest.errors import LoaderError
from ingest.loaders import FileTooLargeError, load_document
from ingest.settings import IngestLimits, Settings
from tests.ingest import bombs

MB = 1024 * 1024


def forbid_docx_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, fail the test if python-docx is asked to open a package (call after building files)."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("python-docx was called: the file was parsed before being checked")

    monkeypatch.setattr("docx.Document", refuse)


@pytest.fixture
def no_pdf_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if pypdf extracts text from any page."""

    def refuse(*_args: object, **_kwargs: object) -> str:
        raise AssertionError("a page was parsed before the page count was checked")

    monkeypatch.setattr("pypdf.PageObject.extract_text", refuse)


# ---------------------------------------------------------------- DOCX


def test_the_issue_zip_bomb_is_refused_before_parsing(
    zip_bomb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forbid_docx_parsing(monkeypatch)
    with zipfile.ZipFile(zip_bomb) as archive:
        unpacked = sum(info.file_size for info in archive.infolist())
    assert zip_bomb.stat().st_size < 2 * MB and unpacked > 400 * MB  # the issue's bomb, not a stand-in
    with pytest.raises(FileTooLargeError) as caught:
        load_document(zip_bomb, "bomb.docx")
    message = str(caught.value)
    assert message.startswith("DOCX unpacks to 401 MB (from 1.")
    assert "the limit is 64 MB (MEDCITE_INGEST_LIMITS__MAX_UNPACKED_MB)" in message
    assert "possible zip bomb" in message


def test_a_ratio_bomb_under_the_size_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = bombs.write_docx(tmp_path / "ratio.docx", document_mb=30, variety=0.0)
    forbid_docx_parsing(monkeypatch)
    with pytest.raises(
        FileTooLargeError, match=r"part word/document\.xml unpacks to \d+ times its compressed size"
    ):
        load_document(path, "ratio.docx")


def test_a_small_part_may_compress_well(tmp_path: Path) -> None:
    """Under 1 MiB a part is never judged by its ratio (styles and settings compress very well)."""
    path = bombs.write_docx(tmp_path / "small.docx", document_mb=0.9, variety=0.0)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("word/document.xml")
    assert info.file_size / info.compress_size > 100
    assert "cobalamin" in load_document(path, "small.docx").text


def test_too_many_zip_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = bombs.write_many_parts_docx(tmp_path / "parts.docx", parts=60)
    assert load_document(path, "parts.docx").text == "placeholder"  # fine under the default
    forbid_docx_parsing(monkeypatch)
    with pytest.raises(FileTooLargeError, match=r"DOCX holds \d+ parts; the limit is 50 .*MAX_ZIP_ENTRIES"):
        load_document(path, "parts.docx", limits=IngestLimits(max_zip_entries=50))


def test_a_corrupt_docx_is_still_reported_as_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(LoaderError, match="not a valid DOCX file"):
        load_document(path, "broken.docx")


# ---------------------------------------------------------------- PDF


def test_a_pdf_with_10000_pages_is_refused_before_any_page_is_read(
    tmp_path: Path, no_pdf_pages: None
) -> None:
    path = bombs.write_pdf(tmp_path / "pages.pdf", pages=10_000)
    with pytest.raises(
        FileTooLargeError,
        match=r"PDF has 10,000 pages; the limit is 2,000 \(MEDCITE_INGEST_LIMITS__MAX_PDF_PAGES\)",
    ):
        load_document(path, "pages.pdf")


def test_a_pdf_whose_page_count_lies_is_counted(tmp_path: Path, no_pdf_pages: None) -> None:
    path = bombs.write_pdf(tmp_path / "lying.pdf", pages=2_500, declared=3)
    with pytest.raises(FileTooLargeError, match="PDF has more than 2,000 pages"):
        load_document(path, "lying.pdf")


def test_pdf_text_is_budgeted_page_by_page(tmp_path: Path) -> None:
    path = bombs.write_pdf(tmp_path / "wordy.pdf", pages=100)
    with pytest.raises(FileTooLargeError, match=r"more than 1,000 characters of text .*MAX_TEXT_CHARS"):
        load_document(path, "wordy.pdf", limits=IngestLimits(max_text_chars=1000))


def test_page_limit_is_a_setting(tmp_path: Path) -> None:
    path = bombs.write_pdf(tmp_path / "five.pdf", pages=5)
    with pytest.raises(FileTooLargeError, match="PDF has 5 pages; the limit is 4"):
        load_document(path, "five.pdf", limits=IngestLimits(max_pdf_pages=4))
    assert load_document(path, "five.pdf", limits=IngestLimits(max_pdf_pages=5)).text.count("Page of") == 5


# ---------------------------------------------------------------- sizes


def test_a_file_over_the_size_limit_is_never_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = bombs.write_sized(tmp_path / "huge.pdf", 101 * MB, head=b"%PDF-1.4\n")

    def refuse(*_args: object) -> bytes:
        raise AssertionError("the file was read")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(
        FileTooLargeError, match=r"file is 101 MB; the limit is 100 MB \(MEDCITE_INGEST_LIMITS__MAX_FILE_MB\)"
    ):
        load_document(path, "huge.pdf")


@pytest.mark.parametrize(
    ("name", "what"), [("big.txt", "text file"), ("big.md", "Markdown file"), ("big.html", "HTML file")]
)
def test_oversized_text_formats_are_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, what: str
) -> None:
    path = bombs.write_sized(tmp_path / name, 65 * MB, head=b"<p>Dose</p>")

    def refuse(*_args: object) -> str:
        raise AssertionError("the file was decoded")

    monkeypatch.setattr("ingest.loaders.decoding.decode_text", refuse)
    with pytest.raises(FileTooLargeError, match=rf"{what} is 65 MB; the limit is 64 MB .*MAX_UNPACKED_MB"):
        load_document(path, name)


def test_text_character_limit(tmp_path: Path) -> None:
    path = bombs.write_long_text(tmp_path / "long.txt", chars=5_000)
    with pytest.raises(FileTooLargeError, match=r"more than 2,000 characters of text"):
        load_document(path, "long.txt", limits=IngestLimits(max_text_chars=2_000))


def test_limits_do_not_change_the_config_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    baseline = Settings().config_hash
    monkeypatch.setenv("MEDCITE_INGEST_LIMITS__MAX_PDF_PAGES", "7")
    monkeypatch.setenv("MEDCITE_INGEST_LIMITS__MAX_FILE_MB", "3")
    tuned = Settings()
    assert tuned.ingest_limits.max_pdf_pages == 7 and tuned.ingest_limits.max_file_mb == 3
    assert tuned.config_hash == baseline


# ---------------------------------------------------------------- huge but legitimate


@pytest.mark.slow
def test_huge_but_legitimate_files_pass(tmp_path: Path) -> None:
    """Near every limit, but honest: a 1,900-page PDF, 4.5 million characters of text, a 5 MB document.xml."""
    pdf = load_document(bombs.write_pdf(tmp_path / "book.pdf", pages=1_900), "book.pdf")
    assert pdf.text.count("Page of a very long guideline.") == 1_900
    text = load_document(bombs.write_long_text(tmp_path / "long.txt", chars=4_500_000), "long.txt")
    assert len(text.text) > 4_400_000
    path = bombs.write_docx(tmp_path / "report.docx", document_mb=5, variety=1.0)
    assert path.stat().st_size > MB  # ordinary text: about 5 times smaller zipped, far from any ratio limit
    docx = load_document(path, "report.docx")
    assert len(docx.text) > 4_000_000
