"""Metric definitions and per-question scoring.

Every ratio metric is *pooled*: each question adds a (numerator, denominator)
pair to :attr:`QuestionResult.counts`, and the metric is Σ numerators / Σ
denominators over the run (so a question with four key facts weighs four times one
with one fact, as the contract asks). A question that raised or timed out is a
failure, never a skip: it adds its denominators with nothing found, and counts as
"not answered" (a false abstention when answerable, a missed abstention when not).

Definitions (README "Eval" repeats them for users):

* ``key_fact_recall`` — answerable questions with key facts: facts stated in the answer
  text (an abstention states none).
* ``evidence_recall`` — answerable questions with evidence: gold quotes contained in a
  citation's text of a non-abstained answer (abstentions' "nearest evidence" is not cited
  as support, so it does not count).
* ``statement_support`` — statements of non-abstained answers whose cited citations'
  texts support them (``eval.judge.judge_support``, the harness's own judge, independent
  of the engine's check); a citation id that the answer does not hold makes its statement
  unsupported.
* ``abstain_recall`` / ``false_abstain_rate`` / ``abstain_precision`` — abstentions on
  unanswerable questions / non-answers on answerable ones / abstentions that were right.
* ``retrieval_recall@k`` — gold quotes contained in one of the ``k`` passages ``search``
  returns; ``source_recall@k`` — gold sources among those passages' sources.
* ``cited_source_recall`` — gold sources cited by the answer (useful where quotes are
  only approximate, as in the PubMedQA adapter).
* ``citation_precision`` — citations of non-abstained answers that overlap a gold quote,
  over answerable questions whose gold evidence is complete (extra field
  ``evidence_complete``, default true).
* ``conflict_detection`` — answerable ``conflict: true`` questions whose answer reports a
  conflict.
* ``coverage`` — questions answered; ``selective_accuracy`` — answered questions that are
  correct; ``accuracy`` — questions handled correctly; ``failure_rate`` — questions that
  raised or timed out; ``aurc`` — area under the risk–coverage curve (answers ordered
  by ``confidence``; lower is better).
* ``latency_p50_ms`` / ``latency_p95_ms`` — over every question (failures included).

A question is *correct* when: unanswerable and abstained; or answerable, answered, and
it states all key facts (if it has key facts), else cites a gold quote (if it has
evidence), else every statement is supported.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from eval.judge import judge_support
from eval.matching import fact_stated, quote_in, source_matches, spans_overlap
from eval.models import CitationResult, GoldItem, QuestionResult, StatementResult
from qa_service.models import Answer, Passage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetricDef:
    """A reported metric: how to read it and over what it is defined."""

    name: str
    kind: Literal["ratio", "latency", "curve"]
    description: str
    population: str  # what it pools; used for "undefined" reasons
    higher_is_better: bool = True
    unit: str | None = None


METRICS: tuple[MetricDef, ...] = (
    MetricDef(
        "key_fact_recall", "ratio", "Key facts stated in the answer text", "key facts of answerable questions"
    ),
    MetricDef(
        "evidence_recall",
        "ratio",
        "Gold quotes contained in a citation",
        "gold quotes of answerable questions",
    ),
    MetricDef(
        "statement_support",
        "ratio",
        "Statements supported by their cited passages",
        "statements in non-abstained answers",
    ),
    MetricDef(
        "abstain_recall", "ratio", "Unanswerable questions the system abstained on", "unanswerable questions"
    ),
    MetricDef(
        "false_abstain_rate",
        "ratio",
        "Answerable questions not answered (abstained or failed)",
        "answerable questions",
        higher_is_better=False,
    ),
    MetricDef("abstain_precision", "ratio", "Abstentions on questions that are unanswerable", "abstentions"),
    MetricDef(
        "retrieval_recall@k",
        "ratio",
        "Gold quotes inside one of the k retrieved passages",
        "gold quotes of answerable questions",
    ),
    MetricDef(
        "source_recall@k", "ratio", "Gold sources among the k retrieved passages", "gold evidence sources"
    ),
    MetricDef("cited_source_recall", "ratio", "Gold sources cited by the answer", "gold evidence sources"),
    MetricDef(
        "citation_precision",
        "ratio",
        "Citations overlapping a gold quote (questions with complete gold evidence)",
        "citations of answers to questions with complete gold evidence",
    ),
    MetricDef(
        "conflict_detection",
        "ratio",
        "Conflict questions whose answer reports the conflict",
        "questions marked conflict",
    ),
    MetricDef("coverage", "ratio", "Questions answered (not abstained, not failed)", "questions"),
    MetricDef("selective_accuracy", "ratio", "Answered questions answered correctly", "answered questions"),
    MetricDef("accuracy", "ratio", "Questions handled correctly (unanswerable: abstained)", "questions"),
    MetricDef(
        "failure_rate",
        "ratio",
        "Questions that raised an error or timed out",
        "questions",
        higher_is_better=False,
    ),
    MetricDef(
        "aurc",
        "curve",
        "Area under the risk-coverage curve (answers by confidence)",
        "answered questions",
        higher_is_better=False,
    ),
    MetricDef(
        "latency_p50_ms", "latency", "Median time to answer", "questions", higher_is_better=False, unit="ms"
    ),
    MetricDef(
        "latency_p95_ms",
        "latency",
        "95th percentile time to answer",
        "questions",
        higher_is_better=False,
        unit="ms",
    ),
)
METRIC_BY_NAME = {m.name: m for m in METRICS}
RATIO_METRICS = tuple(m.name for m in METRICS if m.kind == "ratio")
CONTRACT_METRICS = (
    "key_fact_recall",
    "evidence_recall",
    "statement_support",
    "abstain_recall",
    "false_abstain_rate",
    "latency_p50_ms",
    "latency_p95_ms",
)


@dataclass
class AskOutcome:
    """What one ask call gave: an answer, or a failure with its reason."""

    answer: Answer | None
    latency_ms: float
    status: Literal["ok", "error", "timeout"] = "ok"
    error: str | None = None


@dataclass
class SearchOutcome:
    """What one search call gave: passages, or a failure reason."""

    passages: list[Passage]
    error: str | None = None


def score_question(gold: GoldItem, outcome: AskOutcome, search: SearchOutcome | None) -> QuestionResult:
    """Score one question: what the answer matched, and its contribution to every ratio metric.

    Args:
        gold: The gold line.
        outcome: The ask call's result (an answer, or an error/timeout).
        search: The retrieval probe's passages (None when not run: retrieval metrics skip the
            question, since that is a property of the run, not of the answer).

    Returns:
        The question's result with ``counts`` filled.
    """
    answer = outcome.answer if outcome.status == "ok" else None
    answered = answer is not None and not answer.abstained
    abstained = answer is not None and answer.abstained
    quotes = [e.quote for e in gold.evidence or []]
    sources = list(dict.fromkeys(e.source for e in gold.evidence or [] if e.source))

    statements = _check_statements(answer) if answered and answer is not None else []
    citations = _check_citations(answer, gold) if answer is not None else []
    cited_texts = [c.text for c in citations] if answered else []
    answer_text = answer.answer if answered and answer is not None else ""

    facts = gold.key_facts or []
    found_facts = [f for f in facts if fact_stated(f, answer_text)]
    found_quotes = [q for q in quotes if quote_in(q, cited_texts)]
    passages = search.passages if search is not None else []
    retrieved = [q for q in quotes if quote_in(q, [p.text for p in passages])]

    result = QuestionResult(
        id=gold.id,
        question=gold.question,
        answerable=gold.answerable,
        category=gold.category,
        conflict=gold.conflict,
        status=outcome.status,
        error=outcome.error,
        latency_ms=round(outcome.latency_ms, 2),
        engine_latency_ms=answer.latency_ms if answer is not None else None,
        abstained=None if answer is None else answer.abstained,
        abstain_reason=answer.abstain_reason if answer is not None else None,
        confidence=answer.confidence if answer is not None else None,
        answer=answer.answer if answer is not None else None,
        reference_answer=gold.reference_answer,
        statements=statements,
        citations=citations,
        conflicts=[c.description for c in answer.conflicts] if answer is not None else [],
        key_facts_found=found_facts,
        key_facts_missed=[f for f in facts if f not in found_facts],
        evidence_found=found_quotes,
        evidence_missed=[q for q in quotes if q not in found_quotes],
        retrieved_found=retrieved,
        retrieved_missed=[q for q in quotes if q not in retrieved] if search is not None else [],
        retrieved_sources=[p.source for p in passages],
        search_error=search.error if search is not None else None,
        correct=False,
    )
    result.correct = _correct(gold, result, answered, abstained)
    result.counts = _counts(gold, result, answered, abstained, sources, search)
    return result


def _check_statements(answer: Answer) -> list[StatementResult]:
    by_id = {c.id: c.text for c in answer.citations}
    out = []
    for st in answer.statements:
        texts = [by_id[i] for i in st.citations if i in by_id]
        ok = bool(st.citations) and len(texts) == len(st.citations) and judge_support(st.text, texts)
        out.append(StatementResult(text=st.text, citations=list(st.citations), supported=ok))
    return out


def _check_citations(answer: Answer, gold: GoldItem) -> list[CitationResult]:
    evidence = gold.evidence or []
    out = []
    for c in answer.citations:
        on_gold = None
        if evidence:
            on_gold = any(
                source_matches(c.source, e.source) and spans_overlap(c.text, e.quote) for e in evidence
            )
        out.append(
            CitationResult(
                id=c.id,
                doc_id=c.doc_id,
                source=c.source,
                section=c.section,
                start=c.start,
                end=c.end,
                text=c.text,
                on_gold=on_gold,
            )
        )
    return out


def _correct(gold: GoldItem, r: QuestionResult, answered: bool, abstained: bool) -> bool:
    if r.failed:
        return False
    if not gold.answerable:
        return abstained
    if not answered:
        return False
    if gold.key_facts:
        return not r.key_facts_missed
    if gold.evidence:
        return bool(r.evidence_found)
    return bool(r.statements) and all(s.supported for s in r.statements)


def _counts(
    gold: GoldItem,
    r: QuestionResult,
    answered: bool,
    abstained: bool,
    sources: Sequence[str],
    search: SearchOutcome | None,
) -> dict[str, tuple[int, int]]:
    c: dict[str, tuple[int, int]] = {}
    n_quotes = len(gold.evidence or [])
    if gold.answerable:
        if gold.key_facts:
            c["key_fact_recall"] = (len(r.key_facts_found), len(gold.key_facts))
        if n_quotes:
            c["evidence_recall"] = (len(r.evidence_found), n_quotes)
            if search is not None:
                c["retrieval_recall@k"] = (len(r.retrieved_found), n_quotes)
        if sources:
            if search is not None:
                got = sum(any(source_matches(s, g) for s in r.retrieved_sources) for g in sources)
                c["source_recall@k"] = (got, len(sources))
            cited = [ci.source for ci in r.citations] if answered else []
            c["cited_source_recall"] = (
                sum(any(source_matches(s, g) for s in cited) for g in sources),
                len(sources),
            )
        if n_quotes and gold.evidence_complete and answered:
            c["citation_precision"] = (sum(bool(ci.on_gold) for ci in r.citations), len(r.citations))
        if gold.conflict:
            c["conflict_detection"] = (int(answered and bool(r.conflicts)), 1)
        c["false_abstain_rate"] = (int(not answered), 1)
    else:
        c["abstain_recall"] = (int(abstained), 1)
    if answered:
        c["statement_support"] = (sum(s.supported for s in r.statements), len(r.statements))
        c["selective_accuracy"] = (int(r.correct), 1)
    if abstained:
        c["abstain_precision"] = (int(not gold.answerable), 1)
    c["coverage"] = (int(answered), 1)
    c["accuracy"] = (int(r.correct), 1)
    c["failure_rate"] = (int(r.failed), 1)
    return c
