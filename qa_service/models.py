"""Typed objects of the answering layer; their JSON is the contract's JSON.

``Passage`` (and the ingest-level objects) live in :mod:`ingest.models` and are
re-exported here so callers have one import for everything that crosses a boundary.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from ingest.models import Chunk, Document, IngestFileError, IngestReport, Passage, SourceDocument

__all__ = [
    "Answer",
    "Chunk",
    "Citation",
    "Conflict",
    "Document",
    "DroppedStatement",
    "GenerationFallback",
    "IngestFileError",
    "IngestReport",
    "Passage",
    "QuizItem",
    "SearchResult",
    "SourceDocument",
    "Statement",
]


class Citation(Passage):
    """A cited span: a ``Passage`` whose ``text`` is the supporting sentence(s), plus its number."""

    id: int = Field(ge=1, description="1-based number shown in the answer text as [n].")


class Statement(BaseModel):
    """One claim of an answer and the citations that support it."""

    text: str
    citations: list[int] = Field(default_factory=list)
    group: str | None = Field(
        default=None, description="Heading the statement is grouped under (None = bottom line)."
    )
    supported: bool = Field(
        default=True, description="Whether the citation check found the statement supported."
    )


class Conflict(BaseModel):
    """Cited statements that give different values for the same quantity."""

    description: str
    citations: list[int]


class DroppedStatement(BaseModel):
    """A statement a generative answerer wrote that failed the citation check (never shown as an answer)."""

    text: str
    citations: list[int] = Field(
        default_factory=list, description="The markers the model gave, as it numbered the evidence."
    )
    reason: str
    cited_texts: list[str] = Field(
        default_factory=list, description="The evidence sentences those markers named."
    )


class GenerationFallback(BaseModel):
    """Why the LLM's answer was not served and the extractive answer was shown instead."""

    generator: str = Field(description='The generator that was tried, e.g. "llm:SmolLM2-135M-Instruct".')
    reason: str
    dropped_statements: list[DroppedStatement] = Field(default_factory=list)


class Answer(BaseModel):
    """An answer (the contract's ``Answer`` object)."""

    id: str
    question: str
    answer: str
    abstained: bool
    abstain_reason: str | None = None
    statements: list[Statement] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    conflicts: list[Conflict] = Field(default_factory=list)
    config_hash: str
    generator: str
    latency_ms: float
    question_id: str | None = Field(default=None, description="Set by batch mode to the input line's id.")
    confidence: float = Field(
        default=0.0, description="Evidence score in [0, 1] the abstention decision used."
    )
    dropped_statements: list[DroppedStatement] = Field(
        default_factory=list,
        description="What the LLM wrote that failed the citation check ([] for extractive answers).",
    )
    fallback: GenerationFallback | None = Field(
        default=None, description="Set when an LLM was asked but the extractive answer is shown (and why)."
    )

    def public(self) -> dict[str, object]:
        """The contract's JSON (``question_id`` only when set)."""
        data = self.model_dump(mode="json")
        if data.get("question_id") is None:
            data.pop("question_id", None)
        return data


class SearchResult(BaseModel):
    """What ``search`` returns."""

    query: str
    passages: list[Passage]


class QuizItem(BaseModel):
    """A multiple-choice item whose key is supported by its citations."""

    id: str
    stem: str
    options: list[str]
    answer_index: int
    rationale: str
    citations: list[Citation]
    option_rationales: list[str] = Field(default_factory=list)
    checks: dict[str, bool] = Field(
        default_factory=dict, description="Item-writing checks and whether each passed."
    )
