"""Ingest throughput against the raw model: is ingest more than the embedding it must do?

Run from the repository root::

    .venv/bin/python -m benchmarks.ingest            # the 1,000 PubMedQA abstracts
    .venv/bin/python -m benchmarks.ingest --limit 200 # a quick run

The abstracts (``text`` only) are written as .txt files into a temp folder and
ingested with the real pipeline into a fresh temp data dir. In the same process,
with the same loaded model, the exact chunk texts that ingest embeds are encoded
directly (``embedder.encode(texts)``, same batch size).

Fairness: the model is loaded once, before everything, and is in no timing. A
warm-up encode absorbs first-call costs. Then raw and ingest runs alternate:
raw, ingest, raw (``--rounds R``: raw, then R x (ingest, raw), each ingest into a
fresh data dir), and each ingest is compared with the mean of the raw runs just
before and after it, so neither gains from going second and slow drift (other
processes on this 2-core machine, clock changes) cancels out. CPU time (all
threads of this process) is reported next to wall time: it is far less sensitive
to other load on the machine.

Prints: throughput (docs/s, chunks/s), ratio ingest / raw encode (target <= 1.25),
peak RSS (``ru_maxrss``: torch allocations included), and where ingest's time went
(self time per stage; ``--cprofile`` adds a cProfile listing).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

if __package__ in (None, ""):  # run as a file: this file's name would shadow the ``ingest`` package
    _here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    sys.path.insert(0, str(_here.parent))

from benchmarks._common import (
    DEFAULT_DATA,
    StageTimer,
    current_rss_mb,
    load_model,
    note,
    peak_rss_mb,
    print_table,
    pubmedqa,
    require_data,
    setup_entry_point,
)

TARGET_RATIO = 1.25
WARMUP_TEXTS = 64


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="shared data folder (default: %(default)s)"
    )
    p.add_argument("--limit", type=int, default=None, help="ingest only the first N abstracts")
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="ingest runs, each between two raw encodes (default: %(default)s)",
    )
    p.add_argument("--grouped", action="store_true", help="also time raw encode in ingest's 256-chunk groups")
    p.add_argument(
        "--cprofile", action="store_true", help="run ingest under cProfile and list the top functions"
    )
    return p.parse_args(argv)


def chunk_texts(files: Path, settings: Any) -> list[list[str]]:
    """The chunk texts ingest will embed, per document, in ingest's order (same loader, same chunker)."""
    from ingest.chunking import chunk_document
    from ingest.loaders import load_document
    from ingest.pipeline import discover

    found, _ = discover([files])
    c = settings.chunking
    return [
        [ch.text for ch in chunk_document(load_document(f, s), "bench", c.chunk_size, c.chunk_overlap)]
        for f, s in found
    ]


@dataclass
class Timing:
    """Wall and CPU seconds of one run (CPU time is all threads of this process:
    less sensitive to other load)."""

    wall: float
    cpu: float


@contextmanager
def measure(out: list[Timing]) -> Iterator[None]:
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    out.append(Timing(time.perf_counter() - wall, time.process_time() - cpu))


def timed_encode(embedder: Any, texts: list[str], batch_size: int, out: list[Timing]) -> None:
    with measure(out):
        embedder.encode(texts, batch_size=batch_size)


def grouped_encode(embedder: Any, per_doc: list[list[str]], batch_size: int, out: list[Timing]) -> None:
    """Raw encode in the same whole-document groups of >= ENCODE_GROUP chunks that ingest uses."""
    from ingest.pipeline import ENCODE_GROUP

    with measure(out):
        group: list[str] = []
        for texts in per_doc:
            group.extend(texts)
            if len(group) >= ENCODE_GROUP:
                embedder.encode(group, batch_size=batch_size)
                group = []
        if group:
            embedder.encode(group, batch_size=batch_size)


def instrument(timer: StageTimer, store: Any) -> list[Any]:
    """Time ingest's stages from the outside; returns undo functions."""
    from ingest import pipeline
    from ingest.docstore import DocumentStore
    from ingest.store import Store
    from ingest.vectors import ChromaVectorIndex

    return [
        timer.wrap(store.embedder, "encode", "model encode"),
        # the pipeline's one model pass: chunk vectors plus the sentence vectors pooled from it
        timer.wrap(store.embedder, "encode_with_spans", "model encode"),
        timer.wrap(pipeline, "split_sentences", "sentence spans (for pooled sentence vectors)"),
        timer.wrap(pipeline, "load_document", "load files (loaders)"),
        timer.wrap(pipeline, "chunk_document", "chunking"),
        timer.wrap(ChromaVectorIndex, "upsert", "Chroma upsert"),
        timer.wrap(ChromaVectorIndex, "delete", "Chroma delete"),
        timer.wrap(ChromaVectorIndex, "all_ids", "Chroma list ids (garbage check)"),
        timer.wrap(DocumentStore, "replace_document", "SQLite document write"),
        timer.wrap(DocumentStore, "stored_docs", "SQLite read stored docs"),
        timer.wrap(Store, "rebuild_lexical", "BM25 rebuild + save"),
    ]


def run_ingest(
    store: Any, files: Path, timer: StageTimer, profile: bool, out: list[Timing]
) -> tuple[Any, str]:
    """One instrumented ``ingest_paths`` run; returns the report and an optional cProfile listing."""
    from ingest.pipeline import ingest_paths

    undo = instrument(timer, store)
    profiler = cProfile.Profile() if profile else None
    try:
        with measure(out):
            if profiler:
                profiler.enable()
            report = ingest_paths(store, [files])
            if profiler:
                profiler.disable()
    finally:
        for u in reversed(undo):
            u()
    listing = ""
    if profiler:
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(30)
        listing = buf.getvalue()
    return report, listing


