"""Hybrid retrieval: dense (Chroma) + lexical (BM25), fused on normalised scores.

Why not reciprocal-rank fusion: measured on this machine, equal-weight RRF lands
*between* BM25 and dense on both PubMedQA and MedQuAD, because it throws away how
far apart the scores are. Here every candidate of either list gets BOTH scores
(the dense cosine is computed for lexical-only candidates from their stored
vectors; BM25 scores every chunk), each is min-max normalised over the
candidate union, and they are mixed with a weight. ``benchmarks/retrieval.py``
prints the rows that chose the weight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ingest.docstore import ChunkRow
from ingest.models import Passage
from qa_service.fusion import fuse

_WORD = re.compile(r"[A-Za-zÀ-ÿ]+")


def expand_query(query: str) -> str:
    """The query plus the other (British / American) spelling of its words, for lexical matching:
    "haemoglobin" also finds "hemoglobin" (``breame``'s spelling tables, not a list of ours)."""
    from qa_service.question import spelling_variants

    have = {w.lower() for w in _WORD.findall(query)}
    extra = [v for w in dict.fromkeys(have) for v in spelling_variants(w) if v not in have]
    return query if not extra else f"{query} {' '.join(dict.fromkeys(extra))}"


@dataclass
class Candidate:
    """A chunk with both retrievers' scores."""

    row: ChunkRow
    dense: float
    lexical: float
    fused: float = 0.0


class HybridSearcher:
    """Dense + lexical retrieval over a :class:`ingest.store.Store`."""

    def __init__(self, store: Any, settings: Any) -> None:
        self.store = store
        self.settings = settings

    def candidates(
        self,
        query: str,
        query_vector: np.ndarray,
        n: int | None = None,
        dense_weight: float | None = None,
        index: Any | None = None,
    ) -> list[Candidate]:
        """Fused candidates (up to ``n`` from each retriever), best first.

        ``index``: the lexical index the caller already holds (saves a store check).
        """
        r = self.settings.retrieval
        n = n or r.candidates
        weight = r.dense_weight if dense_weight is None else dense_weight
        lexical_query = expand_query(query) if r.query_expansion else query
        index = index if index is not None else self.store.lexical()
        # every chunk row has its vector (vectors are written first), so the index size
        # bounds the hits and spares Chroma a count per query
        dense_hits = self.store.vectors.query(query_vector, min(n, index.size), known_count=index.size)
        lex_scores = index.scores(lexical_query)
        lex_hits: list[tuple[str, float]] = []
        lex_by_id: dict[str, float] = {}
        if lex_scores is not None and index.size:
            k = min(n, index.size)
            top = np.argpartition(-lex_scores, k - 1)[:k] if k < index.size else np.arange(index.size)
            lex_hits = [(index.chunk_ids[int(i)], float(lex_scores[i])) for i in top if lex_scores[i] > 0]
            position = index.positions
        dense_by_id = dict(dense_hits)
        ids = list(dict.fromkeys([cid for cid, _ in dense_hits] + [cid for cid, _ in lex_hits]))
        missing_dense = [cid for cid in ids if cid not in dense_by_id]
        if missing_dense:
            for cid, vec in self.store.vectors.get_vectors(missing_dense).items():
                dense_by_id[cid] = float(np.dot(vec, query_vector))
        if lex_scores is not None and index.size:
            for cid in ids:
                pos = position.get(cid)
                lex_by_id[cid] = float(lex_scores[pos]) if pos is not None else 0.0
        rows = self.store.docs.chunk_rows(ids)
        cands = [
            Candidate(row=rows[cid], dense=dense_by_id.get(cid, 0.0), lexical=lex_by_id.get(cid, 0.0))
            for cid in ids
            if cid in rows  # a vector without a committed row is never served
        ]
        return fuse(cands, weight)


def to_passage(c: Candidate) -> Passage:
    """A fused candidate as the contract's ``Passage``."""
    r = c.row
    return Passage(
        doc_id=r.doc_id,
        source=r.source,
        title=r.title,
        section=r.section,
        start=r.start,
        end=r.end,
        text=r.text,
        score=round(c.fused, 6),
    )
