"""Retrieval quality: recall@1 / recall@5 of BM25, dense, fused and RRF on PubMedQA and MedQuAD.

Run from the repository root::

    .venv/bin/python -m benchmarks.retrieval                  # both sets, current settings
    .venv/bin/python -m benchmarks.retrieval --tune           # + the fusion weight/candidates grid
    .venv/bin/python -m benchmarks.retrieval --sweep-chunking # chunk size x overlap on MedQuAD

Sets: (a) PubMedQA dev, 500 questions over all 1,000 abstracts (``text`` only),
a hit is a passage of the gold abstract; (b) MedQuAD, a seeded sample of QA pairs
(default 2,000, seed 0), each answer one document, each question a query; a hit
is a passage of any sampled answer whose question has the same normalised text.
Stores are built with the real ingest pipeline under ``benchmarks/out/`` and
reused by later runs.

Per question, the real retrieval path (``HybridSearcher.candidates``, as
``Engine.search`` calls it) runs with a pool of 100 candidates per retriever,
once with query expansion off and once on; every candidate carries both scores.
Each row is then a ranking of those same candidates: BM25 alone, dense alone,
RRF (k=60) for reference, and the production fusion (``qa_service.fusion.fuse``
over the union of each retriever's top ``retrieval.candidates``, rebuilt from
the pool, i.e. exactly the set ``HybridSearcher`` hands it; a check re-runs the
real call with that ``n`` for the first 25 questions and counts identical top 5s:
Chroma's HNSW search is approximate, so rank 5 occasionally differs). A third
mode, "expansion x0.3", re-scores the candidates with the expansion terms'
BM25 added at weight 0.3 instead of 1 (a proposal, not what retrieval.py does).

Each set is split in two seeded halves, A and B: the fusion constants in
``qa_service/fusion.py`` were chosen on A; B shows whether they carry over.
``--tune`` prints the weight x candidates grid for both halves of both sets.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a file: make the repository importable, not this folder
    _here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    sys.path.insert(0, str(_here.parent))

from benchmarks._common import (
    DEFAULT_DATA,
    Dataset,
    cached_engine,
    doc_keys,
    load_model,
    medquad,
    note,
    print_table,
    pubmedqa,
    require_data,
    setup_entry_point,
)

RRF_K = 60
KS = (1, 5)


# ----------------------------------------------------------------------------- collection

OFF, ON = "expansion off", "expansion on"
# Proposed (not yet in qa_service/retrieval.py): expansion terms scored apart and added at this weight.
EXPANSION_TERM_WEIGHT = 0.3
WEIGHTED = f"expansion x{EXPANSION_TERM_WEIGHT:g}"


@dataclass
class Pool:
    """Every candidate real retrieval calls returned for a question, with both scores."""

    gold: frozenset[str]
    keys: list[str]  # data-set document key per candidate
    dense: np.ndarray
    lexical: np.ndarray
    cands: list[Any]  # qa_service.retrieval.Candidate objects (for the real ``fuse``)
    half: int  # 0 = A (tuning half), 1 = B


def split_halves(n: int, seed: int = 0) -> np.ndarray:
    """Half index (0/1) per question, seeded."""
    order = np.random.default_rng(seed).permutation(n)
    half = np.zeros(n, dtype=int)
    half[order[n // 2 :]] = 1
    return half


def _pool(cands: list[Any], keys: dict[str, str], gold: frozenset[str], half: int) -> Pool:
    return Pool(
        gold=gold,
        keys=[keys.get(c.row.doc_id, "") for c in cands],
        dense=np.array([c.dense for c in cands], dtype=np.float64),
        lexical=np.array([c.lexical for c in cands], dtype=np.float64),
        cands=cands,
        half=half,
    )


def _weighted_expansion(engine: Any, query: str, merged: dict[str, Any], weight: float) -> list[Any]:
    """Candidates of both calls re-scored: BM25(query) + weight x BM25(expansion terms only)."""
    from qa_service.retrieval import Candidate, expand_query

    index = engine.store.lexical()
    position = {cid: i for i, cid in enumerate(index.chunk_ids)}
    extra = expand_query(query)[len(query) :].strip()
    base = index.scores(query)
    more = index.scores(extra) if extra else None
    out = []
    for cid, c in merged.items():
        pos = position.get(cid)
        lex = 0.0
        if pos is not None:
            lex = (float(base[pos]) if base is not None else 0.0) + weight * (
                float(more[pos]) if more is not None else 0.0
            )
        out.append(Candidate(row=c.row, dense=c.dense, lexical=lex))
    return out


def collect(
    engine: Any, dataset: Dataset, vectors: np.ndarray, pool: int, modes: Sequence[str]
) -> dict[str, list[Pool]]:
    """``HybridSearcher.candidates`` per question (the production code path), expansion off and on."""
    from qa_service.retrieval import HybridSearcher

    s = engine.settings
    searchers = {
        exp: HybridSearcher(
            engine.store,
            s.model_copy(update={"retrieval": s.retrieval.model_copy(update={"query_expansion": exp})}),
        )
        for exp in (False, True)
    }
    keys = doc_keys(engine, dataset)
    half = split_halves(len(dataset.questions))
    out: dict[str, list[Pool]] = {m: [] for m in modes}
    for q, vec, h in zip(dataset.questions, vectors, half, strict=True):
        got: dict[str, list[Any]] = {}
        for mode, exp in ((OFF, False), (ON, True)):
            if mode in modes or WEIGHTED in modes:
                got[mode] = searchers[exp].candidates(q.text, vec, pool)
        if WEIGHTED in modes:
            merged = {c.row.chunk_id: c for c in got[OFF] + got[ON]}
            got[WEIGHTED] = _weighted_expansion(engine, q.text, merged, EXPANSION_TERM_WEIGHT)
        for m in modes:
            out[m].append(_pool(got[m], keys, q.gold, int(h)))
    return out


def collect_set(
    dataset: Dataset, embedder: Any, overrides: dict[str, Any], pool: int, modes: Sequence[str], rebuild: bool
) -> tuple[dict[str, list[Pool]], dict[str, Any]]:
    """Build or reuse the store, embed the questions, collect candidate pools per mode.

    Also checks the simulation: for the first questions, the real ``candidates`` call
    with the configured ``n`` must give the same top 5 as the pool-based ranking.
    """
    engine = cached_engine(dataset, overrides, embedder, rebuild)
    try:
        started = time.perf_counter()
        vectors = embedder.encode([q.text for q in dataset.questions])
        embed_s = time.perf_counter() - started
        started = time.perf_counter()
        pools = collect(engine, dataset, vectors, pool, modes)
        took = time.perf_counter() - started
        stats: dict[str, Any] = {
            **engine.store.stats(),
            "query_embed_ms": 1000 * embed_s / len(dataset.questions),
            "collect_ms": 1000 * took / len(dataset.questions),
        }
        r = engine.settings.retrieval
        mode = ON if r.query_expansion else OFF
        if mode in pools:
            from qa_service.fusion import DEFAULT_DENSE_WEIGHT

            stats["check"] = check_simulation(
                engine, dataset, vectors, pools[mode], r.candidates, DEFAULT_DENSE_WEIGHT
            )
    finally:
        engine.close()
    return pools, stats


# ----------------------------------------------------------------------------- rankings


Ranker = Callable[[Pool, int], list[str]]  # (pool, candidates per retriever) -> document keys, best first


def subset(p: Pool, n: int) -> np.ndarray:
    """Indices of the union of the top-n dense and the top-n lexical (score > 0) candidates."""
    top_dense = np.argsort(-p.dense, kind="stable")[:n]
    lex_order = np.argsort(-p.lexical, kind="stable")[:n]
    top_lex = lex_order[p.lexical[lex_order] > 0]
    return np.unique(np.concatenate([top_dense, top_lex]))


def by_dense(p: Pool, n: int) -> list[str]:
    return [p.keys[i] for i in np.argsort(-p.dense, kind="stable")]


def by_lexical(p: Pool, n: int) -> list[str]:
    order = np.argsort(-p.lexical, kind="stable")
    return [p.keys[i] for i in order if p.lexical[i] > 0]


def rrf(p: Pool, n: int, k: int = RRF_K) -> list[str]:
    """Reciprocal-rank fusion of each retriever's own top-n list."""
    score = np.zeros(len(p.keys))
    for values in (p.dense, p.lexical):
        order = [i for i in np.argsort(-values, kind="stable") if values is p.dense or values[i] > 0][:n]
        for rank, i in enumerate(order):
            score[i] += 1.0 / (k + rank + 1)
    idx = subset(p, n)
    return [p.keys[i] for i in sorted(idx, key=lambda i: -score[i])]


