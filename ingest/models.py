"""Typed objects of the ingest layer and the store.

Their JSON is the contract's JSON (../shared/CONTRACT.md): ``Document``,
``Passage`` and ``IngestReport`` field names are exact.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Section(BaseModel):
    """A titled stretch of a document's normalised text: ``text[start:end]``."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(description="Heading text, or None for text before the first heading.")
    start: int = Field(
        ge=0, description="Offset of the section's first character (the heading line included)."
    )
    end: int = Field(ge=0, description="Offset one past the section's last character.")
    level: int = Field(default=1, ge=0, description="Heading depth (1 = top level).")


class SourceDocument(BaseModel):
    """One file turned into normalised text plus the sections found in it."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(
        description="Path relative to the folder given to ingest (file name for a single file)."
    )
    path: str = Field(description="Absolute path of the file read.")
    title: str | None = Field(default=None, description="Document title when the format gives one.")
    format: str = Field(description="One of txt, md, html, pdf, docx.")
    text: str = Field(description="Normalised document text (NFC, whitespace tidied). Offsets refer to it.")
    sections: list[Section] = Field(default_factory=list, description="Sections in document order.")
    content_hash: str = Field(description="sha256 of the raw file bytes.")


class Chunk(BaseModel):
    """A piece of a document that is embedded and retrieved: ``text == document.text[start:end]``."""

    model_config = ConfigDict(extra="forbid")

    chunk_id: str
    doc_id: str
    index: int = Field(ge=0, description="Position of the chunk within its document.")
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    section: str | None = Field(default=None, description="Title of the section the chunk starts in.")
    text: str


class Document(BaseModel):
    """A stored document as the contract shows it (``text`` only when asked for)."""

    doc_id: str
    source: str
    title: str | None = None
    format: str
    chars: int
    chunks: int
    ingested_at: str = Field(description="ISO 8601 time of the last (re-)ingest.")
    text: str | None = None

    def public(self, with_text: bool = False) -> dict[str, object]:
        """The contract's JSON: ``text`` present only when asked for."""
        data = self.model_dump()
        if not with_text:
            data.pop("text", None)
        return data


class IngestFileError(BaseModel):
    """One file that could not be ingested, with a reason a person understands."""

    source: str
    error: str


class IngestReport(BaseModel):
    """Summary of one ingest run (the contract's ingest JSON)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = Field(default=0, description="Chunks written in this run.")
    errors: list[IngestFileError] = Field(default_factory=list)


class Passage(BaseModel):
    """A retrieved span of a stored document: ``Document.text[start:end] == text``."""

    doc_id: str
    source: str
    title: str | None = None
    section: str | None = None
    start: int
    end: int
    text: str
    score: float
