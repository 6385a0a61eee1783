"""Hand-built gold lines, answers and results for the harness's unit tests (no model)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eval.metrics import AskOutcome, SearchOutcome, score_question
from eval.models import GoldItem, QuestionResult, RunInfo
from qa_service.models import Answer, Citation, Conflict, Passage, Statement


def gold(
    qid: str, answerable: bool = True, facts: Sequence[str] = (), quotes: Sequence[str] = (), **extra: Any
) -> GoldItem:
    data: dict[str, Any] = {"id": qid, "question": f"question {qid}?", "answerable": answerable, **extra}
    if facts:
        data["key_facts"] = list(facts)
    if quotes:
        data["evidence"] = [{"source": "doc.txt", "quote": q} for q in quotes]
    return GoldItem.model_validate(data)


def answer(
    statements: Sequence[tuple[str, Sequence[int]]] = (),
    citations: Sequence[str] = (),
    *,
    abstained: bool = False,
    confidence: float = 0.8,
    conflicts: Sequence[str] = (),
    source: str = "doc.txt",
) -> Answer:
    """An answer whose text is its statements with [n] markers; citation i+1 has text citations[i]."""
    cits = [
        Citation(id=i + 1, doc_id="d1", source=source, start=0, end=len(t), text=t, score=1.0)
        for i, t in enumerate(citations)
    ]
    sts = [Statement(text=t, citations=list(ids)) for t, ids in statements]
    text = (
        "Not enough evidence: x."
        if abstained
        else "\n".join(f"- {s.text} " + "".join(f"[{i}]" for i in s.citations) for s in sts)
    )
    return Answer(
        id="a",
        question="q",
        answer=text,
        abstained=abstained,
        abstain_reason="x" if abstained else None,
        statements=[] if abstained else sts,
        citations=cits,
        conflicts=[Conflict(description=c, citations=[1]) for c in conflicts],
        config_hash="cfg",
        generator="extractive",
        latency_ms=5.0,
        confidence=confidence,
    )


def passages(*texts: str, source: str = "doc.txt") -> SearchOutcome:
    return SearchOutcome(
        [Passage(doc_id="d1", source=source, start=0, end=len(t), text=t, score=1.0) for t in texts]
    )


def score(
    g: GoldItem,
    a: Answer | None,
    search: SearchOutcome | None = None,
    latency: float = 100.0,
    status: str = "ok",
    error: str | None = None,
) -> QuestionResult:
    return score_question(g, AskOutcome(a, latency, status, error), search)  # type: ignore[arg-type]


def run_info(**over: Any) -> RunInfo:
    data: dict[str, Any] = {
        "mode": "in-process",
        "gold_path": "gold.jsonl",
        "gold_sha256": "0" * 64,
        "config_hash": "cfg",
        "corpus_version": "corp",
        "search_k": 5,
        "seed": 0,
        "resamples": 200,
        "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T00:00:01+00:00",
        "duration_s": 1.0,
    }
    data.update(over)
    return RunInfo.model_validate(data)
