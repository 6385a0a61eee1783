"""Request and response bodies of the HTTP API (the contract's JSON), separate from internal models.

Field names are the contract's (../shared/CONTRACT.md). Responses may carry
additional optional fields (``confidence``, a statement's ``group``), never fewer.
Request bodies reject unknown fields, so a typo such as ``topk`` is a 422, not
silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from ingest.errors import UsageError
from qa_service.audit import ReviewStatus
from qa_service.engine import MAX_K, MAX_QUESTION_CHARS, validate_question

MAX_TOPIC_CHARS = 500
MAX_QUIZ_ITEMS = 20
MAX_SEED = 2**53 - 1  # exact in a JSON number everywhere (JavaScript, JSON Schema validators)


# What ``str.strip()`` removes, spelled out: ``\s`` differs between regex engines (Python's includes
# U+001C..U+001F, JavaScript's and Rust's do not), and the schema must mean the same to a client's
# validator as to this server.
WHITESPACE = "".join(ch for ch in map(chr, range(0x3001)) if ch.isspace())


def trimmed_pattern(max_chars: int) -> str:
    """A regex (the same in Python and JSON Schema) for text of 1 to ``max_chars`` characters after trimming.

    The OpenAPI document carries it, and the validators below apply the very same pattern, so a
    fuzzer's idea of a valid question and the server's never differ (a blank question is invalid in
    both; surrounding whitespace is allowed in both).
    """
    ws = WHITESPACE
    return rf"^[{ws}]*[^{ws}](?:[\s\S]{{0,{max_chars - 2}}}[^{ws}])?[{ws}]*$"


QUESTION_PATTERN = trimmed_pattern(MAX_QUESTION_CHARS)
TOPIC_PATTERN = trimmed_pattern(MAX_TOPIC_CHARS)
NAME_PATTERN = trimmed_pattern(200)
_QUESTION_RE = re.compile(QUESTION_PATTERN)


class _Request(BaseModel):
    """A request body: unknown fields refused; integers as JSON Schema means them.

    JSON Schema counts ``47.0`` as an integer, so it is taken as 47; strings (``"5"``), booleans
    and fractions stay errors (the integer fields are strict).
    """

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _integral_floats(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in data.items()}
        return data


def check_question(value: str) -> str:
    """The trimmed question (1..2,000 characters after trimming: the CLI's rule and the schema's pattern)."""
    if not _QUESTION_RE.match(value):
        try:
            validate_question(value)  # words the reason as the CLI does
        except UsageError as exc:
            raise ValueError(str(exc)) from None
        raise ValueError("the question must hold some text")  # pragma: no cover - the two rules agree
    return validate_question(value)


def _trimmed(max_chars: int, what: str) -> Callable[[str], str]:
    pattern = re.compile(trimmed_pattern(max_chars))

    def check(value: str) -> str:
        if not pattern.match(value):
            if not value.strip():
                raise ValueError(f"the {what} is empty")
            raise ValueError(f"the {what} is longer than {max_chars} characters")
        return value.strip()

    return check


# ------------------------------------------------------------------ errors
class ValidationIssue(BaseModel):
    """One problem with a request field (FastAPI's validation error item)."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorResponse(BaseModel):
    """Every error: ``detail`` is a sentence, or for a malformed request a list of field problems."""

    detail: str | list[ValidationIssue]


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
        default_factory=list,
        description="What an LLM wrote that failed the citation check ([] for extractive).",
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


class Backends(BaseModel):
    """Which backends the service uses (contract Additions)."""

    documents: str = Field(description="'sqlite' or 'postgresql'.", examples=["postgresql"])
    vectors: str = Field(description="'chroma-embedded' or 'chroma-server'.", examples=["chroma-server"])
    llm: str | None = Field(
        default=None, description="The configured chat model, or null (extractive answers)."
    )


class Health(BaseModel):
    status: str = Field(
        examples=["ok"], description="'ok', or 'unavailable' (HTTP 503) when a backend does not answer."
    )
    documents: int
    chunks: int
    backends: Backends | None = None
    reachable: dict[str, bool] | None = Field(
        default=None, description="Whether each backend answered this check ('documents', 'vectors')."
    )
    llm_ok: bool | None = Field(
        default=None, description="Whether the configured LLM answers (null: none configured)."
    )
    llm_error: str | None = Field(
        default=None, description="Why the configured LLM does not answer (null when it does)."
    )


class ReviewEventPublic(BaseModel):
    """One step of an answer's history: a review, or something that happened to its evidence."""

    status: ReviewStatus
    previous_status: ReviewStatus
    reviewer: str
    role: str
    comment: str | None
    at: datetime
    event: str = Field(
        default="review",
        description=(
            "review (a reviewer's step), group_review (a review of an identical ask that covers this one), "
            "evidence_changed (a cited document was updated or deleted), recheck (asked again)."
        ),
    )
    document: str | None = Field(default=None, description="The document an evidence_changed event is about.")


class ReviewGroupPublic(BaseModel):
    """Asks of the same question with the same configuration, corpus and answer: one review covers them."""

    key: str
    size: int = Field(description="How many asks the group holds.")
    answer_ids: list[str] = Field(description="Ids of the group's answers, newest first (at most 50).")
    first_asked_at: datetime
    last_asked_at: datetime
    statuses: dict[str, int] = Field(
        default_factory=dict, description="How many of the asks are in each status."
    )


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
    history: list[ReviewEventPublic] = Field(
        description="Every step, oldest first (empty for callers who may not read the audit log)."
    )
    evidence_changed: bool = Field(
        default=False,
        description=(
            "A document the answer cites was updated or deleted so that a cited span changed or vanished."
        ),
    )
    changed_citations: list[int] = Field(
        default_factory=list, description="Ids of the citations whose text changed or vanished."
    )
    group: ReviewGroupPublic | None = Field(
        default=None, description="The identical asks this one belongs to."
    )


class AnswerRecordList(BaseModel):
    answers: list[AnswerRecordPublic]
    total: int = Field(
        description="Records (or groups, with group=true) matching the filter; the list may be one page."
    )


class MovedCitationPublic(BaseModel):
    """A cited span whose text is still in the document, at other offsets."""

    id: int
    start: int
    end: int
    new_start: int
    new_end: int


class RecheckResponse(BaseModel):
    """The question asked again on the current corpus, and what changed."""

    id: str = Field(description="The id of the answer that was rechecked.")
    before: AnswerPublic
    after: AnswerPublic
    statements_added: list[str]
    statements_removed: list[str]
    new_conflicts: list[str]
    changed_citations: list[int] = Field(
        default_factory=list, description="Citations of `before` whose text changed or vanished."
    )
    citations_moved: list[MovedCitationPublic] = Field(
        default_factory=list, description="Citations of `before` whose text now sits at other offsets."
    )


class CallerPublic(BaseModel):
    """Who the API key in this request belongs to."""

    auth: bool = Field(description="Whether the server requires API keys.")
    role: str = Field(description="The key's role ('local' without keys).")
    name: str | None = Field(description="The key holder's name, recorded as reviewer (null if unnamed).")
    permissions: list[str]


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
            json_schema_extra={"pattern": QUESTION_PATTERN},
        ),
    ]
    top_k: StrictInt | None = Field(
        default=None, ge=1, le=MAX_K, description="Passages used as evidence (1-50)."
    )
    generator: Literal["extractive", "llm"] | None = Field(
        default=None,
        description=(
            "Who writes the answer: 'llm' needs MEDCITE_LLM (else 422); default: the LLM when configured."
        ),
    )

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        return check_question(value)


