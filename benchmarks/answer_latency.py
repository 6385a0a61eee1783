"""Answer latency: p50/p95 of ``Engine.ask`` at about 2k and 20k chunks, next to the raw query embedding.

Run from the repository root::

    .venv/bin/python -m benchmarks.answer_latency                       # 2,000 and 20,000 chunks
    .venv/bin/python -m benchmarks.answer_latency --sizes 2000 --questions 40
    .venv/bin/python -m benchmarks.answer_latency --sizes '' --concurrency 8   # only the concurrency check

Stores are built from a seeded shuffle of PubMedQA abstracts and MedQuAD answers
(one document each) until the chunk target is reached, with the real ingest
pipeline, and cached under ``benchmarks/out/`` keyed by size (the first 20k build
embeds for about 12 minutes; later runs reuse it). Questions are PubMedQA dev
questions and MedQuAD questions whose documents are in the store, each asked
once (the answer composer caches sentence vectors, so repeats would flatter it),
after a few warm-up questions that are not measured.

For every question, in the same run: ``embedder.encode([q])`` (the raw model cost
of one query) and ``engine.ask(q)``. Prints p50/p95 of both, the ratio
p50(ask) / p50(embed) (target <= 4, issue 10), and where ask time goes: self time per stage,
measured by timing engine internals from the outside (``--cprofile`` adds a
cProfile listing).

Concurrency (``--concurrency N``, default 8; 0 skips it): on the 1,000 PubMedQA
abstracts, the same questions are answered by one client asking in turn, then by
N client threads at once, with the query embeddings micro-batched (as served),
then by N clients with every ask running the model on its own query (the
behaviour before batching), the composer's caches cleared before each run.
Prints questions/s, the ratio to the sequential rate (target >= 1.2), latency
p50/p95 (target p95 <= 3x p50), errors (target 0) and the batches formed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository importable, not this folder
    _here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    sys.path.insert(0, str(_here.parent))

from benchmarks._common import (
    DEFAULT_DATA,
    Dataset,
    Question,
    StageTimer,
    cached_engine,
    load_model,
    note,
    peak_rss_mb,
    percentile,
    print_table,
    pubmedqa,
    read_jsonl,
    require_data,
    setup_entry_point,
)

TARGET_RATIO = 4.0  # issue 10: the learned composer may spend up to 4x the query embedding
TARGET_CONCURRENT_SPEEDUP = 1.2
TARGET_TAIL = 3.0  # p95 <= 3 x p50 under concurrency
WARMUP = 5
RAW_EMBED = "raw reference embed"


def estimate_chunks(text: str, chunk_size: int, overlap: int) -> int:
    """Chunks the chunker makes of ``text`` (headings ignored: close enough to pick a corpus size)."""
    from ingest.chunking import chunk_document
    from ingest.models import SourceDocument

    doc = SourceDocument(source="x.txt", path="/x.txt", format="txt", text=text, content_hash="0" * 64)
    return len(chunk_document(doc, "x", chunk_size, overlap))


def build_dataset(data: Path, target_chunks: int, seed: int = 0) -> Dataset:
    """PubMedQA abstracts + MedQuAD answers, shuffled (seeded), taken until about ``target_chunks``."""
    from ingest.settings import Settings

    c = Settings().chunking
    docs: list[tuple[str, str]] = [
        (f"pubmed-{r['doc_id']}", r["text"]) for r in read_jsonl(data / "pubmedqa" / "corpus.jsonl")
    ]
    docs += [(f"medquad-{r['id']}", r["answer"]) for r in read_jsonl(data / "medquad" / "qa.jsonl")]
    random.Random(seed).shuffle(docs)
    chosen: dict[str, str] = {}
    total = 0
    for key, text in docs:
        if total >= target_chunks:
            break
        chosen[key] = text
        total += estimate_chunks(text, c.chunk_size, c.chunk_overlap)
    questions = [
        Question(r["id"], r["question"], frozenset([f"pubmed-{r['gold_doc_id']}"]))
        for r in read_jsonl(data / "pubmedqa" / "questions_dev.jsonl")
        if f"pubmed-{r['gold_doc_id']}" in chosen
    ]
    seen: set[str] = set()
    for r in read_jsonl(data / "medquad" / "qa.jsonl"):
        if f"medquad-{r['id']}" in chosen and r["question"] not in seen:
            seen.add(r["question"])
            questions.append(Question(r["id"], r["question"], frozenset([f"medquad-{r['id']}"])))
    return Dataset(f"latency{target_chunks}", chosen, questions)


def pick_questions(dataset: Dataset, n: int, seed: int = 1) -> list[str]:
    """Half PubMedQA, half MedQuAD (as far as the store has them), seeded."""
    rng = random.Random(seed)
    pub = [q.text for q in dataset.questions if q.qid.startswith("pubmedqa-")]
    med = [q.text for q in dataset.questions if not q.qid.startswith("pubmedqa-")]
    rng.shuffle(pub)
    rng.shuffle(med)
    half = min(len(pub), n // 2)
    return pub[:half] + med[: n - half]


def instrument(timer: StageTimer) -> list[Any]:
    """Time ask's stages from the outside (class-level wrappers); returns undo functions."""
    import qa_service.engine as engine_mod
    import qa_service.retrieval as retrieval_mod
    from ingest.docstore import DocumentStore
    from ingest.embeddings import SentenceTransformerEmbeddings
    from ingest.lexical import BM25Index
    from ingest.vectors import ChromaVectorIndex
    from qa_service.answering import ExtractiveComposer
    from qa_service.engine import Engine
    from qa_service.retrieval import HybridSearcher

    def encode_label(t: StageTimer) -> str:
        # the same model call: the query (from ask), sentences (from scoring), or the raw reference
        if t.parent is None:
            return RAW_EMBED
        return "embed sentences (model)" if t.parent.startswith("compose") else "embed query (model)"

    return [
        timer.wrap(Engine, "ask", "ask: other (validation, glue)"),
        timer.wrap(SentenceTransformerEmbeddings, "encode", encode_label),
        timer.wrap(HybridSearcher, "candidates", "retrieval: other (top-n, glue)"),
        timer.wrap(retrieval_mod, "expand_query", "query expansion"),
        timer.wrap(ChromaVectorIndex, "query", "Chroma query"),
        timer.wrap(ChromaVectorIndex, "count", "Chroma count"),
        timer.wrap(ChromaVectorIndex, "get_vectors", "Chroma get vectors (lexical-only hits)"),
        timer.wrap(BM25Index, "scores", "BM25 scores"),
        timer.wrap(BM25Index, "term_stats", "BM25 term stats"),
        timer.wrap(retrieval_mod, "fuse", "fusion"),
        timer.wrap(DocumentStore, "chunk_rows", "SQLite chunk rows"),
        timer.wrap(DocumentStore, "evidence", "SQLite document text, sections, sentence vectors"),
        timer.wrap(DocumentStore, "generation", "SQLite generation check"),
        timer.wrap(DocumentStore, "counts", "SQLite counts"),
        timer.wrap(ExtractiveComposer, "compose", "compose: choose/merge/group"),
        timer.wrap(ExtractiveComposer, "sentences", "compose: sentence split/select"),
        timer.wrap(ExtractiveComposer, "score", "compose: sentence scoring"),
        timer.wrap(Engine, "_build_answer", "answer: build/render"),
        timer.wrap(engine_mod, "check_support", "answer: support check"),
        timer.wrap(engine_mod, "find_conflicts", "answer: conflict check"),
    ]


