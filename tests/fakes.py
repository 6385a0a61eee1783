"""Test doubles for unit tests: a deterministic embedder that needs no model.

Integration tests use the real model (``embedder`` in ``tests/conftest.py``); unit tests get
``HashEmbedder`` instead, so that they run in seconds and never load torch.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import numpy as np

from ingest.embeddings import SpanVectors

_WORD = re.compile(r"\w+")


@lru_cache(maxsize=65536)
def _word_vector(word: str, dimension: int) -> np.ndarray:
    """A fixed random direction per word, seeded by SHA-256 (never the process-salted ``hash``)."""
    seed = int.from_bytes(hashlib.sha256(word.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dimension).astype(np.float32)


class HashEmbedder:
    """Bag-of-words vectors from hash-seeded word directions: same text, same vector, in any process.

    Texts that share words are closer than texts that do not, so retrieval code paths see
    meaningful (if crude) similarities; nothing about a real model's semantics is claimed.
    Implements ``ingest.embeddings.Embedder`` and ``encode_with_spans`` (the sentence-vector
    path of ingest), so a store built with it goes through the same code as with the model.
    """

    model_name = "test-hash-embedder"

    def __init__(self, dimension: int = 384) -> None:
        self.dimension = dimension
        self.calls = 0  # model calls made (tests may check that an operation needs none)

    def _vector(self, text: str) -> np.ndarray:
        words = _WORD.findall(text.lower())
        if not words:
            words = [text]  # an empty or punctuation-only text still gets a fixed vector
        total = np.sum([_word_vector(w, self.dimension) for w in words], axis=0)
        norm = float(np.linalg.norm(total))
        return (total / norm if norm > 0 else total).astype(np.float32)

    def encode(
        self, texts: list[str], *, batch_size: int | None = None, show_progress: bool = False
    ) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        self.calls += 1
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    def encode_with_spans(
        self, texts: list[str], spans: list[list[tuple[int, int]]], *, batch_size: int | None = None
    ) -> tuple[np.ndarray, list[SpanVectors]]:
        """Like the real model's: text vectors plus a vector per character span (the span's own text)."""
        if len(spans) != len(texts):
            raise ValueError("encode_with_spans: one span list per text")
        vectors = self.encode(texts)
        out = []
        for text, text_spans in zip(texts, spans, strict=True):
            if not text_spans:
                out.append(SpanVectors.empty(self.dimension))
                continue
            rows = np.stack([self._vector(text[s:e]) for s, e in text_spans])
            seen = np.asarray([e - s for s, e in text_spans], dtype=np.int64)
            out.append(SpanVectors(rows, seen))
        return vectors, out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """LangChain's ``Embeddings`` interface."""
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        """LangChain's ``Embeddings`` interface."""
        return self.encode([text])[0].tolist()
