"""``POST /v1/ask``: a cited answer (or an abstention), recorded in the audit log before it is served."""

from __future__ import annotations

import threading

from fastapi import APIRouter

from qa_service.api.deps import Reader, RequestTimeoutError, ServicesDep
from qa_service.api.openapi import errors
from qa_service.api.schemas import AnswerPublic, AskRequest
from qa_service.audit.drift import cited_hashes
from qa_service.models import Answer

router = APIRouter(prefix="/v1", tags=["ask"])


@router.post(
    "/ask",
    response_model=AnswerPublic,
    responses=errors(409, 503, 504, e409="Nothing has been ingested yet.", e503="Audit log unavailable."),
)
async def ask_question(body: AskRequest, services: ServicesDep, caller: Reader) -> dict[str, object]:
    """Answer a question from the ingested documents; every statement cites its source sentence."""
    engine = services.engine
    abandoned = threading.Event()

    def work() -> Answer:
        with services.gate.reading():
            answer = engine.ask(body.question, body.top_k, generator=body.generator)
            if abandoned.is_set():  # timed out: the client was told so; it is neither served nor recorded
                return answer
            # Record first (an answer that could not be recorded is not served), and under the same
            # lock, so no document can change between the answer and its record: the corpus version
            # and document hashes stored are those the answer saw (the evidence-drift check relies on it).
            services.audit.record_answer(
                answer,
                corpus_version=engine.store.corpus_version(),
                role=caller.role,
                cited_hashes=cited_hashes(engine.store, answer),
            )
            return answer

    try:
        answer = await services.run_bounded("the answer", work)
    except RequestTimeoutError:
        abandoned.set()
        raise
    services.metrics.answers.labels(outcome="abstained" if answer.abstained else "answered").inc()
    services.metrics.answer_latency.observe(answer.latency_ms / 1000)
    return answer.public()
