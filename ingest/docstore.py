"""The document store: the source of truth for documents and chunks (SQLAlchemy Core).

SQLite under the data dir by default (WAL, busy timeout), or the PostgreSQL
database ``MEDCITE_DATABASE_URL`` names, with the same code; the schema comes from
the Alembic migrations in ``ingest/migrations`` (``ingest.migrate``). Every change
to one document is one transaction, so a crash never leaves half a document
visible, and every change bumps the store's generation counter. Vectors and the
lexical index are derived from these rows.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    text,
    update,
)

from ingest.database import (
    WRITE_LOCK,
    backend_name,
    check_connection,
    make_engine,
    serialize_migrations,
    store_url,
)
from ingest.models import Chunk, Document, Section, SourceDocument

__all__ = ["ChunkRow", "DocEvidence", "DocumentStore", "SentenceVectors", "StoredDoc", "make_engine", "metadata"]

logger = logging.getLogger(__name__)

metadata = MetaData()

documents_table = Table(
    "documents",
    metadata,
    Column("doc_id", String(200), primary_key=True),
    Column("source", Text, nullable=False),
    Column("path", Text, nullable=False, unique=True),
    Column("title", Text),
    Column("format", String(10), nullable=False),
    Column("chars", Integer, nullable=False),
    Column("n_chunks", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("fingerprint", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("sections", Text, nullable=False, default="[]"),
    Column("ingested_at", String(40), nullable=False),
)

chunks_table = Table(
    "chunks",
    metadata,
    Column("chunk_id", String(260), primary_key=True),
    Column("doc_id", String(200), ForeignKey("documents.doc_id", ondelete="CASCADE"), nullable=False, index=True),
    Column("idx", Integer, nullable=False),
    Column("start", Integer, nullable=False),
    Column("end", Integer, nullable=False),
    Column("section", Text),
    Column("text", Text, nullable=False),
)

# Sentence vectors pooled at ingest (``ingest.embeddings.SentenceTransformerEmbeddings.encode_with_spans``),
# one row per document: its sentence spans (JSON) and their vectors (float16, row-major).
# A store written before this table existed simply has no rows: the composer then
# encodes the sentences it needs at ask time.
sentence_vectors_table = Table(
    "sentence_vectors",
    metadata,
    Column("doc_id", String(200), ForeignKey("documents.doc_id", ondelete="CASCADE"), primary_key=True),
    Column("dimension", Integer, nullable=False),
    Column("spans", Text, nullable=False),
    Column("vectors", LargeBinary, nullable=False),
)

meta_table = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# Counters every process can bump atomically (``value = value + 1``); ``generation``
# moves with every committed change of documents or chunks.
state_table = Table(
    "store_state",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)


@dataclass
class SentenceVectors:
    """A document's sentence spans and one unit vector per span (None when there are none)."""

    spans: list[tuple[int, int]]
    vectors: np.ndarray | None


@dataclass(frozen=True)
class DocEvidence:
    """What the answer composer reads of a document: its text, sections and sentence vectors."""

    text: str
    sections: list[Section]
    sentence_vectors: dict[tuple[int, int], np.ndarray]


@dataclass(frozen=True)
class StoredDoc:
    """What ingest needs to decide whether a file changed."""

    doc_id: str
    path: str
    content_hash: str
    fingerprint: str


@dataclass(frozen=True)
class ChunkRow:
    """A chunk joined with its document's public fields."""

    chunk_id: str
    doc_id: str
    source: str
    title: str | None
    section: str | None
    start: int
    end: int
    text: str