def measure_size(size: int, args: argparse.Namespace, embedder: Any) -> dict[str, Any]:
    dataset = build_dataset(args.data, size)
    note(f"size {size}: {len(dataset.docs)} documents (building the store if not cached)")
    engine = cached_engine(dataset, {}, embedder, args.rebuild)
    try:
        stats = engine.store.stats()
        questions = pick_questions(dataset, args.questions + WARMUP)
        warm, measured = questions[:WARMUP], questions[WARMUP:]
        for q in warm:
            engine.ask(q)
        embed_ms: list[float] = []
        ask_ms: list[float] = []
        abstained = 0
        timer = StageTimer()
        undo = instrument(timer)
        profiler = cProfile.Profile() if args.cprofile else None
        try:
            for q in measured:
                started = time.perf_counter()
                embedder.encode([q])
                embed_ms.append(1000 * (time.perf_counter() - started))
                if profiler:
                    profiler.enable()
                started = time.perf_counter()
                answer = engine.ask(q)
                ask_ms.append(1000 * (time.perf_counter() - started))
                if profiler:
                    profiler.disable()
                abstained += answer.abstained
        finally:
            for u in reversed(undo):
                u()
        timer.totals.pop(RAW_EMBED, None)  # the reference embeds are not part of ask
        timer.calls.pop(RAW_EMBED, None)
        listing = ""
        if profiler:
            buf = io.StringIO()
            pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(35)
            listing = buf.getvalue()
    finally:
        engine.close()
    return {
        "size": size,
        "docs": stats["documents"],
        "chunks": stats["chunks"],
        "n": len(measured),
        "embed": embed_ms,
        "ask": ask_ms,
        "abstained": abstained,
        "timer": timer,
        "listing": listing,
    }


