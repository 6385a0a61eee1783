"""Quiz builder benchmark: time to build 20 items on corpus/ (items/s, p50 per item).

Run: ``.venv/bin/python benchmarks/quiz.py [--runs 3] [--n 20]``. Ingests corpus/ into a
temporary data dir, warms the engine up with one question, then builds the quiz
``--runs`` times with different seeds. "Per item" is the time to turn one draft into
a checked item (distractors, evidence guard, checks); the whole-quiz time also
counts coverage (``ask``), retrieval and drafting.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--topic", default="vitamin B12 deficiency in infants")
    args = parser.parse_args()

    from ingest.pipeline import ingest_paths
    from ingest.settings import get_settings
    from qa_service.engine import Engine
    from qa_service.quiz import build_quiz, generate

    per_item: list[float] = []
    original = generate.realise

    def timed_realise(*a, **k):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        item = original(*a, **k)
        if item is not None:
            per_item.append(time.perf_counter() - started)
        return item

    generate.realise = timed_realise  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine.open(get_settings(tmp), owner={"command": "bench-quiz"})
        try:
            ingest_paths(engine.store, [REPO / "corpus"])
            engine.ask("What dose of vitamin B12 is recommended for infants?")  # warm-up: model, pint, BM25
            totals, counts = [], []
            for seed in range(args.runs):
                started = time.perf_counter()
                items = build_quiz(engine, args.topic, n=args.n, seed=seed)
                totals.append(time.perf_counter() - started)
                counts.append(len(items))
        finally:
            engine.close()
    items_total = sum(counts)
    print(f"quiz benchmark: topic={args.topic!r} n={args.n} runs={args.runs} items built per run={counts}")
    print(f"whole quiz: p50 {statistics.median(totals):.2f} s, {items_total / sum(totals):.2f} items/s")
    print(
        f"per item (draft -> checked item): p50 {statistics.median(per_item) * 1000:.0f} ms, "
        f"max {max(per_item) * 1000:.0f} ms over {len(per_item)} items"
    )


if __name__ == "__main__":
    main()
