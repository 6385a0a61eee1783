"""Loaders: every format, text normalisation, heading detection and every bad-file case."""

from __future__ import annotations

import hashlib
import itertools
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import LoaderError
from ingest.loaders import SUPPORTED_SUFFIXES, load_document, normalise_text
from ingest.models import SourceDocument
from tests.ingest import fixtures as fx

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def _titles(doc: SourceDocument) -> list[str | None]:
    return [s.title for s in doc.sections]


def _assert_well_formed(doc: SourceDocument) -> None:
    """Text is a fixed point of normalisation and sections tile it from the first heading on."""
    assert doc.text
    assert normalise_text(doc.text) == doc.text
    sections = doc.sections
    if not sections:
        return
    assert sections[-1].end == len(doc.text)
    for prev, nxt in itertools.pairwise(sections):
        assert prev.end == nxt.start
    for section in sections:
        assert section.start < section.end
        if section.title is not None:
            assert section.title in doc.text[section.start : section.end].split("\n", 1)[0]
    if sections[0].title is not None:
        assert not doc.text[: sections[0].start].strip()


def _load_text(tmp_path: Path, text: str, name: str = "doc.txt") -> SourceDocument:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_document(path, name)


# --------------------------------------------------------------------------------------
# normalise_text
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("cafe\u0301", "café"),  # NFC
        ("a\r\nb\rc", "a\nb\nc"),
        ("0.3\u00a0μg\u202fper\u2009day", "0.3 μg per day"),
        ("a\tb", "a b"),
        ("a    b", "a b"),
        ("line   \nnext", "line\nnext"),
        ("a\n\n\n\n\nb", "a\n\nb"),
        ("a\n  \n \t \nb", "a\n\nb"),
        ("  \n\n text \n\n ", "text"),
        ("treat\u00adment zero\u200bwidth\ufeff", "treatment zerowidth"),
        ("bell\x07 and\x00 nul", "bell and nul"),
        ("para\u2029next", "para\n\nnext"),
    ],
)
def test_normalise_text(raw: str, expected: str) -> None:
    assert normalise_text(raw) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_normalise_text_is_idempotent_and_clean(raw: str) -> None:
    once = normalise_text(raw)
    assert normalise_text(once) == once
    assert "\t" not in once and "\r" not in once and "\u00a0" not in once and "\u00ad" not in once
    assert "\n\n\n" not in once and "  " not in once
    assert once == once.strip()


# --------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------


def test_supported_suffixes() -> None:
    assert frozenset({".txt", ".md", ".html", ".htm", ".pdf", ".docx"}) == SUPPORTED_SUFFIXES


def test_text_pdf(tmp_path: Path) -> None:
    path = fx.write_text_pdf(tmp_path)
    doc = load_document(path, "docs/guide.pdf")
    _assert_well_formed(doc)
    assert doc.format == "pdf"
    assert doc.title == "Infant B12 Guide"
    assert doc.source == "docs/guide.pdf"
    assert _titles(doc) == ["1. Introduction", "2. Dosing"]
    assert "The recommended treatment is cobalamin" in doc.text  # hyphenation repaired
    assert "treat-" not in doc.text
    # Hard line breaks inside a paragraph are joined; the paragraphs stay apart.
    assert "in mild nutritional cases where absorption is intact." in doc.text
    assert "0.3 ug/kg/day of cobalamin. Older children need more" in doc.text
    assert doc.text.index("2. Dosing") > doc.text.index("absorption is intact.")


def test_image_only_pdf_has_no_text_layer(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="no text layer; OCR is not supported"):
        load_document(fx.write_image_only_pdf(tmp_path), "scan.pdf")


def test_docx(tmp_path: Path) -> None:
    doc = load_document(fx.write_docx(tmp_path), "protocol.docx")
    _assert_well_formed(doc)
    assert doc.format == "docx"
    assert doc.title == "B12 Protocol"
    assert [(s.title, s.level) for s in doc.sections] == [
        ("Infant B12 Protocol", 0),
        ("Dosing", 1),
        ("Monitoring", 2),
    ]
    assert "- Check the reticulocyte count on day 8\n- Switch to oral therapy once stable" in doc.text
    assert "Test | When | Target\nHb | 3 weeks | > 10 g/dL" in doc.text
    monitoring = doc.sections[2]
    assert "Follow up at one and three months." in doc.text[monitoring.start : monitoring.end]


def test_docx_title_falls_back_to_title_paragraph(tmp_path: Path) -> None:
    import docx

    path = fx.write_docx(tmp_path)
    document = docx.Document(str(path))
    document.core_properties.title = ""
    document.save(str(path))
    assert load_document(path, "protocol.docx").title == "Infant B12 Protocol"