def _clear_composer_caches(engine: Any) -> None:
    """Forget the documents and sentence vectors the composer cached (as a store change would)."""
    composer = engine.composer
    for name in ("_docs", "_vector_cache"):
        if isinstance(getattr(composer, name, None), dict):
            setattr(composer, name, {})


def _cpu_of(pid: int | None) -> float:
    """CPU seconds (user + system) a live process used so far; 0 without one."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _run_clients(engine: Any, questions: list[str], clients: int) -> dict[str, Any]:
    """Answer every question once with ``clients`` threads taking questions from one queue."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    queue = iter(list(questions))

    def client() -> None:
        while True:
            with lock:
                q = next(queue, None)
            if q is None:
                return
            started = time.perf_counter()
            try:
                engine.ask(q)
            except Exception as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            took = 1000 * (time.perf_counter() - started)
            with lock:
                latencies.append(took)

    _clear_composer_caches(engine)
    batches0, encoded0 = engine.query_encoder.batches, engine.query_encoder.encoded
    child = engine.query_encoder.process_pid
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    child0 = _cpu_of(child)
    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime - usage0.ru_utime + usage.ru_stime - usage0.ru_stime + _cpu_of(child) - child0
    batches = engine.query_encoder.batches - batches0
    return {
        "rate": len(latencies) / wall,
        "lat": latencies,
        "errors": errors,
        "mean_batch": (engine.query_encoder.encoded - encoded0) / batches if batches else 0.0,
        "cpu_ms": 1000 * cpu / max(len(latencies), 1),
    }