def production(weight: float) -> Ranker:
    """The real ``qa_service.fusion.fuse`` on the exact candidate set HybridSearcher would hand it."""
    from qa_service.fusion import fuse

    def rank(p: Pool, n: int) -> list[str]:
        idx = subset(p, n)
        key_of = {id(p.cands[i]): p.keys[i] for i in idx}
        return [key_of[id(c)] for c in fuse([p.cands[i] for i in idx], weight)]

    return rank


def recall(pools: Sequence[Pool], ranker: Ranker, n: int, ks: Sequence[int] = KS) -> dict[int, float]:
    """Share of questions with a gold document among the top k passages, per k."""
    hits = dict.fromkeys(ks, 0)
    for p in pools:
        ranked = ranker(p, n)
        for k in ks:
            hits[k] += any(key in p.gold for key in ranked[:k])
    return {k: hits[k] / max(len(pools), 1) for k in ks}


def halves(pools: Sequence[Pool]) -> tuple[list[Pool], list[Pool]]:
    return [p for p in pools if p.half == 0], [p for p in pools if p.half == 1]


def check_simulation(
    engine: Any,
    dataset: Dataset,
    vectors: np.ndarray,
    pools: list[Pool],
    n: int,
    weight: float,
    count: int = 25,
) -> str:
    """Real ``candidates(q, vec, n)`` against the pool-based simulation:
    questions with the same top-5 documents."""
    from qa_service.retrieval import HybridSearcher

    searcher = HybridSearcher(engine.store, engine.settings)
    keys = doc_keys(engine, dataset)
    rank = production(weight)
    checked = list(zip(dataset.questions, vectors, pools, strict=True))[:count]
    same = sum(
        [keys.get(c.row.doc_id, "") for c in searcher.candidates(q.text, vec, n, dense_weight=weight)[:5]]
        == rank(p, n)[:5]
        for q, vec, p in checked
    )
    return f"{same}/{len(checked)}"


