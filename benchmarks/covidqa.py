"""COVID-QA dev: does an answer cite the sentences that hold the gold answer span?

Run from the repository root::

    .venv/bin/python -m benchmarks.covidqa              # all 542 dev questions
    .venv/bin/python -m benchmarks.covidqa --limit 100  # a quick look

The 35 development articles of ``../shared/data/covidqa-dev`` (the other 63 are a
test set kept elsewhere) are ingested with the real pipeline into a cached store
under ``benchmarks/out/``; each question is asked with the real ``Engine.ask``
against all 35. Every question is answerable, so an abstention counts as a miss.

Prints:
- ``span in cited``: share of questions whose gold answer span lies inside the
  cited sentences of the gold article (every non-space character covered);
- ``abstained``: share of questions answered "not enough evidence";
- ``answer@5``: share whose gold span lies inside one of ``Engine.search``'s top 5
  passages (retrieval alone), next to BM25 alone and dense alone on the same
  candidates;
- the median answer length (characters) and statements per answer.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository importable, not this folder
    _here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    sys.path.insert(0, str(_here.parent))

from benchmarks._common import (
    DEFAULT_DATA,
    Dataset,
    cached_engine,
    load_model,
    note,
    print_table,
    read_jsonl,
    require_data,
    setup_entry_point,
)


@dataclass
class GoldSpan:
    """A COVID-QA question and where its answer lies in the stored gold document."""

    qid: str
    question: str
    doc_key: str
    answer: str
    start: int
    end: int


def covidqa(data: Path) -> tuple[Dataset, list[GoldSpan]]:
    """The 35 dev articles (as stored: the upstream ``text``) and their questions."""
    docs = {r["doc_id"]: r["text"] for r in read_jsonl(data / "covidqa-dev" / "corpus.jsonl")}
    spans = [
        GoldSpan(
            r["id"], r["question"], r["gold_doc_id"], r["answer_text"], r["answer_start"], r["answer_end"]
        )
        for r in read_jsonl(data / "covidqa-dev" / "questions.jsonl")
        if r["gold_doc_id"] in docs
    ]
    return Dataset("covidqa-dev", docs), spans


def locate(stored: str, gold: GoldSpan) -> tuple[int, int] | None:
    """The gold span in the stored text (the loader may have normalised whitespace): nearest match."""
    if stored[gold.start : gold.end] == gold.answer:
        return gold.start, gold.end
    pattern = r"\s+".join(re.escape(w) for w in gold.answer.split())
    best: tuple[int, int] | None = None
    for m in re.finditer(pattern, stored):
        if best is None or abs(m.start() - gold.start) < abs(best[0] - gold.start):
            best = (m.start(), m.end())
    return best


def covered(text: str, span: tuple[int, int], cited: list[tuple[int, int]]) -> bool:
    """Every non-space character of ``text[span]`` lies in one of the ``cited`` spans."""
    return all(text[i].isspace() or any(s <= i < e for s, e in cited) for i in range(*span))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="Only the first N questions.")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)
    setup_entry_point()
    require_data(args.data, "covidqa-dev/corpus.jsonl", "covidqa-dev/questions.jsonl")
    dataset, golds = covidqa(args.data)
    if args.limit:
        golds = golds[: args.limit]
    embedder = load_model()
    engine = cached_engine(dataset, {}, embedder, rebuild=args.rebuild)
    try:
        rows = run(engine, dataset, golds)
    finally:
        engine.close()
    report(rows)
    return 0


def _in_top5(ranked: list[Any], doc_id: str, span: tuple[int, int] | None) -> bool:
    """The gold ``span`` of ``doc_id`` lies inside one of the first five ``ranked`` candidates."""
    return span is not None and any(
        c.row.doc_id == doc_id and c.row.start <= span[0] and span[1] <= c.row.end for c in ranked[:5]
    )


def run(engine: Any, dataset: Dataset, golds: list[GoldSpan]) -> list[dict[str, Any]]:
    """Ask every question; one result row each."""
    by_source = dataset.key_by_source()
    doc_of = {by_source[d.source]: d.doc_id for d in engine.store.list_documents() if d.source in by_source}
    texts: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    for n, gold in enumerate(golds, 1):
        doc_id = doc_of[gold.doc_key]
        text = texts.get(doc_id) or texts.setdefault(doc_id, engine.store.get_document(doc_id).text or "")
        span = locate(text, gold)
        answer = engine.ask(gold.question)
        cited = [(c.start, c.end) for c in answer.citations if c.doc_id == doc_id]
        passages = engine.search(gold.question, k=5).passages
        _, pool = engine.candidates(gold.question, engine.settings.retrieval.candidates)
        row = {
            "qid": gold.qid,
            "found": span is not None,
            "abstained": answer.abstained,
            "cited": bool(span) and not answer.abstained and covered(text, span, cited),
            "retrieved": bool(span)
            and any(p.doc_id == doc_id and p.start <= span[0] and span[1] <= p.end for p in passages),
            "bm25": _in_top5(sorted(pool, key=lambda c: -c.lexical), doc_id, span),
            "dense": _in_top5(sorted(pool, key=lambda c: -c.dense), doc_id, span),
            "chars": len(answer.answer),
            "statements": len(answer.statements),
        }
        rows.append(row)
        if n % 100 == 0:
            note(f"{n}/{len(golds)} questions")
    return rows


def report(rows: list[dict[str, Any]]) -> None:
    n = len(rows)
    answered = [r for r in rows if not r["abstained"]]
    table = [
        ("questions", n),
        ("gold span located in stored text", sum(r["found"] for r in rows) / n),
        ("span in cited sentences", sum(r["cited"] for r in rows) / n),
        ("abstained", sum(r["abstained"] for r in rows) / n),
        ("answer@5 (search top 5)", sum(r["retrieved"] for r in rows) / n),
        ("answer@5 BM25 alone", sum(r["bm25"] for r in rows) / n),
        ("answer@5 dense alone", sum(r["dense"] for r in rows) / n),
        ("median answer chars", statistics.median(r["chars"] for r in answered) if answered else 0),
        ("median statements", statistics.median(r["statements"] for r in answered) if answered else 0),
        ("max statements", max((r["statements"] for r in answered), default=0)),
    ]
    print_table("COVID-QA dev (35 articles)", ["figure", "value"], table)


if __name__ == "__main__":
    sys.exit(main())
