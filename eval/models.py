"""Typed objects of the eval harness: gold lines, per-question results and whole runs.

Gold lines follow the contract ("Gold set"); unknown extra fields (``category``,
``conflict``, ``absent_terms``, ...) are kept, and two of them are read here:
``conflict`` (the sources disagree: an answer should show the conflict) and
``evidence_complete`` (default true: the gold quotes are all the evidence there is,
so a citation overlapping none of them is a wrong citation).

Run results serialise to the ``medcite eval --json`` document. No float in them is
ever NaN: an undefined metric is ``null`` with a reason in ``undefined``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_QUESTION_CHARS = 2000


class GoldEvidence(BaseModel):
    """One gold quote: verbatim text of a document (a sentence or part of one)."""

    model_config = ConfigDict(extra="allow")

    source: str | None = Field(default=None, description="The document's source (file name) when known.")
    quote: str = Field(min_length=1, description="Verbatim text of the document.")

    @field_validator("quote")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("quote is blank")
        return v


class GoldItem(BaseModel):
    """One line of a gold file (CONTRACT, "Gold set")."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, description="Stable question id.")
    question: str = Field(description="The question as a user would ask it.")
    answerable: bool = Field(default=True, description="False when the corpus does not answer it.")
    reference_answer: str | None = Field(default=None, description="A short correct answer, for people.")
    key_facts: list[str] | None = Field(default=None, description="Short strings an answer must state.")
    evidence: list[GoldEvidence] | None = Field(
        default=None, description="Gold quotes an answer should cite."
    )

    @field_validator("question")
    @classmethod
    def _question_length(cls, v: str) -> str:
        n = len(v.strip())
        if not 1 <= n <= MAX_QUESTION_CHARS:
            raise ValueError(
                f"question must be 1 to {MAX_QUESTION_CHARS} characters after trimming (got {n})"
            )
        return v

    @field_validator("key_facts")
    @classmethod
    def _facts_not_blank(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and any(not f.strip() for f in v):
            raise ValueError("key_facts holds an empty string")
        return v

    @model_validator(mode="after")
    def _unanswerable_has_no_facts(self) -> GoldItem:
        if not self.answerable and (self.key_facts or self.evidence):
            raise ValueError("an unanswerable question cannot have key_facts or evidence")
        return self

    @property
    def conflict(self) -> bool:
        """Whether the gold line says its sources disagree (extra field ``conflict``)."""
        return bool((self.model_extra or {}).get("conflict", False))

    @property
    def evidence_complete(self) -> bool:
        """Whether the gold quotes are all the evidence (extra field ``evidence_complete``, default true)."""
        return bool((self.model_extra or {}).get("evidence_complete", True))

    @property
    def category(self) -> str | None:
        """The optional ``category`` extra field, for grouping in reports."""
        value = (self.model_extra or {}).get("category")
        return str(value) if value is not None else None


class StatementResult(BaseModel):
    """One statement of an answer and whether the harness found it supported by its citations."""

    text: str
    citations: list[int]
    supported: bool = Field(
        description="judge_support(text, cited texts): the harness's own judge (eval.judge)."
    )


class CitationResult(BaseModel):
    """One citation of an answer, with whether it overlaps a gold quote."""

    id: int
    doc_id: str
    source: str
    section: str | None = None
    start: int
    end: int
    text: str
    on_gold: bool | None = Field(
        default=None, description="Overlaps a gold quote (None: question has no gold quotes)."
    )


class QuestionResult(BaseModel):
    """What happened to one gold question: the answer, what it matched, and its metric contributions."""

    id: str
    question: str
    answerable: bool
    category: str | None = None
    conflict: bool = False
    status: Literal["ok", "error", "timeout"] = "ok"
    error: str | None = Field(default=None, description="Why the question failed (status error/timeout).")
    latency_ms: float = Field(description="Wall-clock time of the ask call as the harness saw it.")
    engine_latency_ms: float | None = Field(default=None, description="latency_ms the answer itself reports.")
    abstained: bool | None = None
    abstain_reason: str | None = None
    confidence: float | None = None
    answer: str | None = None
    reference_answer: str | None = None
    statements: list[StatementResult] = Field(default_factory=list)
    citations: list[CitationResult] = Field(default_factory=list)
    conflicts: list[str] = Field(
        default_factory=list, description="Conflict descriptions the answer reported."
    )
    key_facts_found: list[str] = Field(default_factory=list)
    key_facts_missed: list[str] = Field(default_factory=list)
    evidence_found: list[str] = Field(
        default_factory=list, description="Gold quotes contained in a citation."
    )
    evidence_missed: list[str] = Field(default_factory=list)
    retrieved_found: list[str] = Field(
        default_factory=list, description="Gold quotes contained in a retrieved passage."
    )
    retrieved_missed: list[str] = Field(default_factory=list)
    retrieved_sources: list[str] = Field(
        default_factory=list, description="Sources of the retrieved passages, best first."
    )
    search_error: str | None = Field(default=None, description="Why the retrieval probe failed, if it did.")
    correct: bool = Field(description="Answered correctly, or (unanswerable) abstained; see README 'Eval'.")
    counts: dict[str, tuple[int, int]] = Field(
        default_factory=dict, description="Per ratio metric: (numerator, denominator) this question adds."
    )

    @property
    def failed(self) -> bool:
        """True when the question raised or timed out."""
        return self.status != "ok"

    @property
    def answered(self) -> bool:
        """True when an answer (not an abstention) came back."""
        return self.status == "ok" and self.abstained is False


class RiskCoveragePoint(BaseModel):
    """One point of the risk–coverage curve: answering the ``answered`` most confident questions."""

    answered: int
    coverage: float = Field(description="Share of all questions answered.")
    selective_accuracy: float = Field(description="Share of those answers that are correct.")
    confidence: float = Field(description="Confidence of the least confident answer included.")


class RunInfo(BaseModel):
    """What produced a run: enough to reproduce or explain it."""

    mode: Literal["in-process", "remote"]
    url: str | None = None
    data_dir: str | None = None
    gold_path: str
    gold_sha256: str
    config_hash: str | None = None
    corpus_version: str | None = None
    embedding_model: str | None = None
    generator: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    medcite_version: str | None = None
    k: int | None = Field(default=None, description="-k given to ask (None: the engine's default).")
    search_k: int = Field(description="Passages retrieved per question for retrieval_recall@k.")
    seed: int
    resamples: int
    timeout_s: float | None = None
    started_at: str
    finished_at: str
    duration_s: float


class EvalRun(BaseModel):
    """The ``medcite eval --json`` document."""

    n: int = Field(description="Questions in the gold file: every one is counted.")
    failures: int = Field(default=0, description="Questions that raised or timed out (counted as failures).")
    metrics: dict[str, float | None]
    intervals: dict[str, tuple[float, float] | None] = Field(
        description="Bootstrap 95% confidence interval per metric (None when undefined)."
    )
    support: dict[str, int] = Field(
        default_factory=dict,
        description="Per metric: how many items it pools (facts, quotes, questions, ...).",
    )
    undefined: dict[str, str] = Field(default_factory=dict, description="Metric -> why it is null.")
    risk_coverage: list[RiskCoveragePoint] = Field(default_factory=list)
    per_question: list[QuestionResult]
    run: RunInfo

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples as lists)."""
        return self.model_dump(mode="json")