# ----------------------------------------------------------------------------- reports


HEADERS = ["set", "retriever", "R@1", "R@5", "A R@1", "A R@5", "B R@1", "B R@5"]


def row(name: str, label: str, pools: Sequence[Pool], ranker: Ranker, n: int) -> list[Any]:
    a, b = halves(pools)
    r_all, r_a, r_b = recall(pools, ranker, n), recall(a, ranker, n), recall(b, ranker, n)
    return [name, label, r_all[1], r_all[5], r_a[1], r_a[5], r_b[1], r_b[5]]


def rows_for(name: str, pools: dict[str, list[Pool]], n: int, default_mode: str) -> list[list[Any]]:
    """One table row per retriever: recall@1 / @5 on all questions and on each half."""
    from ingest.settings import RetrievalSettings
    from qa_service.fusion import DEFAULT_DENSE_WEIGHT

    w = RetrievalSettings().dense_weight
    out = [row(name, f"bm25 ({m})", pools[m], by_lexical, n) for m in pools]
    out.append(row(name, "dense", pools[default_mode], by_dense, n))
    out += [row(name, f"rrf k={RRF_K} ({m})", pools[m], rrf, n) for m in pools]
    if w != DEFAULT_DENSE_WEIGHT:
        out.append(
            row(name, f"fused w={w:g} [settings] ({default_mode})", pools[default_mode], production(w), n)
        )
    out += [
        row(name, f"fused w={DEFAULT_DENSE_WEIGHT:g} ({m})", pools[m], production(DEFAULT_DENSE_WEIGHT), n)
        for m in pools
    ]
    return out


def tune(
    sets: dict[str, dict[str, list[Pool]]], mode: str, weights: Sequence[float], ns: Sequence[int]
) -> None:
    """Grid over the production fusion's weight and candidates: recall@1/@5 per set and half."""
    rows = []
    for n in ns:
        for w in weights:
            cells: list[Any] = [f"w={w:.2f} n={n}"]
            for pools in sets.values():
                a, b = halves(pools[mode])
                ra, rb = recall(a, production(w), n), recall(b, production(w), n)
                cells += [ra[1], ra[5], rb[1], rb[5]]
            rows.append(cells)
    headers = ["setting"] + [f"{s[:8]} {h}" for s in sets for h in ("A R@1", "A R@5", "B R@1", "B R@5")]
    print_table(f"Fusion grid: qa_service.fusion.fuse, dense weight w x candidates n ({mode})", headers, rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="shared data folder (default: %(default)s)"
    )
    p.add_argument(
        "--medquad-sample", type=int, default=2000, help="MedQuAD QA pairs sampled (default: %(default)s)"
    )
    p.add_argument("--seed", type=int, default=0, help="MedQuAD sample seed (default: %(default)s)")
    p.add_argument(
        "--pool",
        type=int,
        default=100,
        help="candidates per retriever collected per question (default: %(default)s)",
    )
    p.add_argument(
        "--sets", default="pubmedqa,medquad", help="comma-separated: pubmedqa, medquad (default: %(default)s)"
    )
    p.add_argument("--tune", action="store_true", help="also print the fusion weight x candidates grid")
    p.add_argument("--sweep-chunking", action="store_true", help="chunk_size x overlap on MedQuAD instead")
    p.add_argument("--rebuild", action="store_true", help="rebuild the cached stores")
    return p.parse_args(argv)


