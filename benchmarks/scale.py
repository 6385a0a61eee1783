"""Scale: 100k and 1M chunks in embedded Chroma and in a Chroma server; search, lexical and ask latency.

Run from the repository root (the 1M case takes long and a lot of memory: run it
under ``nice``, once)::

    nice -n 10 .venv/bin/python -m benchmarks.scale                          # 100,000 and 1,000,000
    .venv/bin/python -m benchmarks.scale --sizes 100000 --modes embedded --questions 40

**Data.** The 1,000 PubMedQA abstracts are ingested once for real (the cached
store of ``benchmarks.answer_latency``'s concurrency check): their documents,
chunks, real MiniLM chunk vectors and pooled sentence vectors. A store of N chunks
is then made of copies of these documents (same text, chunks and sentence
vectors, so answers stay answers), each chunk's vector drawn around the real
vector of the chunk it copies: ``normalize(v + sigma * n)``, ``n`` Gaussian with
the covariance of the real vectors (noise along the directions the model
actually uses), sigma set so that a copy's cosine to its original is about 0.85.
Rows go into the SQLite document store, the vectors (with their metadata,
as ingest writes them) into Chroma under the store's own collection
name, and the BM25 index is built by ``Store.rebuild_lexical``; the result is a
data dir that ``Engine.open`` serves like any other.

**Measured** for each size, for embedded Chroma and for a Chroma server (``chroma
run``, started here unless ``--chroma-url`` is given):

* index build: seconds to upsert all vectors, vectors/s; memory: RSS growth of
  this process (embedded) or the server's RSS (server); BM25 build time and RSS
  growth;
* vector search p50/p95 (``vectors.query``, 30 candidates as ``ask`` asks), and
  recall@10 of Chroma's approximate (HNSW) search against exact search (brute
  force dot products over all N vectors) for the same query vectors;
* lexical search p50/p95 (BM25 ``scores`` + top 30, as ``HybridSearcher``);
* ``Engine.ask`` p50/p95 over PubMedQA dev questions (each once, after warm-up),
  with the raw query embedding measured alongside in the same loop.

Stores are kept under ``benchmarks/out/scale/`` (several GB at 1M) so that a
second run only measures; ``--rebuild`` starts over.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import time
from contextlib import nullcontext, suppress
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository importable, not this folder
    _here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    sys.path.insert(0, str(_here.parent))

import numpy as np  # noqa: E402

from benchmarks._common import (  # noqa: E402
    DEFAULT_DATA,
    OUT,
    cached_engine,
    current_rss_mb,
    load_model,
    note,
    percentile,
    print_table,
    pubmedqa,
    require_data,
    setup_entry_point,
)
from benchmarks._services import chroma_server  # noqa: E402

TARGET_COSINE = 0.85  # a copy's mean cosine to the real vector it is drawn around
CANDIDATES = 30
WARMUP = 5
ASK_TARGET_MS = 150.0  # ask p95 <= 150 ms + the query embedding


def rss_of(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ----------------------------------------------------------------------------- the base: real rows and vectors


def load_base(args: argparse.Namespace, embedder: Any) -> dict[str, Any]:
    """Documents, chunks, chunk vectors and sentence vectors of the real PubMedQA store.

    Saved under benchmarks/out/scale/ once, so that several runs (one per size, say)
    can read it at once without opening the base store (which has one owner).
    """
    import pickle

    cache = OUT / "scale" / "base.pickle"
    if cache.exists() and not args.rebuild:
        with cache.open("rb") as fh:
            base: dict[str, Any] = pickle.load(fh)
        note(f"base: {len(base['docs'])} documents, {len(base['chunks'])} chunks (cached)")
        return base
    from sqlalchemy import select

    from ingest.docstore import chunks_table, documents_table, sentence_vectors_table

    engine = cached_engine(pubmedqa(args.data), {}, embedder)
    try:
        store = engine.store
        with store.docs.engine.connect() as conn:
            docs = [dict(r._mapping) for r in conn.execute(select(documents_table))]
            chunks = [dict(r._mapping) for r in conn.execute(select(chunks_table).order_by(chunks_table.c.doc_id, chunks_table.c.idx))]
            sentences = {r.doc_id: dict(r._mapping) for r in conn.execute(select(sentence_vectors_table))}
        ids = [c["chunk_id"] for c in chunks]
        got: dict[str, np.ndarray] = {}
        for i in range(0, len(ids), 2000):
            got.update(store.vectors.get_vectors(ids[i : i + 2000]))
        vectors = np.stack([got[cid] for cid in ids]).astype(np.float32)
    finally:
        engine.close()
    by_doc: dict[str, list[int]] = {}
    for i, c in enumerate(chunks):
        by_doc.setdefault(c["doc_id"], []).append(i)
    note(f"base: {len(docs)} documents, {len(chunks)} chunks with real vectors")
    base = {"docs": docs, "chunks": chunks, "vectors": vectors, "sentences": sentences, "by_doc": by_doc}
    cache.parent.mkdir(parents=True, exist_ok=True)
    with cache.open("wb") as fh:
        pickle.dump(base, fh)
    return base


def noise_model(vectors: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """(matrix shaping Gaussian noise like the real vectors' covariance, sigma for TARGET_COSINE)."""
    centred = vectors - vectors.mean(0)
    cov = centred.T @ centred / len(vectors)
    values, basis = np.linalg.eigh(cov)
    shape = basis * np.sqrt(np.clip(values, 0, None))
    sigma = float(np.sqrt((1 / TARGET_COSINE**2 - 1) / np.trace(cov)))
    return shape.astype(np.float32), sigma


# ----------------------------------------------------------------------------- building a store of N chunks


def plan(base: dict[str, Any], n: int) -> list[tuple[str, int]]:
    """(base doc id, copy number) in order until the copies hold ``n`` chunks."""
    out: list[tuple[str, int]] = []
    total, copy = 0, 0
    order = list(base["by_doc"])
    while total < n:
        for doc_id in order:
            out.append((doc_id, copy))
            total += len(base["by_doc"][doc_id])
            if total >= n:
                break
        copy += 1
    return out


def build_rows(data_dir: Path, base: dict[str, Any], copies: list[tuple[str, int]]) -> tuple[Any, list[int]]:
    """Document, chunk and sentence-vector rows of every copy; returns the store and base chunk index per chunk."""
    from sqlalchemy import insert

    from ingest.docstore import DocumentStore, chunks_table, documents_table, sentence_vectors_table

    docs = DocumentStore(data_dir)
    by_id = {d["doc_id"]: d for d in base["docs"]}
    origin: list[int] = []
    step = 2000
    for i in range(0, len(copies), step):
        d_rows, c_rows, s_rows = [], [], []
        for doc_id, copy in copies[i : i + step]:
            new_id = f"{doc_id}~{copy}"
            d = by_id[doc_id]
            d_rows.append({**d, "doc_id": new_id, "source": f"copy{copy}/{d['source']}", "path": f"{d['path']}#{copy}"})
            for j in base["by_doc"][doc_id]:
                c = base["chunks"][j]
                c_rows.append({**c, "chunk_id": f"{new_id}:{c['idx']}", "doc_id": new_id})
                origin.append(j)
            if doc_id in base["sentences"]:
                s_rows.append({**base["sentences"][doc_id], "doc_id": new_id})
        with docs.engine.begin() as conn:
            conn.execute(insert(documents_table), d_rows)
            conn.execute(insert(chunks_table), c_rows)
            if s_rows:
                conn.execute(insert(sentence_vectors_table), s_rows)
            docs._bump(conn)
    return docs, origin


def draw_vectors(base: dict[str, Any], origin: list[int], seed: int = 0) -> np.ndarray:
    """One vector per chunk, drawn around the real vector of the chunk it copies."""
    rng = np.random.default_rng(seed)
    shape, sigma = noise_model(base["vectors"], rng)
    out = np.empty((len(origin), base["vectors"].shape[1]), dtype=np.float32)
    idx = np.asarray(origin)
    for i in range(0, len(idx), 50_000):
        part = idx[i : i + 50_000]
        noise = rng.standard_normal((len(part), shape.shape[1]), dtype=np.float32) @ shape.T
        v = base["vectors"][part] + sigma * noise
        out[i : i + len(part)] = v / np.linalg.norm(v, axis=1, keepdims=True)
    cos = float(np.mean(np.sum(out[: min(len(out), 20000)] * base["vectors"][idx[: min(len(out), 20000)]], 1)))
    note(f"drew {len(out)} vectors around the real ones (sigma {sigma:.3f}, mean cosine to the original {cos:.3f})")
    return out


def upsert_vectors(index: Any, chunk_rows: list[dict[str, Any]], vectors: np.ndarray) -> float:
    """Write every vector with its metadata, as ingest does (no texts); returns seconds."""
    started = time.perf_counter()
    step = 5000
    for i in range(0, len(chunk_rows), step):
        rows = chunk_rows[i : i + step]
        index.upsert(
            [r["chunk_id"] for r in rows],
            vectors[i : i + len(rows)],
            [{"doc_id": r["doc_id"], "start": r["start"], "end": r["end"], "section": r["section"]} for r in rows],
        )
        if (i // step) % 20 == 0:
            note(f"  upserted {i + len(rows)} / {len(chunk_rows)} vectors")
    return time.perf_counter() - started


def build(size: int, base: dict[str, Any], args: argparse.Namespace, servers: dict[str, Any]) -> dict[str, Any]:
    """The data dir of ``size`` chunks with its vectors in each requested Chroma (reused when complete)."""
    from sqlalchemy import select, text

    from ingest.docstore import chunks_table
    from ingest.settings import get_settings
    from ingest.store import Store
    from ingest.vectors import ChromaVectorIndex, make_chroma_client

    data_dir = OUT / "scale" / f"pubmedqa-{size}"
    done_file = data_dir / "medcite_scale_build.json"
    info: dict[str, Any] = json.loads(done_file.read_text()) if done_file.exists() and not args.rebuild else {}
    if args.measure_only:
        return partial_build(data_dir, base, info)
    if not info.get("rows"):
        shutil.rmtree(data_dir, ignore_errors=True)
        copies = plan(base, size)
        started = time.perf_counter()
        docs, origin = build_rows(data_dir, base, copies)
        info = {"rows": True, "rows_s": time.perf_counter() - started, "documents": len(copies), "chunks": len(origin)}
        docs.close()
        np.save(data_dir / "origin.npy", np.asarray(origin, dtype=np.int32))
        done_file.write_text(json.dumps(info))
        note(f"{size}: {len(copies)} documents, {len(origin)} chunk rows in {info['rows_s']:.0f} s")
    origin = np.load(data_dir / "origin.npy").tolist()
    vectors = draw_vectors(base, origin)
    settings = get_settings(data_dir)
    store = Store(settings, owner={"command": "benchmark"})
    try:
        with store.docs.engine.connect() as conn:
            # insertion order: the order of ``origin``
            chunk_rows = [dict(r._mapping) for r in conn.execute(select(chunks_table).order_by(text("rowid")))]
        for mode in args.modes:
            key = f"vectors_{mode}"
            url = servers.get(mode)
            if mode == "server":
                # a server outlives this process only when the user gave --chroma-url: rebuild otherwise
                cached = info.get(key) if args.chroma_url else None
            else:
                cached = info.get(key)
            if cached:
                continue
            client = make_chroma_client(data_dir, url)
            with suppress(Exception):  # not there yet
                client.delete_collection(store.collection_name)
            index = ChromaVectorIndex(client, store.collection_name, None, settings.embedding.model, url=url)
            gc.collect()
            rss0 = current_rss_mb()
            server_pid = servers.get(f"{mode}_pid")
            server0 = rss_of(server_pid) if server_pid else float("nan")
            seconds = upsert_vectors(index, chunk_rows, vectors)
            info[key] = {
                "s": seconds,
                "per_s": len(chunk_rows) / seconds,
                "rss_mb": (rss_of(server_pid) - server0) if server_pid else current_rss_mb() - rss0,
                "where": "server RSS growth" if server_pid else "process RSS growth",
            }
            note(f"{size} {mode}: {len(chunk_rows)} vectors in {seconds:.0f} s")
            del index, client
            done_file.write_text(json.dumps(info))
        if not info.get("bm25"):
            gc.collect()
            rss0 = current_rss_mb()
            started = time.perf_counter()
            store.rebuild_lexical()
            info["bm25"] = {"s": time.perf_counter() - started, "rss_mb": current_rss_mb() - rss0}
            store._lexical = None
            done_file.write_text(json.dumps(info))
            note(f"{size}: BM25 index in {info['bm25']['s']:.0f} s")
    finally:
        store.close()
    info["vectors"] = vectors
    info["ids"] = [r["chunk_id"] for r in chunk_rows]  # the row of each chunk in ``vectors``
    info["data_dir"] = data_dir
    return info


def partial_build(data_dir: Path, base: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """``--measure-only``: the store as it is (e.g. a vector build stopped part way), measured embedded.

    Exact search then covers the vectors the collection holds (they were written in
    row order, so they are the first ``count`` rows).
    """
    from sqlalchemy import select, text

    from ingest.docstore import chunks_table
    from ingest.settings import get_settings
    from ingest.store import Store

    if not info.get("rows"):
        raise SystemExit(f"--measure-only: no complete rows in {data_dir}; run without it first")
    vectors = draw_vectors(base, np.load(data_dir / "origin.npy").tolist())
    store = Store(get_settings(data_dir), owner={"command": "benchmark"})
    try:
        count = store.vectors.count()
        with store.docs.engine.connect() as conn:
            ids = [r[0] for r in conn.execute(select(chunks_table.c.chunk_id).order_by(text("rowid")))]
    finally:
        store.close()
    note(f"{data_dir.name}: measuring with {count} of {len(ids)} vectors in the embedded collection")
    info.setdefault("bm25", {"s": float("nan"), "rss_mb": float("nan")})
    return {**info, "vectors": vectors[:count], "ids": ids[:count], "data_dir": data_dir}


# ----------------------------------------------------------------------------- measuring


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> list[set[int]]:
    out = []
    for q in queries:
        scores = vectors @ q
        out.append(set(np.argpartition(-scores, k)[:k].tolist()))
    return out


def measure(size: int, mode: str, info: dict[str, Any], questions: list[str], embedder: Any, url: str | None) -> dict[str, Any]:
    from ingest.settings import get_settings
    from qa_service.engine import Engine

    settings = get_settings(info["data_dir"], chroma_url=url)
    engine = Engine.open(settings, owner={"command": "benchmark"}, embedder=embedder)
    try:
        store = engine.store
        started = time.perf_counter()
        index = store.lexical()
        lexical_load_s = time.perf_counter() - started
        qvecs = embedder.encode(questions)
        # vector search and its recall against exact search
        position = {cid: i for i, cid in enumerate(info["ids"])}
        exact = exact_top(info["vectors"], qvecs, 10)
        vec_ms, recalls = [], []
        for qv, truth in zip(qvecs, exact):
            t = time.perf_counter()
            hits = store.vectors.query(qv, CANDIDATES, known_count=index.size)
            vec_ms.append(1000 * (time.perf_counter() - t))
            top10 = {position[cid] for cid, _ in hits[:10] if cid in position}
            recalls.append(len(top10 & truth) / 10)
        # lexical search as HybridSearcher runs it
        from qa_service.retrieval import expand_query

        lex_ms = []
        for q in questions:
            t = time.perf_counter()
            scores = index.scores(expand_query(q))
            if scores is not None:
                np.argpartition(-scores, CANDIDATES - 1)[:CANDIDATES]
            lex_ms.append(1000 * (time.perf_counter() - t))
        # ask, with the raw query embedding alongside
        for q in questions[:WARMUP]:
            engine.ask(q)
        embed_ms, ask_ms, abstained = [], [], 0
        for q in questions[WARMUP:]:
            t = time.perf_counter()
            embedder.encode([q])
            embed_ms.append(1000 * (time.perf_counter() - t))
            t = time.perf_counter()
            answer = engine.ask(q)
            ask_ms.append(1000 * (time.perf_counter() - t))
            abstained += answer.abstained
    finally:
        engine.close()
    return {
        "size": size,
        "mode": mode,
        "vec": vec_ms,
        "recall": float(np.mean(recalls)),
        "lex": lex_ms,
        "embed": embed_ms,
        "ask": ask_ms,
        "abstained": abstained,
        "lexical_load_s": lexical_load_s,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder (default: %(default)s)")
    p.add_argument("--sizes", default="100000,1000000", help="chunk counts, comma-separated (default: %(default)s)")
    p.add_argument("--modes", default="embedded,server", help="embedded and/or server (default: %(default)s)")
    p.add_argument("--questions", type=int, default=60, help="measured questions per store (default: %(default)s)")
    p.add_argument("--chroma-url", default=None, help="a running Chroma server (default: `chroma run` on a temp dir)")
    p.add_argument("--rebuild", action="store_true", help="rebuild the stores under benchmarks/out/scale")
    p.add_argument(
        "--measure-only",
        action="store_true",
        help="measure the stores as they are (embedded; e.g. a 1M vector build stopped part way)",
    )
    p.add_argument("--threads", type=int, default=0, help="torch threads of this process (0 = torch's default)")
    args = p.parse_args(argv)
    args.modes = [m for m in args.modes.split(",") if m]
    if args.measure_only:
        args.modes = ["embedded"]
    return args


def main(argv: list[str] | None = None) -> int:
    setup_entry_point()
    args = parse_args(argv)
    require_data(args.data, "pubmedqa/corpus.jsonl", "pubmedqa/questions_dev.jsonl")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    embedder = load_model()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)  # on a busy 2-core machine, 2 threads spin at OpenMP barriers
    base = load_base(args, embedder)
    questions = [q.text for q in pubmedqa(args.data).questions][: args.questions + WARMUP]
    results: list[dict[str, Any]] = []
    builds: dict[int, dict[str, Any]] = {}
    server = chroma_server(args.chroma_url) if "server" in args.modes else nullcontext((None, None))
    with server as (server_url, server_pid):
        servers: dict[str, Any] = {"embedded": None}
        if "server" in args.modes:
            servers.update(server=server_url, server_pid=server_pid)
        for size in sizes:
            info = build(size, base, args, servers)
            builds[size] = info
            for mode in args.modes:
                note(f"{size} {mode}: measuring")
                results.append(measure(size, mode, info, questions, embedder, servers.get(mode)))
            info.pop("vectors", None)
            info.pop("ids", None)
            gc.collect()
    rows = []
    for r in results:
        b = builds[r["size"]]
        v = b.get(f"vectors_{r['mode']}", {})
        e95 = percentile(r["embed"], 95)
        a95 = percentile(r["ask"], 95)
        rows.append(
            [
                r["size"], r["mode"], v.get("s", float("nan")), v.get("per_s", float("nan")), v.get("rss_mb", float("nan")),
                b["bm25"]["s"], b["bm25"]["rss_mb"],
                percentile(r["vec"], 50), percentile(r["vec"], 95), r["recall"],
                percentile(r["lex"], 50), percentile(r["lex"], 95),
                percentile(r["embed"], 50), e95, percentile(r["ask"], 50), a95,
                a95 - e95,
            ]
        )
    print_table(
        f"Scale ({len(questions) - WARMUP} questions per store; ms unless named; build memory = RSS growth "
        f"(server: the Chroma server's); goal: ask p95 <= {ASK_TARGET_MS:g} ms + query embedding)",
        ["chunks", "chroma", "upsert s", "vectors/s", "vec MiB", "bm25 s", "bm25 MiB",
         "vec p50", "vec p95", "recall@10", "lex p50", "lex p95", "embed p50", "embed p95",
         "ask p50", "ask p95", "ask p95 - embed p95"],
        rows,
        floatfmt=".1f",
    )
    for r in results:
        print(f"{r['size']} {r['mode']}: {r['abstained']} of {len(r['ask'])} answers abstained; "
              f"lexical index loaded in {r['lexical_load_s']:.1f} s")
    print(f"peak RSS {max(current_rss_mb(), 0):.0f} MiB (this process); data under {OUT / 'scale'}; pid {os.getpid()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