class ReviewRequest(_Request):
    """A review step: start reviewing, approve or reject."""

    status: Literal["under_review", "approved", "rejected"] = Field(
        description="under_review, approved or rejected."
    )
    reviewer: str | None = Field(
        default=None,
        description=(
            "Who reviews (name or initials). With API keys whose holders are named (key:role:name) the "
            "key's holder is recorded and this field is ignored; otherwise it is required."
        ),
        json_schema_extra={"pattern": NAME_PATTERN},
    )
    comment: str | None = Field(default=None, max_length=5000)

    @field_validator("reviewer")
    @classmethod
    def _reviewer_named(cls, value: str | None) -> str | None:
        return None if value is None else _trimmed(200, "reviewer's name")(value)

    @property
    def decision(self) -> ReviewStatus:
        return ReviewStatus(self.status)


class QuizRequest(_Request):
    """Build multiple-choice items on a topic from the ingested documents."""

    topic: str = Field(
        examples=["vitamin B12 deficiency in infants"],
        description=f"What the quiz is about, 1 to {MAX_TOPIC_CHARS} characters after trimming.",
        json_schema_extra={"pattern": TOPIC_PATTERN},
    )
    n: StrictInt = Field(default=5, ge=1, le=MAX_QUIZ_ITEMS, description="Number of items.")
    seed: StrictInt = Field(default=0, ge=-MAX_SEED, le=MAX_SEED, description="Seed for a reproducible quiz.")

    @field_validator("topic")
    @classmethod
    def _topic_text(cls, value: str) -> str:
        return _trimmed(MAX_TOPIC_CHARS, "topic")(value)