def test_html(tmp_path: Path) -> None:
    doc = load_document(fx.write_html(tmp_path), "page.html")
    _assert_well_formed(doc)
    assert doc.format == "html"
    assert doc.title == "B12 & Infants"  # entity decoded
    for boilerplate in (
        "SECRET_SCRIPT_TEXT",
        "color: red",
        "MENU_LINK_TEXT",
        "SITE_BANNER_TEXT",
        "NOSCRIPT_TEXT",
        "ASIDE_TEXT",
        "FOOTER_TEXT",
    ):
        assert boilerplate not in doc.text
    assert [(s.title, s.level) for s in doc.sections] == [("Vitamin B12 in Infants", 1), ("Dosing", 2)]
    assert "Deficiency causes hypotonia and regression – treat early. Doses are given in µg." in doc.text
    assert "- Infants: 0.3 µg/kg/day\n- Children 1–2 years: 1 µg/day" in doc.text
    assert "Route | Dose\nIM | 1 mg" in doc.text


def test_html_title_falls_back_to_first_h1_and_htm_suffix(tmp_path: Path) -> None:
    path = tmp_path / "PAGE.HTM"
    path.write_text(
        "<p>Intro text.</p><h1>Main &lt;Heading&gt;</h1><p>Body<br>line two</p>", encoding="utf-8"
    )
    doc = load_document(path, "PAGE.HTM")
    assert doc.format == "html"
    assert doc.title == "Main <Heading>"
    assert _titles(doc) == [None, "Main <Heading>"]
    assert doc.text == "Intro text.\n\nMain <Heading>\n\nBody\nline two"


def test_markdown(tmp_path: Path) -> None:
    doc = load_document(fx.write_markdown(tmp_path), "guide.md")
    _assert_well_formed(doc)
    assert doc.format == "md"
    assert doc.title == "B12 Guide"
    assert [(s.title, s.level) for s in doc.sections] == [("B12 Guide", 1), ("Dosing", 2), ("Monitoring", 2)]
    assert "# not a heading" in doc.text  # kept as text, not a section
    assert doc.text.startswith("# B12 Guide\n\nIntro paragraph")


def test_cp1252_text_is_decoded(tmp_path: Path) -> None:
    doc = load_document(fx.write_cp1252_text(tmp_path), "legacy.txt")
    assert doc.text == fx.CP1252_TEXT.strip()
    assert "café à 5 µg" in doc.text


def test_short_cp1252_text_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "short.txt"
    path.write_bytes("café à 5 µg".encode("cp1252"))
    assert load_document(path, "short.txt").text == "café à 5 µg"


def test_utf8_bom_crlf_and_nbsp(tmp_path: Path) -> None:
    doc = load_document(fx.write_utf8_bom_text(tmp_path), "bom.txt")
    assert doc.text == "Dose 0.3 μg/kg\nper day."


def test_document_identity_fields(tmp_path: Path) -> None:
    path = fx.write_markdown(tmp_path)
    doc = load_document(path, "guide.md")
    assert doc.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert doc.path == str(path.resolve())
    assert Path(doc.path).is_absolute()


def test_suffix_is_case_insensitive(tmp_path: Path) -> None:
    path = fx.write_text_pdf(tmp_path, name="GUIDE.PDF")
    assert load_document(path, "GUIDE.PDF").format == "pdf"


@pytest.mark.parametrize(
    "builder", ["write_text_pdf", "write_docx", "write_html", "write_markdown", "write_cp1252_text"]
)
def test_every_format_is_normalised_and_tiled(tmp_path: Path, builder: str) -> None:
    _assert_well_formed(load_document(getattr(fx, builder)(tmp_path), "x"))


# --------------------------------------------------------------------------------------
# Bad files
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("builder", "message"),
    [
        ("write_empty", "file is empty"),
        ("write_corrupt_pdf", "not a valid PDF file: "),
        ("write_corrupt_docx", "not a valid DOCX file"),
        ("write_unsupported", r"unsupported file type '\.xyz' \(supported: .*\.pdf.*\)"),
        ("write_image_only_pdf", "no text layer; OCR is not supported"),
    ],
)
def test_bad_files_raise_loader_error(tmp_path: Path, builder: str, message: str) -> None:
    path = getattr(fx, builder)(tmp_path)
    with pytest.raises(LoaderError, match=message):
        load_document(path, path.name)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("blank.txt", " \n\t\u00a0\n\u200b"),
        ("only-script.html", "<html><head><script>alert(1)</script></head><body><nav>x</nav></body></html>"),
        ("empty-heading.md", "\n\n   \n"),
    ],
)
def test_no_text_found(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LoaderError, match="no text found"):
        load_document(path, name)


def test_empty_docx_has_no_text(tmp_path: Path) -> None:
    import docx

    path = tmp_path / "blank.docx"
    docx.Document().save(str(path))
    with pytest.raises(LoaderError, match="no text found"):
        load_document(path, "blank.docx")


