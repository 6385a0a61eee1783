"""``POST /v1/ask``: a cited answer (or an abstention), recorded in the audit log before it is served."""

from __future__ import annotations

from fastapi import APIRouter

from qa_service.api.deps import Reader, ServicesDep
from qa_service.api.schemas import AnswerPublic, AskRequest

router = APIRouter(prefix="/v1", tags=["ask"])


@router.post(
    "/ask",
    response_model=AnswerPublic,
    responses={
        409: {"description": "Nothing has been ingested yet."},
        422: {"description": "Invalid request, or `generator: llm` without a configured LLM."},
        503: {"description": "Audit log unavailable."},
    },
)
def ask_question(body: AskRequest, services: ServicesDep, caller: Reader) -> dict[str, object]:
    """Answer a question from the ingested documents; every statement cites its source sentence."""
    engine = services.engine
    with services.gate.reading():
        answer = engine.ask(body.question, body.top_k, generator=body.generator)
        corpus_version = engine.store.corpus_version()  # read under the same lock: the corpus the answer saw
    # Record first: an answer that could not be recorded is not served.
    services.audit.record_answer(answer, corpus_version=corpus_version, role=caller.role)
    services.metrics.answers.labels(outcome="abstained" if answer.abstained else "answered").inc()
    services.metrics.answer_latency.observe(answer.latency_ms / 1000)
    return answer.public()
