"""The store facade: documents (SQLite or PostgreSQL), vectors (Chroma) and the lexical index.

Two modes behind the same interface (see ``docs/services.md``):

* *embedded* (the default): SQLite, an embedded Chroma and a bm25s file under the
  data dir, owned by one process at a time (``ingest.lock``);
* *services*: ``MEDCITE_DATABASE_URL`` names a PostgreSQL database and
  ``MEDCITE_CHROMA_URL`` a Chroma server. No process owns anything: any number of
  API workers on any machines read, and writers (ingest, delete) take the
  database's write lock. Each process keeps its own in-memory BM25 index and
  rebuilds it from the chunk rows when the database's generation counter moved.

``qa_service`` reads through this object. Search results are always resolved
against the document rows, so a vector left behind by a crash (or not yet
committed) is never served.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ingest.database import backend_name, ping, store_url
from ingest.docstore import ChunkRow, DocumentStore
from ingest.embeddings import Embedder, load_embedder
from ingest.errors import EmptyStoreError, NotFoundError
from ingest.lexical import BM25Index
from ingest.lock import DataDirLock
from ingest.models import Document
from ingest.settings import Settings
from ingest.vectors import ChromaVectorIndex, VectorIndex, make_chroma_client

logger = logging.getLogger(__name__)


# On services, an index of at least this many chunks is rebuilt in the background when the
# generation moves (the previous one serving meanwhile); a smaller one is rebuilt at once.
BACKGROUND_REBUILD_CHUNKS = 20_000


def services_mode(settings: Settings) -> bool:
    """True when both the database and the vectors are shared services (no data-dir owner)."""
    return bool(settings.chroma_url) and backend_name(store_url(settings.database_url, settings.data_dir)) != "sqlite"


class Store:
    """Everything medcite keeps: under one data dir (embedded, one process), or on shared services."""

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
        self.services = services_mode(settings)
        # The one-owner lock guards files under the data dir; on shared services there are none.
        self._lock = None if self.services else DataDirLock(self.data_dir, owner or {"command": "cli"}).acquire()
        try:
            self.docs = DocumentStore(self.data_dir, settings.database_url)
            self._embedder = embedder
            self.fingerprint = settings.index_fingerprint
            # fingerprint: never reuse an index built with another model/chunking;
            # store id: two data dirs never share a collection, even on one Chroma server
            self.collection_name = f"medcite_{self.fingerprint}_{self.docs.store_id()[:12]}"
            if vectors is None:
                client = make_chroma_client(self.data_dir, settings.chroma_url)
                vectors = ChromaVectorIndex(
                    client, self.collection_name, embedder, settings.embedding.model, url=settings.chroma_url
                )
            self.vectors = vectors
            self._lexical: BM25Index | None = None
            # threads of one server share the store: one rebuild/save of the lexical index at a time
            self._lexical_lock = threading.RLock()
            self._refresh: threading.Thread | None = None  # a background rebuild under way (services)
        except Exception:
            if self._lock is not None:
                self._lock.release()
            raise

    # -- lifecycle
    def close(self) -> None:
        """Release the data dir (the process may exit or another may open it)."""
        self.docs.close()
        if self._lock is not None:
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
        """The BM25 index of the store as it is now (one generation check when nothing changed).

        Rebuilt from the chunk rows when the database's generation counter moved.
        Embedded, the index is also saved under the data dir (a restart loads it).
        On shared services, while another process holds the write lock (an ingest
        under way, its generation moving with every document), the index this
        process has is served as it is rather than rebuilt after every document;
        it is handed out under the current generation, so the answer composer
        still drops what it cached of documents that may have been replaced. The
        first ask after the writer finished rebuilds it: at once for a small
        index, in the background from ``BACKGROUND_REBUILD_CHUNKS`` chunks on
        (``benchmarks/lexical.py``: a rebuild takes tens of seconds at 200k
        chunks), the old index serving meanwhile. Documents added in that window
        are found by dense search only; removed ones never show (every hit is
        resolved against the chunk rows).
        """
        generation = self.docs.generation()
        current = self._lexical
        if current is not None and current.generation == generation:
            return current
        with self._lexical_lock:
            current = self._lexical
            if current is not None and current.generation == generation:
                return current
            if self.services:
                if current is not None and (self._refresh is not None or self.docs.writer_active()):
                    return _at_generation(current, generation)
                if current is not None and current.size >= BACKGROUND_REBUILD_CHUNKS:
                    self._refresh = threading.Thread(target=self._refresh_lexical, name="medcite-bm25", daemon=True)
                    self._refresh.start()
                    return _at_generation(current, generation)
                return self.rebuild_lexical()
            index = BM25Index.load(self.lexical_dir)
            if index is None or index.generation != generation:
                index = self.rebuild_lexical()
            self._lexical = index
            return index

    def _refresh_lexical(self) -> None:
        """Rebuild the index off the request path, then swap it in (services, large stores)."""
        try:
            generation, ids, texts = self.docs.chunks_snapshot()
            index = BM25Index.build(ids, texts, generation)
            with self._lexical_lock:
                if self._lexical is None or self._lexical.generation < index.generation:
                    self._lexical = index
        except Exception:  # the old index keeps serving; the next read tries again
            logger.exception("background rebuild of the lexical index failed")
        finally:
            self._refresh = None

    def rebuild_lexical(self) -> BM25Index:
        """Re-index every chunk row (and, embedded, persist the index)."""
        with self._lexical_lock:
            started = time.perf_counter()
            generation, ids, texts = self.docs.chunks_snapshot()
            index = BM25Index.build(ids, texts, generation)
            if not self.services:
                index.save(self.lexical_dir)
            self._lexical = index
            logger.info(
                "lexical index built",
                extra={"chunks": len(ids), "generation": generation, "s": round(time.perf_counter() - started, 2)},
            )
            return index

    def after_write(self) -> None:
        """Called by a writer once its changes are committed (end of an ingest, a delete).

        Embedded, the index is rebuilt and saved now (the next process loads it).
        On services, each process rebuilds its own on its next read: an ingest
        process that does not serve would build one for nobody.
        """
        if not self.services:
            self.rebuild_lexical()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the store's one-writer lock for an ingest or delete (see ``DocumentStore.write_lock``)."""
        with self.docs.write_lock():
            yield

    def backends(self) -> dict[str, str]:
        """Which backends this store uses (``/health``)."""
        return {
            "documents": self.docs.backend,
            "vectors": "chroma-server" if self.settings.chroma_url else "chroma-embedded",
        }

    def backend_status(self) -> dict[str, bool]:
        """Whether each backend answers now (never raises)."""
        vector_ping = getattr(self.vectors, "ping", None)
        return {"documents": ping(self.docs.engine), "vectors": bool(vector_ping()) if vector_ping else True}

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
        with self.writing():
            if self.docs.get_document(doc_id) is None:
                raise NotFoundError(f"no document with id {doc_id!r}")
            gone = self.docs.delete_documents([doc_id])
            self.vectors.delete(gone)
            self.after_write()

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


def _at_generation(index: BM25Index, generation: int) -> BM25Index:
    """The same index data, labelled with the store's current generation (see ``Store.lexical``)."""
    index.positions  # noqa: B018 - build the position map once, shared by the copies
    view = copy.copy(index)
    view.generation = generation
    return view
