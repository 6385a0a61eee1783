"""Sentence selection as learned ranking: generic features of (question, sentence), and a small model.

Every feature holds for any corpus; none names a topic. For a candidate sentence
(a sentence of a retrieved chunk, cut whole from the document text):

- dense similarity of the question to the sentence in its context (the vector pooled
  at ingest from the chunk's token embeddings), absolute and relative to the best
  candidate; the retrieved chunk's own dense, lexical and fused scores and its rank;
- sentence-level BM25 of the question's terms (IDF from the corpus), and the
  IDF-weighted share of the question's terms the sentence mentions, alone, with its
  section headings, and for the question's specific (rare in general English) terms;
- the section heading's similarity to the question (dense and lexical);
- what the sentence carries against what the question asks: a quantity, a time, an
  enumeration; the question's grammatical type (yes/no, which wh-word);
- position in the document and section, length, a bullet line or not.

The model is a logistic regression or a gradient-boosted tree ensemble fitted by
``python -m eval.train_ranker`` on development data only, stored as one small JSON
file in the package (``qa_service/data/ranker.json``) whose hash is part of
``config_hash``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from qa_service.question import COMMON_ZIPF, QuestionAnalysis

DEFAULT_MODEL = Path(__file__).parent / "data" / "ranker.json"

_WH_WORDS = ("what", "which", "who", "when", "where", "why", "how")
_HOW_MUCH = re.compile(
    r"\bhow\s+(?:many|much|long|often|old|soon|high|low|large|big|far|quickly|frequently)\b", re.I
)

FEATURES: tuple[str, ...] = (
    "dense",
    "dense_rel",
    "chunk_dense",
    "chunk_lex",
    "chunk_fused",
    "chunk_rank_inv",
    "bm25",
    "bm25_rel",
    "cov",
    "cov_ctx",
    "cov_specific",
    "heading_cov",
    "heading_dense",
    "title_cov",
    "s_quantity",
    "s_time",
    "s_enum",
    "q_yes_no",
    "q_how_much",
    *(f"q_{w}" for w in _WH_WORDS),
    "q_terms",
    "q_missing",
    "position",
    "first_in_section",
    "log_chars",
    "bullet",
    "part_cov",
    "dense_prev",
    "dense_next",
    "cov_window",
    "cov_gain",
)


@dataclass
class SentenceFacts:
    """What a sentence carries, independent of any question (computed once per stored sentence)."""

    stems: frozenset[str]
    tf: dict[str, int]
    length: int  # content words
    has_quantity: bool
    has_number: bool
    has_time: bool
    enumeration: bool
    bullet: bool


@dataclass
class Candidate:
    """The per-candidate inputs of the features (the composer fills them in)."""

    facts: SentenceFacts
    context_stems: frozenset[str]  # section headings
    title_stems: frozenset[str]
    dense: float
    chunk_dense: float
    chunk_lex: float
    chunk_fused: float
    chunk_rank: int
    heading_dense: float
    position: float
    first_in_section: bool
    chars: int
    prev_dense: float = 0.0  # the sentences before and after it in the document
    next_dense: float = 0.0
    window_stems: frozenset[str] = frozenset()
    text: str = ""  # the sentence as shown (kept for training and analysis, not a feature itself)


def _coverage(
    q: QuestionAnalysis, words: frozenset[str] | set[str], terms: Sequence[int] | None = None
) -> float:
    idx = range(len(q.terms)) if terms is None else terms
    total = sum(q.terms[i].idf for i in idx)
    if total <= 0:
        return 1.0
    return sum(q.terms[i].idf for i in idx if q.terms[i].stems & words) / total


def _bm25(
    q: QuestionAnalysis, facts: SentenceFacts, avg_len: float, k1: float = 1.2, b: float = 0.75
) -> float:
    score = 0.0
    norm = k1 * (1 - b + b * facts.length / max(avg_len, 1e-9))
    for t in q.terms:
        tf = max((facts.tf.get(s, 0) for s in t.stems), default=0)
        if tf:
            score += t.idf * tf * (k1 + 1) / (tf + norm)
    return score


def featurize(q: QuestionAnalysis, cands: Sequence[Candidate]) -> np.ndarray:
    """The feature matrix (one row per candidate, columns as ``FEATURES``)."""
    n = len(cands)
    X = np.zeros((n, len(FEATURES)), dtype=np.float64)
    if not n:
        return X
    avg_len = sum(c.facts.length for c in cands) / n
    bm25 = np.array([_bm25(q, c.facts, avg_len) for c in cands])
    dense = np.array([c.dense for c in cands])
    lex_top = max((c.chunk_lex for c in cands), default=0.0)
    specific = [i for i, t in enumerate(q.terms) if t.specific]
    wh = q.wh or ""
    how_much = bool(_HOW_MUCH.search(q.text))
    q_missing = sum(t.idf for t in q.terms if t.df == 0) / (sum(t.idf for t in q.terms) or 1.0)
    for i, c in enumerate(cands):
        f = c.facts
        ctx = f.stems | c.context_stems
        part_cov = (
            min((_coverage(q, ctx, part) for part in q.parts), default=1.0)
            if len(q.parts) > 1
            else _coverage(q, ctx)
        )
        row = {
            "dense": c.dense,
            "dense_rel": c.dense - float(dense.max()),
            "chunk_dense": c.chunk_dense,
            "chunk_lex": c.chunk_lex / lex_top if lex_top > 0 else 0.0,
            "chunk_fused": c.chunk_fused,
            "chunk_rank_inv": 1.0 / (1 + c.chunk_rank),
            "bm25": math.log1p(bm25[i]),
            "bm25_rel": bm25[i] / bm25.max() if bm25.max() > 0 else 0.0,
            "cov": _coverage(q, f.stems),
            "cov_ctx": _coverage(q, ctx),
            "cov_specific": _coverage(q, ctx, specific) if specific else 1.0,
            "heading_cov": _coverage(q, c.context_stems) if c.context_stems else 0.0,
            "heading_dense": c.heading_dense,
            "title_cov": _coverage(q, c.title_stems) if c.title_stems else 0.0,
            "s_quantity": float(f.has_quantity),
            "s_time": float(f.has_time),
            "s_enum": float(f.enumeration),
            "q_yes_no": float(q.yes_no),
            "q_how_much": float(how_much),
            **{f"q_{w}": float(wh == w) for w in _WH_WORDS},
            "q_terms": float(len(q.terms)),
            "q_missing": q_missing,
            "position": c.position,
            "first_in_section": float(c.first_in_section),
            "log_chars": math.log(max(c.chars, 1)),
            "bullet": float(f.bullet),
            "part_cov": part_cov,
            "dense_prev": c.prev_dense,
            "dense_next": c.next_dense,
            "cov_window": _coverage(q, ctx | c.window_stems),
            "cov_gain": _coverage(q, ctx | c.window_stems) - _coverage(q, ctx),
        }
        X[i] = [row[name] for name in FEATURES]
    return X


ANSWER_FEATURES: tuple[str, ...] = (
    "best",
    "second",
    "top3_mean",
    "best_dense",
    "max_dense",
    "max_chunk_dense",
    "coverage",
    "coverage_specific",
    "missing_specific",
    "missing_any",
    "q_terms",
    "best_single_coverage",
    "uncovered_idf_max",
    "missing_rare",
    "missing_unrelated",
)


def answer_features(q: QuestionAnalysis, probs: Sequence[float], dense: Sequence[float],
                    chunk_dense: Sequence[float], stems: Sequence[frozenset[str]]) -> np.ndarray:
    """Question-level signals for abstention, from the candidates ranked best first."""
    order = np.argsort(-np.asarray(probs, dtype=np.float64)) if len(probs) else np.zeros(0, dtype=int)
    p = [float(probs[int(i)]) for i in order]
    top = [int(i) for i in order[:3]]
    words: set[str] = set().union(*(stems[i] for i in top)) if top else set()
    total = sum(t.idf for t in q.terms)
    specific = [t for t in q.terms if t.specific]
    specific_total = sum(t.idf for t in specific)
    row = {
        "best": p[0] if p else 0.0,
        "second": p[1] if len(p) > 1 else 0.0,
        "top3_mean": float(np.mean(p[:3])) if p else 0.0,
        "best_dense": float(dense[top[0]]) if top else 0.0,
        "max_dense": float(max(dense, default=0.0)),
        "max_chunk_dense": float(max(chunk_dense, default=0.0)),
        "coverage": sum(t.idf for t in q.terms if t.stems & words) / total if total else 1.0,
        "coverage_specific": (
            sum(t.idf for t in specific if t.stems & words) / specific_total if specific_total else 1.0
        ),
        "missing_specific": (
            sum(t.idf for t in specific if t.df == 0) / specific_total if specific_total else 0.0
        ),
        "missing_any": sum(t.idf for t in q.terms if t.df == 0) / total if total else 0.0,
        "q_terms": float(len(q.terms)),
        "best_single_coverage": max((_coverage(q, stems[i]) for i in top), default=0.0),
        "uncovered_idf_max": (
            max((t.idf for t in q.terms if not t.stems & words), default=0.0) / max(t.idf for t in q.terms)
            if q.terms else 0.0
        ),
        # how rare in everyday English the rarest question word is that the corpus never uses (nor any
        # spelling variant or close neighbour): "kawasaki" or "eeg" missing says more than "happens"
        "missing_rare": max((COMMON_ZIPF - t.zipf for t in q.terms if t.df == 0), default=0.0),
        # the same, for a word of no family the corpus uses either (no shared stem, prefix or suffix):
        # "dexamethasone" in a corpus on B12 rather than "centile" in one that says "percentile"
        "missing_unrelated": max(
            (COMMON_ZIPF - t.zipf for t in q.terms if t.df == 0 and not t.related), default=0.0
        ),
    }
    return np.array([row[name] for name in ANSWER_FEATURES], dtype=np.float64)


class SentenceRanker:
    """A fitted model: ``predict(X)`` gives each candidate's probability of holding the answer."""

    def __init__(self, spec: dict[str, Any], digest: str) -> None:
        self.spec = spec
        self.digest = digest
        self.features: list[str] = list(spec["features"])
        self._cols = [FEATURES.index(f) for f in self.features]
        self.kind = spec["kind"]
        if self.kind == "logreg":
            self._logreg = _LogReg(spec)
        elif self.kind == "lightgbm":
            # the optional `train` extra; typed or not, present or not, mypy need not follow it
            import lightgbm  # type: ignore[import-not-found, import-untyped, unused-ignore]

            self._booster = lightgbm.Booster(model_str=spec["model"])
        else:
            raise ValueError(f"unknown ranker kind {self.kind!r}")

        abstention = spec.get("abstention")
        self._abstention = _LogReg(abstention) if abstention else None
        self._abstention_cols = (
            [ANSWER_FEATURES.index(f) for f in abstention["features"]] if abstention else []
        )

    def answerable(self, x: np.ndarray) -> float:
        """Probability that the question is answered by the evidence (``ANSWER_FEATURES`` row)."""
        if self._abstention is None:
            return float(x[ANSWER_FEATURES.index("best")])
        return float(self._abstention.predict(x[None, self._abstention_cols])[0])

    def predict(self, X: np.ndarray) -> np.ndarray:
        if not len(X):
            return np.zeros(0)
        Z = X[:, self._cols]
        if self.kind == "logreg":
            return self._logreg.predict(Z)
        return np.asarray(self._booster.predict(Z))


class _LogReg:
    """A logistic regression stored as standardisation + coefficients (features in a fixed order)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self._mean = np.asarray(spec["mean"])
        self._scale = np.asarray(spec["scale"])
        self._coef = np.asarray(spec["coef"])
        self._intercept = float(spec["intercept"])

    def predict(self, X: np.ndarray) -> np.ndarray:
        z = ((X - self._mean) / self._scale) @ self._coef + self._intercept
        return np.asarray(1.0 / (1.0 + np.exp(-z)))


@lru_cache(maxsize=4)
def load_ranker(path: str | None = None) -> SentenceRanker | None:
    """The ranker stored at ``path`` (default: the packaged one); None when there is none yet."""
    p = Path(path) if path else DEFAULT_MODEL
    if not p.is_file():
        return None
    raw = p.read_bytes()
    return SentenceRanker(json.loads(raw), hashlib.sha256(raw).hexdigest()[:16])
