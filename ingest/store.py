"""The store facade: documents (SQLite), vectors (Chroma) and the lexical index.

One object owns everything on disk under the data dir; ``qa_service`` reads
through it. Search results are always resolved against the document store, so a
vector left behind by a crash (or not yet committed) is never served.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path
from typing import Any

from ingest.docstore import ChunkRow, DocumentStore
from ingest.embeddings import Embedder, load_embedder
from ingest.errors import EmptyStoreError, NotFoundError
from ingest.lexical import BM25Index
from ingest.lock import DataDirLock
from ingest.models import Document
from ingest.settings import Settings
from ingest.vectors import ChromaVectorIndex, VectorIndex, make_chroma_client

logger = logging.getLogger(__name__)


class Store:
    """Everything medcite keeps under one data dir, opened by one process at a time."""

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        owner: dict[str, Any] | None = None,
        vectors: VectorIndex | None = None,
    ) -> None:
        self.settings = settings
        self.data_dir = Path(settings.data_dir)
        self._lock = DataDirLock(self.data_dir, owner or {"command": "cli"}).acquire()
        try:
            self.docs = DocumentStore(self.data_dir)
            self._embedder = embedder
            self.fingerprint = settings.index_fingerprint
            # fingerprint: never reuse an index built with another model/chunking;
            # store id: two data dirs never share a collection, even on one Chroma server
            self.collection_name = f"medcite_{self.fingerprint}_{self.docs.store_id()[:12]}"
            if vectors is None:
                client = make_chroma_client(self.data_dir, settings.chroma_url)
                vectors = ChromaVectorIndex(client, self.collection_name, embedder, settings.embedding.model)
            self.vectors = vectors
            self._lexical: BM25Index | None = None
            # threads of one server share the store: one rebuild/save of the lexical index at a time
            self._lexical_lock = threading.RLock()
        except Exception:
            self._lock.release()
            raise

    # -- lifecycle
    def close(self) -> None:
        """Release the data dir (the process may exit or another may open it)."""
        self.docs.close()
        self._lock.release()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use."""
        if self._embedder is None:
            self._embedder = load_embedder(self.settings.embedding)
        return self._embedder

    # -- lexical index
    @property
    def lexical_dir(self) -> Path:
        return self.data_dir / "lexical" / self.fingerprint

    def lexical(self) -> BM25Index:
        """The BM25 index, rebuilt when it does not reflect the document store."""
        generation = self.docs.generation()
        current = self._lexical
        if current is not None and current.generation == generation:
            return current
        with self._lexical_lock:
            if self._lexical is not None and self._lexical.generation == generation:
                return self._lexical
            index = BM25Index.load(self.lexical_dir)
            if index is None or index.generation != generation:
                index = self.rebuild_lexical(generation)
            self._lexical = index
            return index

    def rebuild_lexical(self, generation: int | None = None) -> BM25Index:
        """Re-index every chunk row and persist the index."""
        with self._lexical_lock:
            generation = self.docs.generation() if generation is None else generation
            ids, texts = self.docs.all_chunks()
            index = BM25Index.build(ids, texts, generation)
            index.save(self.lexical_dir)
            self._lexical = index
            return index

    # -- maintenance
    def collect_garbage(self) -> int:
        """Delete vectors whose chunk row does not exist (left by an interrupted ingest)."""
        extra = self.vectors.all_ids() - self.docs.chunk_ids()
        if extra:
            self.vectors.delete(sorted(extra))
            logger.info("removed orphaned vectors", extra={"count": len(extra)})
        return len(extra)

    def delete_document(self, doc_id: str) -> None:
        """Remove a document, its chunks and vectors."""
        if self.docs.get_document(doc_id) is None:
            raise NotFoundError(f"no document with id {doc_id!r}")
        gone = self.docs.delete_documents([doc_id])
        self.vectors.delete(gone)
        self.rebuild_lexical()

    # -- reads
    def require_documents(self) -> None:
        """Raise the contract's message when nothing has been ingested."""
        if self.docs.counts()[1] == 0:
            raise EmptyStoreError()

    def dense_search(self, vector: Any, n: int) -> list[tuple[ChunkRow, float]]:
        """Nearest chunks by cosine similarity, only those present in the document store."""
        hits = self.vectors.query(vector, n)
        rows = self.docs.chunk_rows([cid for cid, _ in hits])
        return [(rows[cid], score) for cid, score in hits if cid in rows]

    def lexical_search(self, query: str, n: int) -> list[tuple[ChunkRow, float]]:
        """Best chunks by BM25 score."""
        hits = self.lexical().query(query, n)
        rows = self.docs.chunk_rows([cid for cid, _ in hits])
        return [(rows[cid], score) for cid, score in hits if cid in rows]

    def list_documents(self) -> list[Document]:
        return self.docs.list_documents()

    def get_document(self, doc_id: str) -> Document:
        doc = self.docs.get_document(doc_id)
        if doc is None:
            raise NotFoundError(f"no document with id {doc_id!r}")
        return doc

    def corpus_version(self) -> str:
        """A hash over the documents' content hashes (changes when any document does)."""
        return hashlib.sha256("\n".join(self.docs.content_hashes()).encode()).hexdigest()[:16]

    def stats(self) -> dict[str, int]:
        docs, chunks = self.docs.counts()
        return {"documents": docs, "chunks": chunks}
