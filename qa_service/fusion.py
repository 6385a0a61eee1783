"""Fusion of dense and lexical scores (see ``benchmarks/retrieval.py`` for the measured rows)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from qa_service.retrieval import Candidate


def _minmax(values: np.ndarray) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-9:
        return np.ones_like(values) if hi > 0 else np.zeros_like(values)
    return (values - lo) / (hi - lo)


def fuse(cands: list["Candidate"], dense_weight: float) -> list["Candidate"]:
    """Convex combination of min-max normalised scores, best first."""
    if not cands:
        return []
    dense = _minmax(np.array([c.dense for c in cands], dtype=np.float64))
    lexical = np.array([c.lexical for c in cands], dtype=np.float64)
    top = lexical.max()
    lexical = lexical / top if top > 0 else lexical
    for c, d, lx in zip(cands, dense, lexical):
        c.fused = float(dense_weight * d + (1.0 - dense_weight) * lx)
    return sorted(cands, key=lambda c: (-c.fused, c.row.chunk_id))


