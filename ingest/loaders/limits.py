"""What one file may cost, checked before the expensive step (``IngestLimits`` in settings).

An upload bomb is cheap to send and expensive to parse: a 1.5 MB DOCX whose
``word/document.xml`` inflates to 400 MB drove the server to 23 GB and an
out-of-memory kill. So every loader checks what it can know cheaply first:

* the size on disk (``os.stat``) before a byte is read;
* the bytes a parser must hold: the file itself for txt/md/html, and for a DOCX the
  sizes its zip directory declares (Python's ``zipfile`` never inflates a member past
  its declared size, the CRC check fails first), plus the compression ratio of every
  large part and the number of parts;
* a PDF's page count, by walking its page tree with a budget before any page is parsed
  (pypdf itself caps each decompressed stream at 75 MB);
* the characters of text extracted, as extraction goes (page by page for PDF).

A refused file raises :class:`FileTooLargeError` (a ``LoaderError``): the caller reports
it for that file, stores nothing of it and goes on with the others.
"""

from __future__ import annotations

import io
import zipfile

from ingest.errors import LoaderError
from ingest.settings import IngestLimits

MB = 1024 * 1024
# Parts smaller than this are never judged by their compression ratio: small XML parts
# (styles, settings) legitimately compress very well and cannot hurt.
RATIO_FLOOR_BYTES = 1 * MB


class FileTooLargeError(LoaderError):
    """A file over one of the ingest limits; refused before it is parsed."""

    http_status = 413


def setting_name(field: str) -> str:
    """The environment variable that sets an ingest limit."""
    return f"MEDCITE_INGEST_LIMITS__{field.upper()}"


def human_size(n: int) -> str:
    """'400 MB', '1.5 MB', '812 KB', '90 bytes' (binary units, as the limits are)."""
    if n >= 10 * MB:
        return f"{n / MB:.0f} MB"
    if n >= MB:
        return f"{n / MB:.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} bytes"


def check_file_size(size: int, limits: IngestLimits) -> None:
    """Refuse a file larger on disk than ``max_file_mb``."""
    if size > limits.max_file_mb * MB:
        limit = f"{limits.max_file_mb} MB ({setting_name('max_file_mb')})"
        raise FileTooLargeError(f"file is {human_size(size)}; the limit is {limit}")


def check_unpacked(size: int, what: str, limits: IngestLimits) -> None:
    """Refuse content a parser would hold in memory beyond ``max_unpacked_mb``."""
    if size > limits.max_unpacked_mb * MB:
        raise FileTooLargeError(
            f"{what} is {human_size(size)}; the limit is {limits.max_unpacked_mb} MB "
            f"({setting_name('max_unpacked_mb')})"
        )


def check_zip(raw: bytes, label: str, limits: IngestLimits) -> None:
    """Refuse a zip container (DOCX) that would unpack to too much, from its directory alone.

    Raises:
        FileTooLargeError: Too many parts, too many bytes once unzipped, or a large part
            compressed beyond ``max_compression_ratio`` (a zip bomb).
        LoaderError: Not a zip file at all.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise LoaderError(f"not a valid {label} file ({exc})") from exc
    if len(infos) > limits.max_zip_entries:
        raise FileTooLargeError(
            f"{label} holds {len(infos):,} parts; the limit is {limits.max_zip_entries:,} "
            f"({setting_name('max_zip_entries')}): refused as a possible zip bomb"
        )
    unpacked = sum(info.file_size for info in infos)
    if unpacked > limits.max_unpacked_mb * MB:
        raise FileTooLargeError(
            f"{label} unpacks to {human_size(unpacked)} (from {human_size(len(raw))}); the limit is "
            f"{limits.max_unpacked_mb} MB ({setting_name('max_unpacked_mb')}): refused as a possible zip bomb"
        )
    for info in infos:
        if info.file_size < RATIO_FLOOR_BYTES:
            continue
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_compression_ratio:
            raise FileTooLargeError(
                f"{label} part {info.filename} unpacks to {ratio:.0f} times its compressed size "
                f"({human_size(info.file_size)} from {human_size(info.compress_size)}); the limit is "
                f"{limits.max_compression_ratio}x ({setting_name('max_compression_ratio')}): "
                "refused as a possible zip bomb"
            )


def check_pages(pages: int, limits: IngestLimits, *, at_least: bool = False) -> None:
    """Refuse a document with more pages than ``max_pdf_pages`` (``at_least``: counting stopped early)."""
    if pages > limits.max_pdf_pages:
        shown = f"more than {limits.max_pdf_pages:,}" if at_least else f"{pages:,}"
        raise FileTooLargeError(
            f"PDF has {shown} pages; the limit is {limits.max_pdf_pages:,} ({setting_name('max_pdf_pages')})"
        )


class TextBudget:
    """Counts extracted characters and refuses the file once they pass ``max_text_chars``."""

    def __init__(self, limits: IngestLimits) -> None:
        self.limit = limits.max_text_chars
        self.used = 0

    def spend(self, chars: int) -> None:
        self.used += chars
        if self.used > self.limit:
            raise FileTooLargeError(
                f"the file yields more than {self.limit:,} characters of text "
                f"({setting_name('max_text_chars')})"
            )
