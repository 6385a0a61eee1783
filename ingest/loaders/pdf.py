"""PDF (.pdf) through pypdf: page text with hard line breaks undone; no OCR."""

from __future__ import annotations

import io
import logging
import re

from ingest.errors import LoaderError
from ingest.loaders.common import Extracted, describe, normalise_text, one_line
from ingest.loaders.headings import BULLET, NUMBERED, SENTENCE_END, detect_plain_headings
from ingest.loaders.limits import TextBudget, check_pages
from ingest.settings import IngestLimits

logger = logging.getLogger(__name__)

_PDF_SOFT_HYPHEN_BREAK = re.compile(r"\u00ad *\n *")
_PDF_HYPHEN_BREAK = re.compile(r"(?<=[^\W\d_])[-\u2010]\n(?=[a-z])")
# A line shorter than this share of the page's typical full line ends a paragraph or is
# a heading: body lines of a justified/ragged page are close to the full width.
_PDF_SHORT_LINE_RATIO = 0.6


def extract(raw: bytes, limits: IngestLimits) -> Extracted:
    page_texts, meta_title = _read_pdf(raw, limits)
    if not any(page.strip() for page in page_texts):
        raise LoaderError("PDF has no text layer; OCR is not supported (scanned or image-only pages)")
    text = normalise_text("\n\n".join(_join_pdf_lines(page) for page in page_texts))
    title = one_line(meta_title) if meta_title else ""
    return Extracted(text=text, headings=detect_plain_headings(text), title=title or None)


def _read_pdf(raw: bytes, limits: IngestLimits) -> tuple[list[str], str | None]:
    """Text of each page and the metadata title; errors become LoaderError.

    The pages are counted (with a budget) before pypdf lists them: listing is not free
    (4.7 s for 10,000 pages here) and every listed page is then parsed.
    """
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not _pdf_decrypt(reader):
            raise LoaderError("PDF is password-protected")
        counted, stopped = _count_pages(reader, limits.max_pdf_pages)
        check_pages(counted, limits, at_least=stopped)
        pages = list(reader.pages)
        metadata = reader.metadata
        meta_title = metadata.title if metadata is not None else None
    except LoaderError:
        raise
    except Exception as exc:  # pypdf raises many unrelated types on broken files
        raise LoaderError(f"not a valid PDF file: {describe(exc)}") from exc
    if not pages:
        raise LoaderError("PDF has no pages")
    check_pages(len(pages), limits)
    budget = TextBudget(limits)
    texts: list[str] = []
    failures = 0
    for number, page in enumerate(pages, start=1):
        try:
            page_text = page.extract_text() or ""
        except Exception as exc:  # one broken content stream should not lose the whole file
            failures += 1
            logger.warning("PDF page %d: text extraction failed: %s", number, describe(exc))
            page_text = ""
        budget.spend(len(page_text))
        texts.append(page_text)
    if failures == len(pages):
        raise LoaderError("not a valid PDF file: text extraction failed on every page")
    return texts, str(meta_title) if meta_title else None


def _count_pages(reader: object, limit: int) -> tuple[int, bool]:
    """Pages of the document, counted until ``limit`` is passed: (count, stopped early).

    The root's ``/Count`` answers at once for an honest file (10,000 pages are refused in
    a fraction of a second); as a file can lie, the page tree is then walked, resolving
    each node only when it is reached and stopping one page past the limit, so the cost
    is bounded whatever the file claims. A node is visited once (a cyclic tree cannot loop).
    """
    root = reader.trailer["/Root"]["/Pages"]  # type: ignore[attr-defined]
    declared = root.get("/Count")
    if isinstance(declared, int) and declared > limit:
        return int(declared), False
    count = 0
    stack: list[object] = [root]
    seen: set[int] = set()
    while stack:
        ref = stack.pop()
        number = getattr(ref, "idnum", None)
        if number is not None:
            if number in seen:
                continue
            seen.add(number)
        node = ref.get_object()  # type: ignore[attr-defined]
        if "/Kids" not in node:
            count += 1
            if count > limit:
                return count, True
            continue
        stack.extend(reversed(list(node.raw_get("/Kids").get_object())))
    return count, False


def _pdf_decrypt(reader: object) -> bool:
    """Open PDFs that are encrypted with an empty user password (common for 'protected' files)."""
    try:
        return bool(reader.decrypt(""))  # type: ignore[attr-defined]
    except Exception as exc:
        raise LoaderError(f"PDF is encrypted and cannot be opened: {describe(exc)}") from exc


def _join_pdf_lines(page_text: str) -> str:
    """Undo the hard line breaks of PDF extraction within paragraphs.

    A break is kept where a line ends a sentence, where the next line is a bullet or a
    numbered heading, or where the line is clearly shorter than the page's full lines
    (a heading or a paragraph's last line); otherwise the lines are joined with a space.
    Words hyphenated across a line break are rejoined first.
    """
    page_text = _PDF_SOFT_HYPHEN_BREAK.sub("", page_text.replace("\r\n", "\n").replace("\r", "\n"))
    page_text = normalise_text(page_text)
    page_text = _PDF_HYPHEN_BREAK.sub("", page_text)
    lines = page_text.split("\n")
    full = _typical_full_width(lines)
    out: list[str] = []
    for i, line in enumerate(lines):
        out.append(line)
        if i + 1 < len(lines):
            out.append("\n" if _keep_pdf_break(line, lines[i + 1], full) else " ")
    return "".join(out)


def _typical_full_width(lines: list[str]) -> int:
    lengths = sorted(len(line) for line in lines if line)
    return lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0


def _keep_pdf_break(line: str, nxt: str, full_width: int) -> bool:
    if not line or not nxt:
        return True
    if BULLET.match(nxt) or NUMBERED.match(nxt):
        return True
    if SENTENCE_END.search(line):
        return True
    if nxt[0].islower():
        return False
    return len(line) < _PDF_SHORT_LINE_RATIO * full_width