def ratios(ingests: list[Timing], raws: list[Timing], attr: str) -> list[float]:
    """Each ingest run against the mean of the raw runs right before and after it."""
    return [
        getattr(t, attr) / ((getattr(raws[i], attr) + getattr(raws[i + 1], attr)) / 2)
        for i, t in enumerate(ingests)
    ]


def main(argv: list[str] | None = None) -> int:
    setup_entry_point()
    args = parse_args(argv)
    require_data(args.data, "pubmedqa/corpus.jsonl")
    from ingest.settings import get_settings
    from ingest.store import Store

    dataset = pubmedqa(args.data, args.limit)
    raws: list[Timing] = []
    ingests: list[Timing] = []
    grouped: list[Timing] = []
    timer = StageTimer()
    peaks: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="medcite-bench-ingest-") as tmp:
        files = dataset.write(Path(tmp) / "files")
        settings = get_settings(Path(tmp) / "data-0")
        bs = settings.embedding.batch_size
        embedder = load_model(settings)
        peaks.append(("RSS after model load (current)", current_rss_mb()))
        per_doc = chunk_texts(files, settings)
        texts = [t for doc in per_doc for t in doc]
        note(
            f"{len(per_doc)} documents, {len(texts)} chunks; warm-up, "
            f"then raw encode / ingest alternating ({args.rounds} ingest runs)"
        )

        embedder.encode(texts[:WARMUP_TEXTS], batch_size=bs)  # first-call costs (allocator, kernels) go here
        timed_encode(embedder, texts, bs, raws)
        peaks.append(("peak RSS after raw encode", peak_rss_mb()))
        listing = ""
        for r in range(args.rounds):
            store = Store(
                get_settings(Path(tmp) / f"data-{r}"), embedder=embedder, owner={"command": "benchmark"}
            )
            try:
                report, listing = run_ingest(store, files, timer, args.cprofile and r == 0, ingests)
            finally:
                store.close()
            peaks.append((f"peak RSS after ingest #{r + 1}", peak_rss_mb()))
            timed_encode(embedder, texts, bs, raws)
            note(
                f"round {r + 1}: ingest {ingests[-1].wall:.1f} s, raw {raws[-2].wall:.1f} s / "
                f"{raws[-1].wall:.1f} s"
            )
        if args.grouped:
            grouped_encode(embedder, per_doc, bs, grouped)

    if report.chunks != len(texts) or report.errors:
        print(
            f"WARNING: ingest wrote {report.chunks} chunks (expected {len(texts)}), errors: "
            f"{report.errors[:3]}"
        )
    n_docs = report.added + report.updated
    raw_wall = median(t.wall for t in raws)
    rows: list[list[Any]] = []
    for i, t in enumerate(raws):
        rows.append([f"raw encode #{i + 1}", t.wall, t.cpu, len(per_doc) / t.wall, len(texts) / t.wall])
        if i < len(ingests):
            g = ingests[i]
            rows.append([f"ingest_paths #{i + 1}", g.wall, g.cpu, n_docs / g.wall, report.chunks / g.wall])
    rows.extend(
        ["raw encode in ingest's groups", t.wall, t.cpu, len(per_doc) / t.wall, len(texts) / t.wall]
        for t in grouped
    )
    print_table(
        f"Ingest throughput: {n_docs} PubMedQA abstracts, {report.chunks} chunks, batch size {bs}, "
        f"{os.cpu_count()} cores",
        ["run", "wall s", "CPU s", "docs/s", "chunks/s"],
        rows,
        floatfmt=".2f",
    )
    wall_r, cpu_r = ratios(ingests, raws, "wall"), ratios(ingests, raws, "cpu")
    print_table(
        "Ratio ingest / raw encode (each ingest vs the mean of the raw runs around it)",
        ["measure", "median", "min", "max", "target", "verdict"],
        [
            [
                "wall time",
                median(wall_r),
                min(wall_r),
                max(wall_r),
                TARGET_RATIO,
                "OK" if median(wall_r) <= TARGET_RATIO else "ABOVE",
            ],
            [
                "CPU time (all threads)",
                median(cpu_r),
                min(cpu_r),
                max(cpu_r),
                TARGET_RATIO,
                "OK" if median(cpu_r) <= TARGET_RATIO else "ABOVE",
            ],
        ],
    )
    peaks.append(("peak RSS at end (ru_maxrss)", peak_rss_mb()))
    print_table(
        "Memory (MiB; ru_maxrss, torch allocations included)", ["point", "MiB"], peaks, floatfmt=".0f"
    )

    ingest_total = sum(t.wall for t in ingests)
    accounted = sum(timer.totals.values())
    stage_rows = sorted(timer.totals.items(), key=lambda kv: -kv[1])
    stage_rows.append(("other (hashing, discovery, Python glue)", max(ingest_total - accounted, 0.0)))
    print_table(
        f"Where ingest time goes (self time per stage, summed over {len(ingests)} run(s))",
        ["stage", "seconds", "share", "calls"],
        [[k, v, f"{100 * v / ingest_total:.1f}%", timer.calls.get(k, "")] for k, v in stage_rows],
        floatfmt=".2f",
    )
    encode_in_ingest = timer.totals.get("model encode", 0.0) / len(ingests)
    print(
        f"\nper ingest run: model encode {encode_in_ingest:.2f} s vs raw median {raw_wall:.2f} s "
        f"(ratio {encode_in_ingest / raw_wall:.3f}); everything else "
        f"{median(t.wall for t in ingests) - encode_in_ingest:.2f} s"
    )
    if listing:
        print("\ncProfile of the first ingest_paths run (cumulative):\n" + listing)
    return 0


if __name__ == "__main__":
    sys.exit(main())