def load_sets(args: argparse.Namespace) -> dict[str, Dataset]:
    wanted = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = set(wanted) - {"pubmedqa", "medquad"}
    if unknown:
        raise SystemExit(f"unknown set(s): {', '.join(sorted(unknown))} (use pubmedqa, medquad)")
    out: dict[str, Dataset] = {}
    if "pubmedqa" in wanted:
        out["pubmedqa"] = pubmedqa(args.data)
    if "medquad" in wanted:
        out["medquad"] = medquad(args.data, args.medquad_sample, args.seed)
    return out


def sweep_chunking(args: argparse.Namespace, embedder: Any) -> None:
    """Recall on MedQuAD per chunk_size x chunk_overlap (each setting its own cached store)."""
    from ingest.settings import Settings
    from qa_service.fusion import DEFAULT_DENSE_WEIGHT

    dataset = medquad(args.data, args.medquad_sample, args.seed)
    defaults = Settings().retrieval
    mode = ON if defaults.query_expansion else OFF
    n = defaults.candidates
    rows = []
    for size in (600, 1000, 1400):
        for overlap in (0, 150):
            note(f"chunking {size}/{overlap}")
            overrides = {"chunking": {"chunk_size": size, "chunk_overlap": overlap}}
            pools, stats = collect_set(dataset, embedder, overrides, args.pool, [mode], args.rebuild)
            p = pools[mode]
            r_l, r_d, r_f = (
                recall(p, by_lexical, n),
                recall(p, by_dense, n),
                recall(p, production(DEFAULT_DENSE_WEIGHT), n),
            )
            rows.append(
                [f"{size}/{overlap}", stats["chunks"], r_l[1], r_l[5], r_d[1], r_d[5], r_f[1], r_f[5]]
            )
    print_table(
        f"Chunking sweep on MedQuAD ({len(dataset.questions)} questions, "
        f"{len(dataset.docs)} answer documents; "
        f"fused w={DEFAULT_DENSE_WEIGHT:g}, n={n}, {mode})",
        [
            "size/overlap",
            "chunks",
            "bm25 R@1",
            "bm25 R@5",
            "dense R@1",
            "dense R@5",
            "fused R@1",
            "fused R@5",
        ],
        rows,
    )


def main(argv: list[str] | None = None) -> int:
    setup_entry_point()
    args = parse_args(argv)
    require_data(args.data, "pubmedqa/corpus.jsonl", "pubmedqa/questions_dev.jsonl", "medquad/qa.jsonl")
    from ingest.settings import Settings

    datasets = load_sets(args)
    embedder = load_model()
    if args.sweep_chunking:
        sweep_chunking(args, embedder)
        return 0
    r = Settings().retrieval
    default_mode = ON if r.query_expansion else OFF
    n = r.candidates
    sets: dict[str, dict[str, list[Pool]]] = {}
    info = []
    for name, dataset in datasets.items():
        note(f"{name}: {len(dataset.docs)} documents, {len(dataset.questions)} questions")
        sets[name], stats = collect_set(dataset, embedder, {}, args.pool, [OFF, ON, WEIGHTED], args.rebuild)
        info.append(
            [
                name,
                stats["documents"],
                stats["chunks"],
                len(dataset.questions),
                stats["query_embed_ms"],
                stats["collect_ms"],
                stats.get("check", "-"),
            ]
        )
    print_table(
        "Sets",
        [
            "set",
            "documents",
            "chunks",
            "questions",
            "embed ms/q (batched)",
            "retrieval ms/q (3 modes)",
            "simulation = real top-5",
        ],
        info,
        floatfmt=".1f",
    )
    rows = [cells for name, pools in sets.items() for cells in rows_for(name, pools, n, default_mode)]
    print_table(
        f"Recall@k (passages; candidates n={n} per retriever; halves A/B seeded, fusion tuned on A)",
        HEADERS,
        rows,
    )
    print(
        f"({WEIGHTED}: proposed, expansion terms scored apart and added at weight {EXPANSION_TERM_WEIGHT:g}; "
        "not yet what qa_service/retrieval.py does)"
    )
    if args.tune:
        weights = [0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9]
        tune(sets, default_mode, weights, sorted({10, 20, n, 50}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
