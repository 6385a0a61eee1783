"""Builders that write small test files of every supported (and a few broken) kinds.

Each builder takes a directory, writes one file and returns its path. Everything is
generated on the fly (fpdf2, python-docx), so the tests need no binary fixtures.
"""

from __future__ import annotations

import random
from pathlib import Path

PDF_PARAGRAPH_1 = (
    "Vitamin B12 deficiency in infants is a preventable cause of neurological damage. "
    "The recommended treat-\nment is cobalamin given by the intramuscular route in severe cases "
    "and by mouth in mild nutritional cases where absorption is intact."
)
PDF_PARAGRAPH_2 = (
    "Infants up to 12 months receive 0.3 ug/kg/day of cobalamin. Older children need more, "
    "and the dose should be adjusted by weight in every case because responses vary widely."
)


def write_text_pdf(directory: Path, name: str = "guide.pdf") -> Path:
    """A two-section text PDF with a metadata title and a word hyphenated across lines."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Infant B12 Guide")
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for heading, paragraph in (("1. Introduction", PDF_PARAGRAPH_1), ("2. Dosing", PDF_PARAGRAPH_2)):
        pdf.multi_cell(0, 6, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
    path = directory / name
    pdf.output(str(path))
    return path


def write_image_only_pdf(directory: Path, name: str = "scan.pdf") -> Path:
    """A PDF whose only page holds a drawn rectangle: pages, but no text layer."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")
    path = directory / name
    pdf.output(str(path))
    return path


def write_docx(directory: Path, name: str = "protocol.docx") -> Path:
    """A DOCX with a Title, Heading 1/2, list paragraphs, a table and core title metadata."""
    import docx

    document = docx.Document()
    document.core_properties.title = "B12 Protocol"
    document.add_heading("Infant B12 Protocol", level=0)
    document.add_paragraph("This protocol covers vitamin B12 deficiency in children under two years.")
    document.add_heading("Dosing", level=1)
    document.add_paragraph("Give hydroxocobalamin 1 mg intramuscularly three times weekly.")
    document.add_paragraph("Check the reticulocyte count on day 8", style="List Bullet")
    document.add_paragraph("Switch to oral therapy once stable", style="List Bullet")
    document.add_heading("Monitoring", level=2)
    table = document.add_table(rows=2, cols=3)
    rows = (("Test", "When", "Target"), ("Hb", "3 weeks", "> 10 g/dL"))
    for row, values in zip(table.rows, rows, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.add_paragraph("Follow up at one and three months.")
    path = directory / name
    document.save(str(path))
    return path


HTML_PAGE = """<!DOCTYPE html>
<html>
<head>
  <title>B12 &amp; Infants</title>
  <style>body { color: red; }</style>
  <script>var tracking = "SECRET_SCRIPT_TEXT";</script>
</head>
<body>
  <nav><a href="/">Home</a> <a href="/menu">MENU_LINK_TEXT</a></nav>
  <header>SITE_BANNER_TEXT</header>
  <article>
    <h1>Vitamin B<sub>12</sub> in Infants</h1>
    <p>Deficiency causes hypotonia&nbsp;and regression &ndash; treat early.
       Doses are given in &micro;g.</p>
    <h2>Dosing</h2>
    <ul>
      <li>Infants: 0.3&nbsp;&micro;g/kg/day</li>
      <li>Children 1&ndash;2 years: 1 &micro;g/day</li>
    </ul>
    <table><tr><th>Route</th><th>Dose</th></tr><tr><td>IM</td><td>1 mg</td></tr></table>
    <noscript>NOSCRIPT_TEXT</noscript>
  </article>
  <aside>ASIDE_TEXT</aside>
  <footer>FOOTER_TEXT</footer>
</body>
</html>
"""


def write_html(directory: Path, name: str = "page.html") -> Path:
    path = directory / name
    path.write_text(HTML_PAGE, encoding="utf-8")
    return path


MARKDOWN_DOC = """# B12 Guide

Intro paragraph about cobalamin.

## Dosing

Give 1 mg.

```python
# not a heading
x = 1
```

Monitoring
----------

Check levels at one month.
"""


def write_markdown(directory: Path, name: str = "guide.md") -> Path:
    path = directory / name
    path.write_text(MARKDOWN_DOC, encoding="utf-8")
    return path


CP1252_TEXT = "Le café à 5 µg par jour est recommandé pour l'enfant. Dosage préféré : à jeun.\n"


def write_cp1252_text(directory: Path, name: str = "legacy.txt") -> Path:
    """Text in Windows-1252 (not valid UTF-8): é, à and µ (U+00B5, which cp1252 has)."""
    path = directory / name
    path.write_bytes(CP1252_TEXT.encode("cp1252"))
    return path


def write_utf8_bom_text(directory: Path, name: str = "bom.txt") -> Path:
    path = directory / name
    path.write_bytes("\ufeffDose 0.3\u00a0μg/kg\r\nper day.\r\n".encode())
    return path


def write_empty(directory: Path, name: str = "empty.txt") -> Path:
    path = directory / name
    path.write_bytes(b"")
    return path


def write_corrupt_pdf(directory: Path, name: str = "broken.pdf") -> Path:
    path = directory / name
    path.write_bytes(random.Random(7).randbytes(2048))
    return path


def write_corrupt_docx(directory: Path, name: str = "broken.docx") -> Path:
    path = directory / name
    path.write_bytes(b"PK\x03\x04 this is not really a zip archive" + random.Random(3).randbytes(512))
    return path


def write_unsupported(directory: Path, name: str = "notes.xyz") -> Path:
    path = directory / name
    path.write_text("some text", encoding="utf-8")
    return path
