"""Lexical search for many processes: PostgreSQL full-text ranking vs bm25s rebuilt per worker from the rows.

Run from the repository root (PostgreSQL must be installed, or pass ``--database-url``)::

    nice -n 10 .venv/bin/python -m benchmarks.lexical                  # 20,000 and 200,000 chunks
    .venv/bin/python -m benchmarks.lexical --sizes 20000 --queries 100

Chunks: the real chunks of the PubMedQA abstracts and MedQuAD answers (about 28k),
then, past that, chunks of about 1,000 characters made of sentences drawn (seeded)
from the same texts, so the vocabulary and term frequencies stay those of the corpus.
They are written as document and chunk rows of a real medcite store in a fresh
PostgreSQL database (``DocumentStore`` with its migrations).

Queries: PubMedQA dev and MedQuAD questions, expanded as production expands them
(``qa_service.retrieval.expand_query``).

For each size:

* **bm25s, rebuilt per worker** (what ``Store.lexical`` does on services when the
  generation moves): read every chunk row from PostgreSQL (``chunks_snapshot``),
  tokenize and index (``BM25Index.build``); query = ``scores`` + top 10, as
  ``HybridSearcher`` does. Memory: the process's RSS growth while building and
  holding the index. This is today's bm25s, so it is the reference of recall.
* **PostgreSQL full text**: a stored generated ``tsvector`` column
  (``to_tsvector('english', text)``) and a GIN index on it (build time = adding
  both); query = every query word OR-ed (``to_tsquery``), ranked by
  ``ts_rank_cd`` (and ``ts_rank``), top 10. Memory: the table's and index's size
  on the server (held once, shared by all workers; the server caches what fits).
* recall@10 against today's bm25s: the share of bm25s's top 10 that the other
  method also ranks in its top 10.

Prints one table; the decision and its numbers are in ``docs/services.md``.
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository importable, not this folder
    _here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    sys.path.insert(0, str(_here.parent))

import numpy as np  # noqa: E402

from benchmarks._common import (  # noqa: E402
    DEFAULT_DATA,
    current_rss_mb,
    note,
    percentile,
    print_table,
    read_jsonl,
    require_data,
    setup_entry_point,
)
from benchmarks._services import create_database, postgres_cluster  # noqa: E402

TOP = 10
_WORD = re.compile(r"(?u)\b\w\w+\b")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


def source_texts(data: Path) -> list[str]:
    texts = [r["text"] for r in read_jsonl(data / "pubmedqa" / "corpus.jsonl")]
    texts += [r["answer"] for r in read_jsonl(data / "medquad" / "qa.jsonl")]
    return texts


def make_chunks(texts: list[str], n: int, seed: int = 0) -> list[str]:
    """The corpus's real chunks, then chunks of sentences drawn from it, up to ``n``."""
    from ingest.chunking import chunk_document
    from ingest.models import SourceDocument
    from ingest.settings import Settings

    c = Settings().chunking
    real: list[str] = []
    for i, text in enumerate(texts):
        doc = SourceDocument(source=f"{i}.txt", path=f"/{i}.txt", format="txt", text=text, content_hash="0" * 64)
        real.extend(ch.text for ch in chunk_document(doc, str(i), c.chunk_size, c.chunk_overlap))
        if len(real) >= n:
            return real[:n]
    rng = random.Random(seed)
    sentences = [s.strip() for t in texts for s in _SENTENCE.split(t) if len(s.strip()) > 20]
    out = list(real)
    while len(out) < n:
        parts: list[str] = []
        size = 0
        while size < 900:
            s = sentences[rng.randrange(len(sentences))]
            parts.append(s)
            size += len(s) + 1
        out.append(" ".join(parts)[: c.chunk_size])
    return out


def queries(data: Path, n: int, seed: int = 1) -> list[str]:
    from qa_service.retrieval import expand_query

    qs = [r["question"] for r in read_jsonl(data / "pubmedqa" / "questions_dev.jsonl")]
    qs += [r["question"] for r in read_jsonl(data / "medquad" / "qa.jsonl")]
    rng = random.Random(seed)
    rng.shuffle(qs)
    return [expand_query(q) for q in dict.fromkeys(qs)][:n]


def load_rows(url: str, chunks: list[str]) -> Any:
    """Document and chunk rows of a real store (10 chunks per document), by COPY."""
    import psycopg

    from ingest.docstore import DocumentStore

    store = DocumentStore(Path("/nonexistent"), url)
    raw = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(raw) as conn, conn.cursor() as cur:
        n_docs = (len(chunks) + 9) // 10
        with cur.copy(
            "COPY documents (doc_id, source, path, title, format, chars, n_chunks, content_hash, fingerprint, "
            "text, sections, ingested_at) FROM STDIN"
        ) as copy:
            for d in range(n_docs):
                copy.write_row((f"d{d}", f"d{d}.txt", f"/d{d}.txt", None, "txt", 0, 10, "0", "fp", "", "[]", "x"))
        with cur.copy('COPY chunks (chunk_id, doc_id, idx, start, "end", section, text) FROM STDIN') as copy:
            for i, text in enumerate(chunks):
                copy.write_row((f"d{i // 10}:{i % 10}", f"d{i // 10}", i % 10, 0, len(text), None, text))
        cur.execute("UPDATE store_state SET value = value + 1 WHERE name = 'generation'")
        conn.commit()
        cur.execute("ANALYZE")
    return store


