"""Fusion of dense and lexical scores: a weighted sum of normalised scores.

Every candidate carries both scores (``HybridSearcher`` computes the missing one),
so the fusion can use how far apart the scores are, not only ranks. Dense cosines
are min-max normalised over the candidates; BM25 scores are divided by the best
one (0 stays "no term matched"). The mix is ``w * dense + (1 - w) * lexical``.

Measured with ``benchmarks/retrieval.py --tune`` (MiniLM-L6, chunks 1000/150,
``candidates`` n=30, query expansion on; recall@1 / recall@5 of passages, each set
split into seeded halves A (tuned on) and B (held out)):

=====================  ===================  ===================
retriever              PubMedQA dev (500)   MedQuAD 2,000 sample
=====================  ===================  ===================
BM25 alone             0.942 / 0.974        0.616 / 0.839
dense alone            0.972 / 0.994        0.761 / 0.894
RRF k=60               0.976 / 0.994        0.739 / 0.889
this, w=0.5 (old)      0.978 / 0.994        0.754 / 0.889
this, w=0.7            0.986 / 0.996        0.777 / 0.901
=====================  ===================  ===================

w=0.7 is best or within one question of best on half A of both sets and carries
over to half B (PubMedQA B 0.984 / 0.996, MedQuAD B 0.784 / 0.911); n=10..50
changes recall by at most 0.005. Tried and not better beyond noise (<= 0.005),
so not used: z-score normalisation, min-max for BM25 too, raw cosine, a
query-dependent weight from the BM25 top-1/top-2 ratio, from the dense top-1
margin or from both score gaps, and a bonus for candidates strong in both lists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from qa_service.retrieval import Candidate

# The tuned weight of the dense score (what settings ``retrieval.dense_weight`` should default to).
DEFAULT_DENSE_WEIGHT = 0.7


def _minmax(values: np.ndarray) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-9:
        return np.ones_like(values) if hi > 0 else np.zeros_like(values)
    return (values - lo) / (hi - lo)


def fuse(cands: list[Candidate], dense_weight: float = DEFAULT_DENSE_WEIGHT) -> list[Candidate]:
    """Set ``fused`` on every candidate and return them best first.

    Args:
        cands: Candidates with both ``dense`` (cosine) and ``lexical`` (BM25) scores.
        dense_weight: Weight of the normalised dense score in [0, 1]; BM25 gets the rest.

    Returns:
        The same candidates sorted by fused score (ties by chunk id, so the order is stable).
    """
    if not cands:
        return []
    dense = _minmax(np.array([c.dense for c in cands], dtype=np.float64))
    lexical = np.array([c.lexical for c in cands], dtype=np.float64)
    top = lexical.max()
    lexical = lexical / top if top > 0 else lexical
    for c, d, lx in zip(cands, dense, lexical, strict=True):
        c.fused = float(dense_weight * d + (1.0 - dense_weight) * lx)
    return sorted(cands, key=lambda c: (-c.fused, c.row.chunk_id))
