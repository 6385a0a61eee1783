"""``/v1/answers``: the audit log of every answer served, and the review workflow.

submitted -> under_review -> approved | rejected; a submitted answer may also be
approved or rejected directly; approved and rejected are final. Any other move
is a 409 naming the allowed ones.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from qa_service.api.deps import AuditDep, Reviewer, ServicesDep
from qa_service.api.schemas import AnswerRecordList, AnswerRecordPublic, ReviewRequest
from qa_service.audit import AuditRecord, ReviewStatus, allowed_next

router = APIRouter(prefix="/v1/answers", tags=["answers"])


def to_public(record: AuditRecord) -> dict[str, object]:
    """The response object of one audit record."""
    return {
        "id": record.id,
        "question": record.question,
        "status": record.status,
        "allowed_next": allowed_next(record.status),
        "role": record.role,
        "config_hash": record.config_hash,
        "corpus_version": record.corpus_version,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "answer": record.answer,
        "history": [event.model_dump() for event in record.history],
    }


@router.get("", response_model=AnswerRecordList)
def list_answers(
    audit: AuditDep,
    caller: Reviewer,
    status: Annotated[ReviewStatus | None, Query(description="Only answers with this review status.")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 100,
    offset: Annotated[int, Query(ge=0, description="Records to skip.")] = 0,
) -> dict[str, object]:
    """Answers served, newest first, with their review status and history."""
    records, total = audit.list(status, limit=limit, offset=offset)
    return {"answers": [to_public(r) for r in records], "total": total}


@router.post(
    "/{answer_id}/review",
    response_model=AnswerRecordPublic,
    responses={
        404: {"description": "No such answer."},
        409: {"description": "Not allowed from the current status."},
    },
)
def review_answer(
    answer_id: str, body: ReviewRequest, audit: AuditDep, services: ServicesDep, caller: Reviewer
) -> dict[str, object]:
    """Start reviewing, approve or reject an answer; the step is appended to its history."""
    record = audit.review(
        answer_id, status=body.status, reviewer=body.reviewer, role=caller.role, comment=body.comment
    )
    services.metrics.reviews.labels(status=body.status.value).inc()
    return to_public(record)
