"""Answer quality on the development gold sets, and evidence recall on PubMedQA / MedQuAD.

Run from the repository root::

    .venv/bin/python -m benchmarks.dev_answers                  # every dev set whose corpus can be built
    .venv/bin/python -m benchmarks.dev_answers --sets seeds     # only the seed documents
    .venv/bin/python -m benchmarks.dev_answers --json out.json  # also write the per-set eval runs

Dev sets (tuned on; the frozen test set ``eval/gold/corpus.jsonl`` is reported by
``medcite eval`` and the quality gate, never here):
- ``seeds``: ``eval/gold/dev.jsonl``, ``dev_unanswerable.jsonl`` and ``dev_clinician.jsonl``
  on ``corpus/``;
- ``consumer``: ``eval/gold/dev_consumer.jsonl`` on 40 consumer-health pages
  (``python -m eval.datasets consumer``);
- ``nih``: ``eval/gold/dev_nih.jsonl`` on the 110 NIH pages (``python -m eval.datasets nih``);
- ``pubmedqa`` / ``medquad``: the ``eval.datasets`` adapters' silver gold (question, gold
  document, a quote from it) on a sample, for evidence recall on other corpora.

Each set is evaluated with the real harness (``eval.runner.run_eval`` on an
``EngineBackend``), the same metrics ``medcite eval`` prints, plus the median answer
length and statements per answer.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository importable, not this folder
    _here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    sys.path.insert(0, str(_here.parent))

from benchmarks._common import DEFAULT_DATA, OUT, load_model, note, print_table, setup_entry_point
from benchmarks.train_ranker import _folder_engine, dev_sets

METRICS = ("key_fact_recall", "evidence_recall", "abstain_recall", "false_abstain_rate", "statement_support")


def silver_sets(data: Path, sample: int) -> list[tuple[str, list[Path], Path]]:
    """PubMedQA and MedQuAD corpora with silver gold built by the dataset adapters."""
    from eval.datasets.medquad import build_medquad
    from eval.datasets.pubmedqa import build_pubmedqa

    out = []
    for name, build in (("pubmedqa", build_pubmedqa), ("medquad", build_medquad)):
        folder = OUT / "files" / f"silver-{name}{sample}"
        if not (folder / "gold.jsonl").is_file():
            build(folder, data_root=data, limit=sample, seed=0, force=True)
        out.append((f"{name}{sample}", [folder / "gold.jsonl"], folder / "corpus"))
    return out


def evaluate(name: str, gold_files: list[Path], corpus: Path, embedder: Any) -> list[tuple[Any, ...]]:
    from eval.runner import EngineBackend, run_eval

    engine = _folder_engine(corpus, name, embedder)
    rows = []
    try:
        for gold in gold_files:
            run = run_eval(gold, EngineBackend(engine), resamples=0)
            answered = [r for r in run.per_question if r.answer is not None and not r.abstained]
            chars = statistics.median(len(r.answer or "") for r in answered) if answered else 0
            statements = statistics.median(len(r.statements) for r in answered) if answered else 0
            rows.append((name, gold.name, run.n, *(run.metrics.get(m) for m in METRICS), chars, statements))
    finally:
        engine.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sets", default="seeds,consumer,nih,silver")
    parser.add_argument("--silver-sample", type=int, default=200)
    args = parser.parse_args(argv)
    setup_entry_point()
    wanted = set(args.sets.split(","))
    embedder = load_model()
    sets = dev_sets(args.data, wanted)
    if "silver" in wanted and (args.data / "pubmedqa").is_dir():
        sets += silver_sets(args.data, args.silver_sample)
    rows = []
    for name, gold_files, corpus in sets:
        note(f"{name}: {', '.join(g.name for g in gold_files)}")
        rows += evaluate(name, gold_files, corpus, embedder)
    headers = ["set", "gold", "n", "key facts", "evidence", "abstain rec", "false abst", "support",
               "med chars", "med stmts"]
    print_table("Dev answers (eval harness metrics; None = not defined for this set)", headers,
                [tuple("-" if v is None else v for v in r) for r in rows])
    return 0


if __name__ == "__main__":
    sys.exit(main())