class DocumentStore:
    """Documents and chunk rows, one transaction per document change."""

    def __init__(self, data_dir: Path, database_url: str | None = None, *, migrate: bool = True) -> None:
        """Open (and migrate) the store database: ``database_url``, else SQLite under ``data_dir``.

        Raises:
            StoreError: the database driver is missing or the database does not answer.
        """
        from ingest.migrate import upgrade

        url = store_url(database_url, data_dir)
        if url.startswith("sqlite"):
            data_dir.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(url)
        self.backend = backend_name(url)
        check_connection(self.engine)
        if migrate:
            upgrade(self.engine)
            self._ensure_store_id()

    def _ensure_store_id(self) -> None:
        """Give a new store its random id (once, even when several processes open it together)."""
        with self.engine.begin() as conn:
            serialize_migrations(conn)
            if conn.execute(select(meta_table.c.value).where(meta_table.c.key == "store_id")).scalar() is None:
                conn.execute(insert(meta_table).values(key="store_id", value=uuid.uuid4().hex))

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()

    def store_id(self) -> str:
        """A random id made when the store was created: keeps two data dirs apart on a shared Chroma server."""
        with self.engine.connect() as conn:
            return str(conn.execute(select(meta_table.c.value).where(meta_table.c.key == "store_id")).scalar())

    # -- generation: bumped on every change, used to detect a stale lexical index
    def generation(self) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(select(state_table.c.value).where(state_table.c.name == "generation")).scalar()
        return int(value) if value is not None else 0

    @staticmethod
    def _bump(conn: Any) -> None:
        """Add one to the generation inside the caller's transaction (atomic on PostgreSQL too)."""
        t = state_table
        done = conn.execute(update(t).where(t.c.name == "generation").values(value=t.c.value + 1)).rowcount
        if not done:
            conn.execute(insert(t).values(name="generation", value=1))

    # -- coordination of writers (ingest, delete) across processes
    @contextmanager
    def write_lock(self, wait_message: str = "waiting for another ingest or delete to finish") -> Iterator[None]:
        """Hold the store's one-writer lock (PostgreSQL: a session advisory lock) while changing it.

        Two ingests (a CLI and an API upload on another machine, say) would otherwise
        race: each could garbage-collect the other's vectors before their rows are
        committed. The lock belongs to a database session, so a writer killed with
        ``kill -9`` releases it when its connection drops. On SQLite the data-dir
        lock already makes the owning process the only writer; this is a no-op.
        """
        if self.backend != "postgresql":
            yield
            return
        with self.engine.connect() as conn:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": WRITE_LOCK}).scalar()
            if not got:
                logger.warning(wait_message)
                started = time.monotonic()
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": WRITE_LOCK})
                logger.info("store write lock acquired", extra={"waited_s": round(time.monotonic() - started, 1)})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": WRITE_LOCK})
                conn.commit()

    def writer_active(self) -> bool:
        """Whether another session holds the write lock now (an ingest or delete is under way)."""
        if self.backend != "postgresql":
            return False
        with self.engine.connect() as conn:
            return bool(
                conn.execute(
                    text(
                        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        "AND classid = :hi AND objid = :lo AND objsubid = 1)"
                    ),
                    {"hi": WRITE_LOCK >> 32, "lo": WRITE_LOCK & 0xFFFFFFFF},
                ).scalar()
            )

    # -- reads
    def stored_docs(self) -> dict[str, StoredDoc]:
        """Stored documents keyed by absolute path."""
        t = documents_table
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.doc_id, t.c.path, t.c.content_hash, t.c.fingerprint)).all()
        return {r.path: StoredDoc(r.doc_id, r.path, r.content_hash, r.fingerprint) for r in rows}

    def list_documents(self) -> list[Document]:
        """All documents (without text), ordered by source."""
        t = documents_table
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.c.doc_id, t.c.source, t.c.title, t.c.format, t.c.chars, t.c.n_chunks, t.c.ingested_at).order_by(
                    t.c.source, t.c.doc_id
                )
            ).all()
        return [
            Document(doc_id=r.doc_id, source=r.source, title=r.title, format=r.format, chars=r.chars, chunks=r.n_chunks, ingested_at=r.ingested_at)
            for r in rows
        ]

    def get_document(self, doc_id: str) -> Document | None:
        """One document with its text, or None."""
        t = documents_table
        with self.engine.connect() as conn:
            r = conn.execute(select(t).where(t.c.doc_id == doc_id)).first()
        if r is None:
            return None
        return Document(
            doc_id=r.doc_id, source=r.source, title=r.title, format=r.format, chars=r.chars, chunks=r.n_chunks, ingested_at=r.ingested_at, text=r.text
        )

    def sections(self, doc_id: str) -> list[Section]:
        """A document's sections (title, start, end, level) in order."""
        with self.engine.connect() as conn:
            raw = conn.execute(select(documents_table.c.sections).where(documents_table.c.doc_id == doc_id)).scalar()
        return [Section(**s) for s in json.loads(raw or "[]")]

    def evidence(self, doc_ids: Sequence[str]) -> dict[str, DocEvidence]:
        """Text, sections and sentence vectors of the given documents, in one query; unknown ids are absent."""
        d, v = documents_table, sentence_vectors_table
        ids = list(dict.fromkeys(doc_ids))
        out: dict[str, DocEvidence] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                rows = conn.execute(
                    select(d.c.doc_id, d.c.text, d.c.sections, v.c.dimension, v.c.spans, v.c.vectors)
                    .select_from(d.outerjoin(v, v.c.doc_id == d.c.doc_id))
                    .where(d.c.doc_id.in_(ids[i : i + 500]))
                ).all()
                for r in rows:
                    vectors: dict[tuple[int, int], np.ndarray] = {}
                    if r.vectors is not None:
                        spans = [tuple(sp) for sp in json.loads(r.spans)]
                        matrix = np.frombuffer(r.vectors, dtype=np.float16).reshape(len(spans), r.dimension)
                        vectors = dict(zip(spans, matrix.astype(np.float32)))  # type: ignore[arg-type]
                    out[r.doc_id] = DocEvidence(r.text, [Section(**s) for s in json.loads(r.sections or "[]")], vectors)
        return out

    def counts(self) -> tuple[int, int]:
        """(documents, chunks)."""
        with self.engine.connect() as conn:
            docs = conn.execute(select(func.count()).select_from(documents_table)).scalar() or 0
            chunks = conn.execute(select(func.count()).select_from(chunks_table)).scalar() or 0
        return int(docs), int(chunks)

    def content_hashes(self) -> list[str]:
        """Content hashes of all documents, sorted (for a corpus version)."""
        with self.engine.connect() as conn:
            return sorted(conn.execute(select(documents_table.c.content_hash)).scalars())

    def all_chunks(self) -> tuple[list[str], list[str]]:
        """(chunk ids, chunk texts) of every chunk, in a stable order."""
        _, ids, texts = self.chunks_snapshot()
        return ids, texts

    def chunks_snapshot(self, attempts: int = 5) -> tuple[int, list[str], list[str]]:
        """(generation, chunk ids, chunk texts): every chunk as of one generation.

        Read optimistically: the generation before and after the rows must agree
        (a writer committing in between makes it read again), so an index built
        from the result never claims a generation whose rows it does not hold.
        """
        c = chunks_table
        for _ in range(attempts):
            before = self.generation()
            with self.engine.connect() as conn:
                rows = conn.execute(select(c.c.chunk_id, c.c.text).order_by(c.c.doc_id, c.c.idx)).all()
            if self.generation() == before:
                return before, [r.chunk_id for r in rows], [r.text for r in rows]
        # a writer commits faster than we can read: the last read is still whole documents
        return -1, [r.chunk_id for r in rows], [r.text for r in rows]

    def chunk_ids(self) -> set[str]:
        """Every stored chunk id."""
        with self.engine.connect() as conn:
            return set(conn.execute(select(chunks_table.c.chunk_id)).scalars())

    def chunk_rows(self, chunk_ids: Sequence[str]) -> dict[str, ChunkRow]:
        """Stored chunks (with document fields) for the given ids; unknown ids are absent."""
        if not chunk_ids:
            return {}
        c, d = chunks_table, documents_table
        out: dict[str, ChunkRow] = {}
        ids = list(dict.fromkeys(chunk_ids))
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                rows = conn.execute(
                    select(c.c.chunk_id, c.c.doc_id, d.c.source, d.c.title, c.c.section, c.c.start, c.c.end, c.c.text)
                    .join(d, d.c.doc_id == c.c.doc_id)
                    .where(c.c.chunk_id.in_(ids[i : i + 500]))
                ).all()
                for r in rows:
                    out[r.chunk_id] = ChunkRow(r.chunk_id, r.doc_id, r.source, r.title, r.section, r.start, r.end, r.text)
        return out

    def document_chunks(self, doc_id: str) -> list[ChunkRow]:
        """A document's chunks in order."""
        c, d = chunks_table, documents_table
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(c.c.chunk_id, c.c.doc_id, d.c.source, d.c.title, c.c.section, c.c.start, c.c.end, c.c.text)
                .join(d, d.c.doc_id == c.c.doc_id)
                .where(c.c.doc_id == doc_id)
                .order_by(c.c.idx)
            ).all()
        return [ChunkRow(r.chunk_id, r.doc_id, r.source, r.title, r.section, r.start, r.end, r.text) for r in rows]

    # -- writes (each one transaction)
    def replace_document(
        self,
        doc_id: str,
        doc: SourceDocument,
        chunks: Sequence[Chunk],
        fingerprint: str,
        sentence_vectors: SentenceVectors | None = None,
    ) -> list[str]:
        """Insert or replace a document, its chunks and sentence vectors atomically; returns the chunk ids it replaced."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self.engine.begin() as conn:
            old = list(conn.execute(select(chunks_table.c.chunk_id).where(chunks_table.c.doc_id == doc_id)).scalars())
            # this document, and one that had its path (a file renamed onto it: the path column is unique)
            same_path = conn.execute(select(documents_table.c.doc_id).where(documents_table.c.path == doc.path)).scalars()
            self._delete_docs(conn, [doc_id, *same_path])
            conn.execute(
                insert(documents_table).values(
                    doc_id=doc_id,
                    source=doc.source,
                    path=doc.path,
                    title=doc.title,
                    format=doc.format,
                    chars=len(doc.text),
                    n_chunks=len(chunks),
                    content_hash=doc.content_hash,
                    fingerprint=fingerprint,
                    text=doc.text,
                    sections=json.dumps([sec.model_dump() for sec in doc.sections]),
                    ingested_at=now,
                )
            )
            if chunks:
                conn.execute(
                    insert(chunks_table),
                    [
                        {"chunk_id": ch.chunk_id, "doc_id": doc_id, "idx": ch.index, "start": ch.start, "end": ch.end, "section": ch.section, "text": ch.text}
                        for ch in chunks
                    ],
                )
            if sentence_vectors is not None and sentence_vectors.vectors is not None and sentence_vectors.spans:
                matrix = np.ascontiguousarray(sentence_vectors.vectors, dtype=np.float16)
                conn.execute(
                    insert(sentence_vectors_table).values(
                        doc_id=doc_id,
                        dimension=int(matrix.shape[1]),
                        spans=json.dumps([list(sp) for sp in sentence_vectors.spans]),
                        vectors=matrix.tobytes(),
                    )
                )
            self._bump(conn)
        new = {ch.chunk_id for ch in chunks}
        return [cid for cid in old if cid not in new]

    def delete_documents(self, doc_ids: Iterable[str]) -> list[str]:
        """Delete documents and their chunks in one transaction; returns the deleted chunk ids."""
        doc_ids = list(doc_ids)
        if not doc_ids:
            return []
        with self.engine.begin() as conn:
            gone = list(conn.execute(select(chunks_table.c.chunk_id).where(chunks_table.c.doc_id.in_(doc_ids))).scalars())
            self._delete_docs(conn, doc_ids)
            self._bump(conn)
        return gone

    @staticmethod
    def _delete_docs(conn: Any, doc_ids: Sequence[str]) -> None:
        """Delete documents with their chunks and sentence vectors (inside the caller's transaction)."""
        if not doc_ids:
            return
        conn.execute(delete(chunks_table).where(chunks_table.c.doc_id.in_(doc_ids)))
        conn.execute(delete(sentence_vectors_table).where(sentence_vectors_table.c.doc_id.in_(doc_ids)))
        conn.execute(delete(documents_table).where(documents_table.c.doc_id.in_(doc_ids)))