def bm25s_rows(store: Any, qs: list[str]) -> dict[str, Any]:
    from ingest.lexical import BM25Index

    gc.collect()
    rss0 = current_rss_mb()
    started = time.perf_counter()
    generation, ids, texts = store.chunks_snapshot()
    read_s = time.perf_counter() - started
    index = BM25Index.build(ids, texts, generation)
    build_s = time.perf_counter() - started
    del texts
    gc.collect()
    rss = current_rss_mb() - rss0
    arrays = sum(a.nbytes for a in index._retriever.scores.values() if isinstance(a, np.ndarray)) / 2**20
    top: list[list[str]] = []
    lat: list[float] = []
    for q in qs:
        t = time.perf_counter()
        scores = index.scores(q)
        if scores is None:
            hits: list[str] = []
        else:
            k = min(TOP, len(scores))
            best = np.argpartition(-scores, k - 1)[:k]
            best = best[np.argsort(-scores[best], kind="stable")]
            hits = [index.chunk_ids[int(i)] for i in best if scores[i] > 0]
        lat.append(1000 * (time.perf_counter() - t))
        top.append(hits)
    return {"read_s": read_s, "build_s": build_s, "rss_mb": rss, "arrays_mb": arrays, "lat": lat, "top": top}


def postgres_fts(url: str, qs: list[str], rank: str) -> dict[str, Any]:
    import psycopg

    raw = url.replace("postgresql+psycopg://", "postgresql://", 1)
    out: dict[str, Any] = {}
    with psycopg.connect(raw, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_name = 'chunks' AND column_name = 'tsv'"
        ).fetchone()
        if not exists:
            started = time.perf_counter()
            conn.execute(
                "ALTER TABLE chunks ADD COLUMN tsv tsvector "
                "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED"
            )
            conn.execute("CREATE INDEX chunks_tsv ON chunks USING gin (tsv)")
            conn.execute("ANALYZE chunks")
            out["build_s"] = time.perf_counter() - started
        out["size_mb"] = (
            conn.execute("SELECT pg_total_relation_size('chunks')").fetchone()[0] / 2**20  # type: ignore[index]
        )
        out["index_mb"] = conn.execute("SELECT pg_relation_size('chunks_tsv')").fetchone()[0] / 2**20  # type: ignore[index]
        conn.execute("SET client_min_messages = warning")  # stop words in to_tsquery raise NOTICEs
        lat: list[float] = []
        top: list[list[str]] = []
        sql = (
            f"SELECT chunk_id FROM chunks, to_tsquery('english', %s) q WHERE tsv @@ q "
            f"ORDER BY {rank}(tsv, q) DESC LIMIT {TOP}"
        )
        for q in qs:
            words = list(dict.fromkeys(w for w in _WORD.findall(q.lower())))
            t = time.perf_counter()
            rows = conn.execute(sql, (" | ".join(words),)).fetchall() if words else []
            lat.append(1000 * (time.perf_counter() - t))
            top.append([r[0] for r in rows])
    out["lat"], out["top"] = lat, top
    return out


def recall(reference: list[list[str]], other: list[list[str]]) -> float:
    got = [len(set(r) & set(o)) / len(r) for r, o in zip(reference, other) if r]
    return float(np.mean(got)) if got else float("nan")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder (default: %(default)s)")
    p.add_argument("--sizes", default="20000,200000", help="chunk counts, comma-separated (default: %(default)s)")
    p.add_argument("--queries", type=int, default=200, help="queries per size (default: %(default)s)")
    p.add_argument("--database-url", default=None, help="admin URL of a PostgreSQL server (default: a throwaway cluster)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    setup_entry_point()
    args = parse_args(argv)
    require_data(args.data, "pubmedqa/corpus.jsonl", "pubmedqa/questions_dev.jsonl", "medquad/qa.jsonl")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    texts = source_texts(args.data)
    qs = queries(args.data, args.queries)
    rows = []
    with postgres_cluster(args.database_url) as admin:
        for size in sizes:
            note(f"{size} chunks: making texts and loading rows")
            chunks = make_chunks(texts, size)
            url = create_database(admin, f"medcite_bench_lexical_{size}")
            store = load_rows(url, chunks)
            del chunks
            note(f"{size} chunks: bm25s rebuilt from the rows")
            bm = bm25s_rows(store, qs)
            store.close()
            note(f"{size} chunks: PostgreSQL full text")
            cd = postgres_fts(url, qs, "ts_rank_cd")
            plain = postgres_fts(url, qs, "ts_rank")
            rows.append(
                [size, "bm25s rebuilt per worker", f"{bm['read_s']:.1f} + {bm['build_s'] - bm['read_s']:.1f}",
                 percentile(bm["lat"], 50), percentile(bm["lat"], 95),
                 f"{bm['rss_mb']:.0f} per worker (arrays {bm['arrays_mb']:.0f})", 1.0]
            )
            for label, r in (("PostgreSQL ts_rank_cd", cd), ("PostgreSQL ts_rank", plain)):
                rows.append(
                    [size, label, f"{cd['build_s']:.1f}" if label.endswith("cd") else "(same)",
                     percentile(r["lat"], 50), percentile(r["lat"], 95),
                     f"{r['size_mb']:.0f} on the server (GIN {r['index_mb']:.0f})", recall(bm["top"], r["top"])]
                )
    print_table(
        f"Lexical search, {len(qs)} queries per size (build s: read rows + index for bm25s; "
        f"memory MiB; recall@{TOP} against today's bm25s)",
        ["chunks", "method", "build s", "query p50 ms", "query p95 ms", "memory MiB", f"recall@{TOP}"],
        rows,
        floatfmt=".2f",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
