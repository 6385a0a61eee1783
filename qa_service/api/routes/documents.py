"""``/v1/documents``: list, read, upload (ingest) and delete documents.

Uploads go through the same ``ingest.pipeline.ingest_paths`` as ``medcite
ingest``, on the service's writer thread, so the event loop keeps serving and
asks keep being answered between files. Reads of document rows need no lock
(SQLite WAL readers never see half a document).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, BinaryIO

from fastapi import APIRouter, File, Response, UploadFile, status
from fastapi.concurrency import run_in_threadpool

from ingest.errors import UsageError
from ingest.models import IngestReport
from qa_service.api.deps import Editor, Reader, Services, ServicesDep
from qa_service.api.openapi import errors
from qa_service.api.schemas import DocumentList, DocumentWithText, IngestSummary
from qa_service.api.uploads import (
    StagedFile,
    UploadTooLargeError,
    check_suffix,
    safe_filename,
    supported_list,
)
from qa_service.audit.drift import check_drift

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/documents", tags=["documents"])

COPY_CHUNK = 1024 * 1024


@router.get("", response_model=DocumentList)
def list_documents(services: ServicesDep, caller: Reader) -> dict[str, object]:
    """Every ingested document (without its text), ordered by source."""
    return {"documents": [d.public() for d in services.engine.store.list_documents()]}


@router.get("/{doc_id}", response_model=DocumentWithText, responses=errors(404, e404="No such document."))
def read_document(doc_id: str, services: ServicesDep, caller: Reader) -> dict[str, object]:
    """One document with its text; citation ``start``/``end`` offsets index into ``text``."""
    return services.engine.store.get_document(doc_id).public(with_text=True)


@router.post(
    "",
    response_model=IngestSummary,
    responses=errors(
        413,
        415,
        422,
        e413="A file is larger than the limit (MEDCITE_MAX_UPLOAD_MB).",
        e422="Too many files, a bad file name, or nothing could be ingested.",
    ),
)
async def upload_documents(
    services: ServicesDep,
    caller: Editor,
    files: Annotated[list[UploadFile], File(description=f"One or more documents ({supported_list()}).")],
) -> dict[str, object]:
    """Ingest uploaded files (the ``medcite ingest`` pipeline); re-uploading a name replaces that document."""
    named = _check_upload(services, files)
    area = services.uploads
    batch = area.new_batch()
    staged: list[StagedFile] = []
    try:
        for name, upload in named:
            path = batch / name
            await run_in_threadpool(_copy_limited, upload.file, path, _max_bytes(services), name)
            staged.append(StagedFile(name=name, path=path))
    except BaseException:
        area.discard(batch)
        raise
    # From here the writer owns the batch (and removes it), even if this request is cancelled.
    report: IngestReport = await services.run_write(
        area.ingest, services.engine.store, services.gate, batch, staged
    )
    await services.run_write(
        _check_drift, services
    )  # answers citing a replaced document may have lost evidence
    _count(services, report)
    logger.info(
        "upload ingested",
        extra={
            "files": len(named),
            "added": report.added,
            "updated": report.updated,
            "errors": len(report.errors),
        },
    )
    if report.errors and report.added + report.updated + report.unchanged == 0:
        reasons = "; ".join(f"{e.source}: {e.error}" for e in report.errors)
        raise UsageError(f"nothing could be ingested ({reasons})")
    return report.model_dump()


@router.delete(
    "/{doc_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(404, e404="No such document."),
)
async def delete_document(doc_id: str, services: ServicesDep, caller: Editor) -> Response:
    """Remove a document, its chunks and vectors (and its uploaded file); answers citing it are flagged."""
    await services.run_write(_delete, services, doc_id)
    await services.run_write(_check_drift, services)
    logger.info("document deleted", extra={"doc_id": doc_id})
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _max_bytes(services: Services) -> int:
    return services.settings.max_upload_mb * 1024 * 1024


def _check_upload(services: Services, files: list[UploadFile]) -> list[tuple[str, UploadFile]]:
    """Validate count, names, types and sizes before anything is written (nothing is ingested on a 4xx)."""
    settings = services.settings
    if len(files) > settings.max_upload_files:
        raise UsageError(f"too many files: {len(files)} sent, at most {settings.max_upload_files} per upload")
    named: list[tuple[str, UploadFile]] = []
    seen: set[str] = set()
    for upload in files:
        name = safe_filename(upload.filename)
        check_suffix(name)
        if upload.size is not None and upload.size > _max_bytes(services):
            raise UploadTooLargeError(_too_large(name, settings.max_upload_mb))
        if name.lower() in seen:
            raise UsageError(f"{name} is in this upload twice")
        seen.add(name.lower())
        named.append((name, upload))
    return named


def _too_large(name: str, limit_mb: int) -> str:
    return f"{name} is larger than the upload limit of {limit_mb} MB"


def _copy_limited(source: BinaryIO, target: Path, max_bytes: int, name: str) -> None:
    """Copy an upload to disk, refusing it once it passes ``max_bytes`` (its declared size may be missing)."""
    source.seek(0)
    written = 0
    with target.open("wb") as out:
        while chunk := source.read(COPY_CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise UploadTooLargeError(_too_large(name, max_bytes // (1024 * 1024)))
            out.write(chunk)


def _count(services: Services, report: IngestReport) -> None:
    for result, n in (
        ("added", report.added),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
        ("error", len(report.errors)),
    ):
        if n:
            services.metrics.ingested.labels(result=result).inc(n)


def _delete(services: Services, doc_id: str) -> None:
    store = services.engine.store
    with services.gate.writing():
        path = next((Path(p) for p, d in store.docs.stored_docs().items() if d.doc_id == doc_id), None)
        store.delete_document(doc_id)
        if path is not None and services.uploads.owns(path):
            path.unlink(missing_ok=True)


def _check_drift(services: Services) -> None:
    """Flag logged answers whose cited text changed (runs on the writer thread, after the change)."""
    check_drift(services.audit, services.engine.store)
