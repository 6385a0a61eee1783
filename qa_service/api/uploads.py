"""Uploaded files: safe names, limits, staging, and ingest through the CLI's pipeline.

A client's file name is never used as a path: only its last component is kept,
reduced to letters, digits, ``._-`` and spaces, and it must end in a supported
suffix. Files are first written to ``DATA_DIR/uploads/.incoming/<random>/`` and
moved to ``DATA_DIR/uploads/<name>`` only inside the store's write section, so
two uploads of one name cannot interleave. A file name is a document's
``source``, and the same source is the same document (``ingest.pipeline``): an
upload replaces the stored document of that name when its content changed,
whether it was uploaded or ingested by ``medcite ingest``, and is reported
unchanged otherwise. A replacement that cannot be read leaves the previous
version in place.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ingest.errors import MedciteError, UsageError
from ingest.loaders import SUPPORTED_SUFFIXES
from ingest.models import IngestReport
from ingest.pipeline import ingest_paths
from ingest.store import Store
from qa_service.api.gate import StoreGate

logger = logging.getLogger(__name__)

MAX_NAME_CHARS = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


class UnsupportedFileTypeError(MedciteError):
    """An upload whose type medcite cannot ingest."""

    http_status = 415


class UploadTooLargeError(MedciteError):
    """An upload over the configured size limit."""

    http_status = 413


def supported_list() -> str:
    return ", ".join(sorted(SUPPORTED_SUFFIXES))


def safe_filename(raw: str | None) -> str:
    """A file name safe to create under the uploads folder, or a UsageError.

    >>> safe_filename("../../etc/Dosing guide (v2).PDF")
    'Dosing guide _v2_.PDF'
    >>> safe_filename("C:\\\\Users\\\\me\\\\notes.md")
    'notes.md'
    """
    name = unicodedata.normalize("NFKC", raw or "").replace("\\", "/").replace("\x00", "")
    name = PurePosixPath(name).name
    name = _UNSAFE.sub("_", name).strip(" .")  # no hidden files, no trailing dots or spaces
    if len(name) > MAX_NAME_CHARS:
        stem, suffix = os.path.splitext(name)
        name = stem[: MAX_NAME_CHARS - len(suffix)].rstrip(" .") + suffix
    if not name or not os.path.splitext(name)[0]:
        raise UsageError(
            f"the file name {raw!r} has no usable characters; rename the file and upload it again"
        )
    return name


def check_suffix(name: str) -> None:
    """415 unless the name ends in a supported suffix."""
    suffix = os.path.splitext(name)[1].lower()
    if suffix not in SUPPORTED_SUFFIXES:
        shown = suffix or "no extension"
        raise UnsupportedFileTypeError(
            f"{name}: unsupported file type ({shown}); supported: {supported_list()}"
        )


@dataclass(frozen=True)
class StagedFile:
    """An upload written to the staging folder, waiting to be ingested."""

    name: str
    path: Path


class UploadArea:
    """``DATA_DIR/uploads``: where uploaded documents live once ingested."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.incoming = self.root / ".incoming"

    def new_batch(self) -> Path:
        """A private staging folder for one request."""
        folder = self.incoming / uuid.uuid4().hex
        folder.mkdir(parents=True)
        return folder

    def discard(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)

    def recover(self) -> None:
        """After a crash: drop unfinished staging and put back files whose replacement never finished."""
        shutil.rmtree(self.incoming, ignore_errors=True)
        if not self.root.is_dir():
            return
        for backup in self.root.glob(".*.previous"):
            target = self.root / backup.name[1 : -len(".previous")]
            os.replace(backup, target)
            logger.warning(
                "restored an upload whose replacement was interrupted", extra={"file": target.name}
            )

    def owns(self, path: Path) -> bool:
        """True when ``path`` is a stored upload (so deleting its document may delete the file)."""
        try:
            return path.resolve().parent == self.root
        except OSError:
            return False

    def ingest(
        self, store: Store, gate: StoreGate, batch: Path, staged: Sequence[StagedFile]
    ) -> IngestReport:
        """Move each staged file into place and ingest it (one exclusive section per file); drop ``batch``.

        The staging folder is removed here, by the writer, not by the request: a client that
        disconnects mid-upload must not pull the files from under an ingest that is running.
        """
        total = IngestReport()
        try:
            for item in staged:
                with gate.writing():
                    report = self._ingest_one(store, item)
                _add(total, report)
        finally:
            self.discard(batch)
        return total

    def _ingest_one(self, store: Store, item: StagedFile) -> IngestReport:
        target = self.root / item.name
        backup = target.with_name(f".{target.name}.previous")
        had_previous = target.exists()
        if had_previous:
            os.replace(target, backup)
        os.replace(item.path, target)
        try:
            report = ingest_paths(store, [target])
        except BaseException:
            self._restore(target, backup, had_previous)
            raise
        if report.errors:
            self._restore(target, backup, had_previous)
        elif report.unchanged and str(target) not in store.docs.stored_docs():
            # the same content is already stored from another file (a folder given to
            # `medcite ingest`): that file stays the document's source, keep no copy here
            self._restore(target, backup, had_previous)
        elif had_previous:
            backup.unlink(missing_ok=True)
        return report

    @staticmethod
    def _restore(target: Path, backup: Path, had_previous: bool) -> None:
        """Put back the previous file (its document is still the stored one) or remove the failed upload."""
        if had_previous:
            os.replace(backup, target)
        else:
            target.unlink(missing_ok=True)


def _add(total: IngestReport, part: IngestReport) -> None:
    total.added += part.added
    total.updated += part.updated
    total.unchanged += part.unchanged
    total.removed += part.removed
    total.chunks += part.chunks
    total.errors.extend(part.errors)