def test_undecodable_bytes(tmp_path: Path) -> None:
    path = tmp_path / "binary.txt"
    path.write_bytes(random.Random(0).randbytes(300))
    with pytest.raises(LoaderError, match="cannot decode text: unknown character encoding"):
        load_document(path, "binary.txt")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="file not found"):
        load_document(tmp_path / "nope.txt", "nope.txt")
    folder = tmp_path / "folder.md"
    folder.mkdir()
    with pytest.raises(LoaderError, match="is a directory"):
        load_document(folder, "folder.md")


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # chmod 000 does not stop root (CI may run as root), so simulate the OS refusal.
    path = fx.write_markdown(tmp_path)

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(LoaderError, match="cannot read file: permission denied"):
        load_document(path, "guide.md")


def test_no_library_exception_escapes(tmp_path: Path) -> None:
    """A zip that is not a Word document, and a PDF header with garbage after it."""
    import zipfile

    fake_docx = tmp_path / "fake.docx"
    with zipfile.ZipFile(fake_docx, "w") as archive:
        archive.writestr("hello.txt", "not word")
    with pytest.raises(LoaderError, match="not a valid DOCX file"):
        load_document(fake_docx, "fake.docx")
    fake_pdf = tmp_path / "fake.pdf"
    fake_pdf.write_bytes(b"%PDF-1.7\n" + random.Random(1).randbytes(400))
    with pytest.raises(LoaderError):
        load_document(fake_pdf, "fake.pdf")


# --------------------------------------------------------------------------------------
# Plain-text headings
# --------------------------------------------------------------------------------------


def test_case_report_headings() -> None:
    doc = load_document(CORPUS / "b12-infant-case-report.txt", "b12-infant-case-report.txt")
    _assert_well_formed(doc)
    titles = _titles(doc)
    for expected in (
        "Abstract",
        "1. Introduction",
        "2. Materials and Methods",
        "3. Discussion",
        "4. Conclusion",
    ):
        assert expected in titles
    assert titles.index("1. Introduction") < titles.index("3. Discussion") < titles.index("4. Conclusion")
    levels = {s.title: s.level for s in doc.sections}
    assert levels["1. Introduction"] == 1
    assert levels["Patient and Observation"] == 2  # unnumbered sub-heading of "2. Materials and Methods"


def test_guideline_page_headings() -> None:
    doc = load_document(CORPUS / "b12-under-2-treatment-answer.txt", "b12-under-2-treatment-answer.txt")
    _assert_well_formed(doc)
    titles = _titles(doc)
    for expected in (
        "Dosing Recommendations",
        "Route of Administration",
        "Parenteral Administration (Intramuscular)",
        "Monitoring and Follow-up",
        "Pitfalls to Avoid",
    ):
        assert expected in titles
    assert not any(t and t.startswith(("•", "-")) for t in titles)
    # A sentence ending in a full stop or question mark is never a heading.
    assert not any(t and t.endswith((".", "?")) for t in titles)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Intro text here.\n\nII. Results\nAll infants improved.", [None, "II. Results"]),
        ("3.1 Dosing\nGive 1 mg.\n\n3.2 Monitoring\nCheck levels.", ["3.1 Dosing", "3.2 Monitoring"]),
        ("DOSING RECOMMENDATIONS\nGive 1 mg daily.", ["DOSING RECOMMENDATIONS"]),
        ("Case report\nAn infant of eight months.", ["Case report"]),
        (
            "BACKGROUND: B12 deficiency harms infants.\nMETHODS: We reviewed charts.",
            ["BACKGROUND", "METHODS"],
        ),
        ("Background:\nB12 deficiency harms infants.", ["Background"]),
    ],
)
def test_plain_text_headings(tmp_path: Path, text: str, expected: list[str | None]) -> None:
    doc = _load_text(tmp_path, text)
    _assert_well_formed(doc)
    assert _titles(doc) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Steps to follow.\n\n1. Give oral cobalamin\n2. Recheck levels\n3. Stop at twelve weeks",
        "Plan.\n\n- Oral Supplementation\n- Intramuscular Route\n• Follow Up Visit\n1) Check Levels\nDone.",
        "The infant was treated with cobalamin.\nIt improved quickly.",
        "Treatment was given early,\nand the infant improved.",
        "Final summary here.\n\nReferences",  # nothing follows: not a heading
        "Last updated: September 15, 2025\n\nSome text follows.",
        "A sentence that wraps onto the\nNext Line is not a heading because it continues here.",
    ],
)
def test_plain_text_non_headings(tmp_path: Path, text: str) -> None:
    doc = _load_text(tmp_path, text)
    assert [t for t in _titles(doc) if t is not None] == []


def test_label_section_keeps_same_line_text(tmp_path: Path) -> None:
    doc = _load_text(tmp_path, "BACKGROUND: B12 deficiency harms infants.\nMETHODS: We reviewed charts.")
    background = doc.sections[0]
    assert doc.text[background.start : background.end].strip() == "BACKGROUND: B12 deficiency harms infants."
