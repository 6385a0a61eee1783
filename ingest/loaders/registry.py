"""Which loader reads which file suffix: one entry per format, the only place that lists them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ingest.loaders import docx, html, markdown, pdf, text
from ingest.loaders.common import Extracted
from ingest.settings import IngestLimits


@dataclass(frozen=True)
class Format:
    """A format medcite reads: its name (``Document.format``), file suffixes and extractor.

    ``extract(raw, limits)`` checks what the bytes would cost (``ingest.loaders.limits``)
    before parsing them, and raises ``LoaderError`` for anything it cannot read.
    """

    name: str
    suffixes: tuple[str, ...]
    extract: Callable[[bytes, IngestLimits], Extracted]


FORMATS: tuple[Format, ...] = (
    Format("txt", (".txt",), text.extract),
    Format("md", (".md",), markdown.extract),
    Format("html", (".html", ".htm"), html.extract),
    Format("pdf", (".pdf",), pdf.extract),
    Format("docx", (".docx",), docx.extract),
)

BY_SUFFIX: dict[str, Format] = {suffix: fmt for fmt in FORMATS for suffix in fmt.suffixes}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(BY_SUFFIX)


def format_for(suffix: str) -> Format | None:
    """The format of a (case-insensitive) suffix such as '.PDF', or None when unsupported."""
    return BY_SUFFIX.get(suffix.lower())