def measure_concurrency(args: argparse.Namespace, embedder: Any) -> None:
    """Sequential vs N concurrent clients on the 1,000 PubMedQA abstracts (same questions, same run)."""
    dataset = pubmedqa(args.data)
    note(f"concurrency: {len(dataset.docs)} abstracts (building the store if not cached)")
    engine = cached_engine(dataset, {}, embedder, args.rebuild)
    try:
        qs = [q.text for q in dataset.questions]
        random.Random(2).shuffle(qs)
        qs = qs[: args.concurrency_questions]
        for q in qs[:WARMUP]:
            engine.ask(q)
        # as `medcite serve` does at start-up: the encoder process serves the batches (qa_service.batching)
        engine.query_encoder.start_process()
        deadline = time.monotonic() + 600
        while not engine.query_encoder.in_process and time.monotonic() < deadline:
            time.sleep(0.5)
        note(f"encoder process ready: {engine.query_encoder.in_process}")
        direct = engine._embed_query

        def unbatched(text: str) -> Any:  # before batching: every ask runs the model itself
            return engine.store.embedder.encode([text])[0]

        runs: list[tuple[str, dict[str, Any]]] = []
        for round_ in (1, 2):  # interleaved, so that drifting machine load hits every kind alike
            runs.append((f"1 client (sequential), round {round_}", _run_clients(engine, qs, 1)))
            runs.append(
                (
                    f"{args.concurrency} clients, batched, round {round_}",
                    _run_clients(engine, qs, args.concurrency),
                )
            )
            engine._embed_query = unbatched
            try:
                runs.append(
                    (f"{args.concurrency} clients, one model call per ask, round {round_}",
                     _run_clients(engine, qs, args.concurrency))
                )
            finally:
                engine._embed_query = direct
    finally:
        engine.close()
    sequential = [r for label, r in runs if label.startswith("1 client")]
    base = sum(r["rate"] for r in sequential) / len(sequential)
    rows = []
    for label, r in runs:
        p50, p95 = percentile(r["lat"], 50), percentile(r["lat"], 95)
        rows.append(
            [label, len(r["lat"]), r["rate"], r["rate"] / base, p50, p95, p95 / p50, len(r["errors"]),
             r["mean_batch"], r["cpu_ms"]]
        )
    print_table(
        f"Concurrency on {len(dataset.docs)} abstracts, {len(qs)} questions each run "
        "(ratio vs the mean of the "
        "sequential runs; CPU includes the encoder process; targets: "
        f"{args.concurrency} clients >= {TARGET_CONCURRENT_SPEEDUP}x, "
        f"p95 <= {TARGET_TAIL:g}x p50, 0 errors)",
        [
            "run",
            "answers",
            "questions/s",
            "x sequential",
            "p50 ms",
            "p95 ms",
            "p95/p50",
            "errors",
            "queries/batch",
            "CPU ms/answer",
        ],
        rows,
        floatfmt=".2f",
    )
    batched = [r for label, r in runs if ", batched" in label]
    ok = all(
        r["rate"] / base >= TARGET_CONCURRENT_SPEEDUP
        and not r["errors"]
        and percentile(r["lat"], 95) <= TARGET_TAIL * percentile(r["lat"], 50)
        for r in batched
    )
    print(f"verdict ({args.concurrency} clients, batched): {'OK' if ok else 'BELOW TARGET'}")
    for label, r in runs:
        for err in r["errors"][:3]:
            print(f"  error in '{label}': {err}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="shared data folder (default: %(default)s)"
    )
    p.add_argument(
        "--sizes", default="2000,20000", help="target chunk counts, comma-separated (default: %(default)s)"
    )
    p.add_argument(
        "--questions", type=int, default=100, help="measured questions per size (default: %(default)s)"
    )
    p.add_argument(
        "--cprofile", action="store_true", help="also list the top functions of ask under cProfile"
    )
    p.add_argument("--rebuild", action="store_true", help="rebuild the cached stores")
    p.add_argument(
        "--concurrency", type=int, default=8, help="concurrent clients of the concurrency check (0 = skip it)"
    )
    p.add_argument(
        "--concurrency-questions",
        type=int,
        default=120,
        help="questions per concurrency run (default: %(default)s)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    setup_entry_point()
    args = parse_args(argv)
    require_data(args.data, "pubmedqa/corpus.jsonl", "pubmedqa/questions_dev.jsonl", "medquad/qa.jsonl")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    embedder = load_model()
    results = [measure_size(size, args, embedder) for size in sizes]
    if args.concurrency:
        measure_concurrency(args, embedder)

    rows = []
    for r in results:
        e50, a50 = percentile(r["embed"], 50), percentile(r["ask"], 50)
        rows.append(
            [
                r["size"],
                r["docs"],
                r["chunks"],
                r["n"],
                e50,
                percentile(r["embed"], 95),
                a50,
                percentile(r["ask"], 95),
                a50 / e50,
                "OK" if a50 / e50 <= TARGET_RATIO else "ABOVE",
                r["abstained"],
            ]
        )
    print_table(
        f"Engine.ask latency (ms) vs raw query embedding, same run (target p50 ratio <= {TARGET_RATIO:g})",
        [
            "target",
            "docs",
            "chunks",
            "questions",
            "embed p50",
            "embed p95",
            "ask p50",
            "ask p95",
            "ask/embed p50",
            "verdict",
            "abstained",
        ],
        rows,
        floatfmt=".1f",
    )
    for r in results:
        timer: StageTimer = r["timer"]
        total = sum(r["ask"]) / 1000
        stage_rows = sorted(timer.totals.items(), key=lambda kv: -kv[1])
        print_table(
            (
                f"Where ask time goes at {r['chunks']} chunks (self time; "
                f"mean ms per ask over {r['n']} questions)"
            ),
            ["stage", "ms/ask", "share", "calls/ask"],
            [
                [k, 1000 * v / r["n"], f"{100 * v / total:.1f}%", f"{timer.calls[k] / r['n']:.1f}"]
                for k, v in stage_rows
            ],
            floatfmt=".2f",
        )
        if r["listing"]:
            print(f"\ncProfile of ask at {r['chunks']} chunks (cumulative):\n{r['listing']}")
    print(f"\npeak RSS {peak_rss_mb():.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
