"""Request and response bodies of the HTTP API (the contract's JSON), separate from internal models.

Field names are the contract's (../shared/CONTRACT.md). Responses may carry
additional optional fields (``confidence``, a statement's ``group``), never fewer.
Request bodies reject unknown fields, so a typo such as ``topk`` is a 422, not
silently ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from ingest.errors import UsageError
from qa_service.audit import ReviewStatus
from qa_service.engine import MAX_K, MAX_QUESTION_CHARS, validate_question

MAX_TOPIC_CHARS = 500
MAX_QUIZ_ITEMS = 20


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _question_rule(value: str) -> str:
    try:
        return validate_question(value)
    except UsageError as exc:  # one rule for CLI and HTTP: 1..2000 characters after trimming
        raise ValueError(str(exc)) from None


# ------------------------------------------------------------------ objects
class PassagePublic(BaseModel):
    """A span of a stored document: ``Document.text[start:end] == text``."""

    doc_id: str
    source: str
    title: str | None
    section: str | None
    start: int
    end: int
    text: str
    score: float


class CitationPublic(PassagePublic):
    """A cited span; ``id`` is the number shown in the answer text as ``[n]``."""

    id: int


class StatementPublic(BaseModel):
    """One claim and the citation ids that support it."""

    text: str
    citations: list[int]
    group: str | None = Field(
        default=None, description="Heading the statement is grouped under (null = bottom line)."
    )
    supported: bool = Field(
        default=True, description="Whether the citation check found the statement supported."
    )


class ConflictPublic(BaseModel):
    """Cited statements that disagree (e.g. different doses for the same thing)."""

    description: str
    citations: list[int]


class DroppedStatementPublic(BaseModel):
    """A statement the LLM wrote that failed the citation check; never part of the answer."""

    text: str
    citations: list[int] = Field(description="The evidence numbers the model gave (its own numbering).")
    reason: str
    cited_texts: list[str] = Field(default_factory=list, description="The evidence sentences it named.")


class GenerationFallbackPublic(BaseModel):
    """The LLM was asked, but the extractive answer is shown: why, and what the model wrote."""

    generator: str
    reason: str
    dropped_statements: list[DroppedStatementPublic] = Field(default_factory=list)


class AnswerPublic(BaseModel):
    """An answer: readable text with ``[n]`` markers, its statements and citations, or an abstention."""

    id: str
    question: str
    answer: str
    abstained: bool
    abstain_reason: str | None
    statements: list[StatementPublic]
    citations: list[CitationPublic]
    conflicts: list[ConflictPublic]
    config_hash: str
    generator: str
    latency_ms: float
    confidence: float = Field(
        default=0.0, description="Evidence score in [0, 1] behind the abstention decision."
    )
    dropped_statements: list[DroppedStatementPublic] = Field(
        default_factory=list, description="What an LLM wrote that failed the citation check ([] for extractive)."
    )
    fallback: GenerationFallbackPublic | None = Field(
        default=None, description="Set when an LLM was asked but the extractive answer is shown."
    )


class SearchResponse(BaseModel):
    """Best passages first."""

    query: str
    passages: list[PassagePublic]


class DocumentPublic(BaseModel):
    """A stored document (without its text)."""

    doc_id: str
    source: str
    title: str | None
    format: str
    chars: int
    chunks: int
    ingested_at: str = Field(description="ISO 8601 time of the last (re-)ingest.")


class DocumentWithText(DocumentPublic):
    """A stored document with its normalised text (citation offsets index into it)."""

    text: str


class DocumentList(BaseModel):
    documents: list[DocumentPublic]


class IngestErrorPublic(BaseModel):
    source: str
    error: str


class IngestSummary(BaseModel):
    """What an upload did (the CLI's ``ingest --json`` object)."""

    added: int
    updated: int
    unchanged: int
    removed: int
    chunks: int
    errors: list[IngestErrorPublic]


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    documents: int
    chunks: int
    backends: dict[str, str | None] = Field(
        default_factory=dict, description='What serves each part; "llm": the MEDCITE_LLM model, or null.'
    )
    llm_ok: bool | None = Field(default=None, description="Whether the configured LLM answers (null: none configured).")
    llm_error: str | None = Field(default=None, description="Why the configured LLM does not answer.")


class ReviewEventPublic(BaseModel):
    """One review step."""

    status: ReviewStatus
    previous_status: ReviewStatus
    reviewer: str
    role: str
    comment: str | None
    at: datetime


class AnswerRecordPublic(BaseModel):
    """An audit record: the answer exactly as served, when, to whom, and its review status and history."""

    id: str = Field(description="The answer's id.")
    question: str
    status: ReviewStatus
    allowed_next: list[ReviewStatus] = Field(description="Statuses a review may move this answer to now.")
    role: str = Field(description="Role of the API key that asked ('local' without keys).")
    config_hash: str
    corpus_version: str = Field(
        description="Hash over the content hashes of the documents ingested when it was served."
    )
    created_at: datetime
    updated_at: datetime
    answer: AnswerPublic
    history: list[ReviewEventPublic]


class AnswerRecordList(BaseModel):
    answers: list[AnswerRecordPublic]
    total: int = Field(description="Records matching the filter (the list may be one page of them).")


class QuizItemPublic(BaseModel):
    """A multiple-choice item whose correct option is supported by its citations."""

    model_config = ConfigDict(extra="allow")

    id: str
    stem: str
    options: list[str]
    answer_index: int
    rationale: str
    citations: list[CitationPublic]


class QuizResponse(BaseModel):
    items: list[QuizItemPublic]


# ------------------------------------------------------------------ requests
class AskRequest(_Request):
    """A clinical question (1 to 2,000 characters after trimming)."""

    question: Annotated[
        str,
        Field(
            description=f"The question, 1 to {MAX_QUESTION_CHARS} characters after trimming.",
            examples=["What is the recommended treatment for vitamin B12 deficiency in infants?"],
        ),
    ]
    top_k: StrictInt | None = Field(
        default=None, ge=1, le=MAX_K, description="Passages used as evidence (1-50)."
    )
    generator: Literal["extractive", "llm"] | None = Field(
        default=None,
        description="Who writes the answer: 'llm' needs MEDCITE_LLM (else 422); default: the LLM when configured.",
    )

    _check_question = field_validator("question")(_question_rule)


class ReviewRequest(_Request):
    """A review step: start reviewing, approve or reject."""

    status: ReviewStatus = Field(description="under_review, approved or rejected.")
    reviewer: str = Field(min_length=1, max_length=200, description="Who reviews (name or initials).")
    comment: str | None = Field(default=None, max_length=5000)

    @field_validator("status")
    @classmethod
    def _not_submitted(cls, value: ReviewStatus) -> ReviewStatus:
        if value is ReviewStatus.SUBMITTED:
            raise ValueError("a review sets under_review, approved or rejected")
        return value

    @field_validator("reviewer")
    @classmethod
    def _reviewer_named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the reviewer must be named")
        return value.strip()


class QuizRequest(_Request):
    """Build multiple-choice items on a topic from the ingested documents."""

    topic: str = Field(
        min_length=1, max_length=MAX_TOPIC_CHARS, examples=["vitamin B12 deficiency in infants"]
    )
    n: StrictInt = Field(default=5, ge=1, le=MAX_QUIZ_ITEMS, description="Number of items.")
    seed: StrictInt = Field(default=0, description="Seed for a reproducible quiz.")

    @field_validator("topic")
    @classmethod
    def _topic_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the topic is empty")
        return value.strip()
