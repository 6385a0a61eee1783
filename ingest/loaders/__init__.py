"""Turn one file (.txt .md .html .htm .pdf .docx) into a normalised :class:`SourceDocument`.

One module per format (:mod:`.text`, :mod:`.markdown`, :mod:`.html`, :mod:`.pdf`,
:mod:`.docx`), each exposing ``extract(raw: bytes) -> Extracted``; :mod:`.registry`
maps suffixes to them, and :mod:`.common` holds what they share: every format goes
through the same :func:`normalise_text`, and sections are always offsets into the
final normalised text.

Every file is held to the ``IngestLimits`` of the settings (size on disk, unpacked
size, zip ratio, PDF pages, extracted characters; see :mod:`.limits`) before the
expensive step, so one bad file costs milliseconds, not the server.

Any failure is raised as :class:`~ingest.errors.LoaderError` with a message a person
understands; no library exception escapes :func:`load_document`.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from ingest.errors import LoaderError
from ingest.loaders.common import build_sections, describe, normalise_text
from ingest.loaders.limits import FileTooLargeError, TextBudget, check_file_size
from ingest.loaders.registry import SUPPORTED_SUFFIXES, format_for
from ingest.models import SourceDocument
from ingest.settings import IngestLimits

__all__ = ["SUPPORTED_SUFFIXES", "FileTooLargeError", "load_document", "normalise_text", "read_file"]

logger = logging.getLogger(__name__)


def read_file(path: Path, limits: IngestLimits | None = None) -> bytes:
    """The bytes of a file, refused before reading when it is over ``max_file_mb``.

    Raises:
        LoaderError: Missing, unreadable or too large (:class:`FileTooLargeError`).
    """
    limits = limits or IngestLimits()
    path = Path(path)
    try:
        check_file_size(path.stat().st_size, limits)
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise LoaderError("file not found") from exc
    except IsADirectoryError as exc:
        raise LoaderError("is a directory, not a file") from exc
    except PermissionError as exc:
        raise LoaderError("cannot read file: permission denied") from exc
    except OSError as exc:
        raise LoaderError(f"cannot read file: {exc.strerror or describe(exc)}") from exc


def load_document(
    path: Path, source: str, *, limits: IngestLimits | None = None, raw: bytes | None = None
) -> SourceDocument:
    """Read one file and turn it into a normalised document with sections.

    Args:
        path: The file to read; its suffix (case-insensitive) picks the loader.
        source: Name to record for the file (path relative to the ingested folder).
        limits: What one file may cost (default: ``IngestLimits()``).
        raw: The file's bytes when the caller already read them (with :func:`read_file`).

    Returns:
        The document: normalised ``text``, ``sections`` as offsets into it, ``title``
        when the format gives one, and ``content_hash`` (sha256 of the raw bytes).

    Raises:
        LoaderError: Unsupported type, unreadable, empty, corrupt, text-less or over a
            limit (:class:`FileTooLargeError`); the message says why in plain words.
    """
    limits = limits or IngestLimits()
    path = Path(path)
    suffix = path.suffix.lower()
    fmt = format_for(suffix)
    if fmt is None:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        shown = f"'{suffix}'" if suffix else "(no extension)"
        raise LoaderError(f"unsupported file type {shown} (supported: {supported})")
    if raw is None:
        raw = read_file(path, limits)
    else:
        check_file_size(len(raw), limits)
    if not raw:
        raise LoaderError("file is empty")
    try:
        extracted = fmt.extract(raw, limits)
    except LoaderError:
        raise
    except Exception as exc:  # last line of defence: no library exception escapes
        logger.debug("unexpected %s loader failure", fmt.name, exc_info=True)
        raise LoaderError(f"cannot read {fmt.name.upper()} file: {describe(exc)}") from exc
    if not extracted.text:
        raise LoaderError("no text found")
    TextBudget(limits).spend(len(extracted.text))
    logger.debug("loaded %s: %d chars, %d headings", source, len(extracted.text), len(extracted.headings))
    return SourceDocument(
        source=source,
        path=str(path.resolve()),
        title=extracted.title,
        format=fmt.name,
        text=extracted.text,
        sections=build_sections(extracted.text, extracted.headings),
        content_hash=hashlib.sha256(raw).hexdigest(),
    )
