"""``/v1/answers``: the audit log of every answer served, the review workflow, and rechecks.

submitted -> under_review -> approved | rejected; a submitted answer may also be
approved or rejected directly; approved and rejected are final (until a cited document
changes: then an approved answer returns to submitted). Any other move is a 409 naming
the allowed ones. Identical asks form a group, and one review covers the group.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from ingest.errors import UsageError
from qa_service.api.deps import AuditDep, Reader, RequestTimeoutError, Reviewer, ServicesDep
from qa_service.api.openapi import errors
from qa_service.api.schemas import AnswerRecordList, AnswerRecordPublic, RecheckResponse, ReviewRequest
from qa_service.api.security import Caller, Permission
from qa_service.audit import AuditRecord, ReviewStatus, allowed_next
from qa_service.audit.drift import cited_hashes
from qa_service.audit.recheck import compare, summary

router = APIRouter(prefix="/v1/answers", tags=["answers"])

MAX_OFFSET = 1_000_000_000


def to_public(record: AuditRecord, *, with_history: bool = True) -> dict[str, object]:
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
        "history": [event.model_dump() for event in record.history] if with_history else [],
        "evidence_changed": record.evidence_changed,
        "changed_citations": record.changed_citations,
        "group": record.group.model_dump() if record.group is not None else None,
    }


@router.get("", response_model=AnswerRecordList, responses=errors(503))
def list_answers(
    audit: AuditDep,
    caller: Reviewer,
    status: Annotated[ReviewStatus | None, Query(description="Only answers with this review status.")] = None,
    evidence_changed: Annotated[
        bool | None, Query(description="Only answers whose cited evidence changed (true) or did not (false).")
    ] = None,
    group: Annotated[
        bool,
        Query(
            description="One record per group of identical asks (same question, configuration and corpus)."
        ),
    ] = False,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Records to skip.")] = 0,
) -> dict[str, object]:
    """Answers served, newest first, with their review status, history and group."""
    records, total = audit.list(
        status, limit=limit, offset=offset, grouped=group, evidence_changed=evidence_changed
    )
    return {"answers": [to_public(r) for r in records], "total": total}


@router.get(
    "/{answer_id}",
    response_model=AnswerRecordPublic,
    responses=errors(404, 503, e404="No such answer."),
)
def read_answer(answer_id: str, audit: AuditDep, caller: Reader) -> dict[str, object]:
    """One served answer by id (the page at ``/answers/{id}`` shows it).

    Any role that may ask may read an answer by its id (ids are unguessable, so a link shares one
    answer); the review history is included for roles that may review.
    """
    return to_public(audit.get(answer_id), with_history=caller.can(Permission.REVIEW))


@router.post(
    "/{answer_id}/review",
    response_model=AnswerRecordPublic,
    responses=errors(404, 409, 503, e404="No such answer.", e409="Not allowed from the current status."),
)
def review_answer(
    answer_id: str, body: ReviewRequest, audit: AuditDep, services: ServicesDep, caller: Reviewer
) -> dict[str, object]:
    """Start reviewing, approve or reject an answer (and its identical asks); each step joins the history."""
    record = audit.review(
        answer_id,
        status=body.decision,
        reviewer=reviewer_name(caller, body.reviewer),
        role=caller.role,
        comment=body.comment,
    )
    services.metrics.reviews.labels(status=body.status).inc()
    return to_public(record)


@router.post(
    "/{answer_id}/recheck",
    response_model=RecheckResponse,
    responses=errors(404, 409, 503, 504, e404="No such answer.", e409="Nothing has been ingested."),
)
async def recheck_answer(answer_id: str, services: ServicesDep, caller: Reviewer) -> dict[str, Any]:
    """Ask the question again on the current documents and show what changed.

    The new answer is served and so recorded like any other; the old one gets a history event.
    """
    record = await run_in_threadpool(services.audit.get, answer_id)
    engine = services.engine
    abandoned = threading.Event()

    def work() -> dict[str, Any]:
        with services.gate.reading():  # the new answer is recorded under the lock, as in POST /v1/ask
            after = engine.ask(record.question)
            result = compare(record, after, engine.store)
            if not abandoned.is_set():
                services.audit.record_answer(
                    after,
                    corpus_version=engine.store.corpus_version(),
                    role=caller.role,
                    cited_hashes=cited_hashes(engine.store, after),
                )
                services.audit.add_event(
                    answer_id,
                    event="recheck",
                    comment=summary(result),
                    reviewer=caller.name or caller.role,
                    role=caller.role,
                )
        return result

    try:
        return await services.run_bounded("the recheck", work)
    except RequestTimeoutError:
        abandoned.set()
        raise


def reviewer_name(caller: Caller, given: str | None) -> str:
    """The key holder's name when the key names one; else the name sent (required then)."""
    if caller.name:
        return caller.name
    if not given:
        hint = (
            " or name the key's holder in MEDCITE_API_KEYS (key:role:name)" if caller.role != "local" else ""
        )
        raise UsageError(f'the reviewer must be named: send "reviewer"{hint}')
    return given
