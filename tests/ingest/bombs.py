"""Builders of hostile and huge files for the ingest-limit tests (streamed: cheap to make).

* a DOCX whose ``word/document.xml`` inflates to hundreds of MB from a few MB (the
  upload of issue 14 that drove the server out of memory);
* a DOCX under the size limit but compressed hundreds of times (ratio bomb);
* a DOCX with more zip parts than allowed;
* a PDF of N pages sharing one content stream (small file, many pages), optionally with
  a root ``/Count`` that lies;
* files of a given size on disk (sparse: no time or disk spent).
"""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

MB = 1024 * 1024

_DOC_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
)
_DOC_TAIL = b"<w:sectPr/></w:body></w:document>"
_WORDS = "vitamin cobalamin infant dose deficiency serum marrow injection weekly monthly anaemia".split()


def _template_docx() -> bytes:
    import docx

    buffer = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("placeholder")
    document.save(buffer)
    return buffer.getvalue()


def _paragraph(rnd: random.Random, varied: bool) -> bytes:
    if varied:
        text = " ".join(f"{rnd.choice(_WORDS)}{rnd.randrange(1000)}" for _ in range(12))
    else:
        text = "Give 1 mg of cobalamin intramuscularly every week until the blood count recovers."
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>".encode()


def write_docx(path: Path, document_mb: float, variety: float, seed: int = 0) -> Path:
    """A valid DOCX whose document.xml holds about ``document_mb`` MB of paragraphs.

    ``variety`` is the share of paragraphs with varied words: 0.0007 gives the issue's
    bomb (400 MB from about 1.5 MB); 1.0 gives ordinary text (compresses about 5 times).
    """
    rnd = random.Random(seed)
    template = zipfile.ZipFile(io.BytesIO(_template_docx()))
    target = int(document_mb * MB)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in template.infolist():
            if info.filename != "word/document.xml":
                archive.writestr(info, template.read(info.filename))
                continue
            with archive.open("word/document.xml", "w", force_zip64=True) as out:
                out.write(_DOC_HEAD)
                written = 0
                block: list[bytes] = []
                while written < target:
                    para = _paragraph(rnd, rnd.random() < variety)
                    block.append(para)
                    written += len(para)
                    if len(block) >= 4096:
                        out.write(b"".join(block))
                        block = []
                out.write(b"".join(block) + _DOC_TAIL)
    return path


def write_zip_bomb_docx(path: Path, document_mb: float = 400) -> Path:
    """The issue's bomb: ``document.xml`` of ``document_mb`` MB in a file of about 1.5 MB."""
    return write_docx(path, document_mb, variety=0.0007)


def write_many_parts_docx(path: Path, parts: int) -> Path:
    """A valid DOCX plus ``parts`` tiny extra zip members (custom XML, say)."""
    path.write_bytes(_template_docx())
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        for i in range(parts):
            archive.writestr(f"customXml/extra{i}.xml", "<x/>")
    return path


def make_pdf(pages: int, text: str = "Page of a very long guideline.", declared: int | None = None) -> bytes:
    """A PDF of ``pages`` pages that all show one content stream; ``declared`` overrides /Count."""
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    kids = " ".join(f"{5 + i} 0 R" for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages if declared is None else declared} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
        b" /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    )
    objects.extend([page] * pages)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def write_pdf(path: Path, pages: int, declared: int | None = None) -> Path:
    path.write_bytes(make_pdf(pages, declared=declared))
    return path


def write_sized(path: Path, size: int, head: bytes = b"") -> Path:
    """A file of exactly ``size`` bytes on disk, ``head`` first, the rest a sparse hole."""
    with path.open("wb") as out:
        out.write(head)
        out.truncate(size)
    return path


def write_long_text(path: Path, chars: int) -> Path:
    """Ordinary English prose of about ``chars`` characters (distinct sentences, UTF-8)."""
    rnd = random.Random(chars)
    sentences: list[str] = []
    total = 0
    while total < chars:
        words = " ".join(rnd.choice(_WORDS) for _ in range(rnd.randrange(8, 16)))
        sentence = f"{words.capitalize()} {rnd.randrange(10000)}."
        sentences.append(sentence)
        total += len(sentence) + 1
    path.write_text(" ".join(sentences), encoding="utf-8")
    return path
