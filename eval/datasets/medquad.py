"""MedQuAD → a corpus of answer passages and a gold file.

A seeded sample of MedQuAD questions; each question's gold document is its answer
passage (one Markdown file, titled with the question's focus, e.g. "Pernicious
Anemia"; the question itself is not written, it would leak into retrieval).
Distractors: the other answers of the same source pages (hard negatives: same
disease, other aspects) and ``--distractors`` random answers.

Only questions whose text has exactly one distinct answer in MedQuAD are sampled
(1,396 template questions have several; see shared/data/medquad/SOURCE.md), so the
gold document is the only right one. Gold lines: ``evidence = [{"source": file,
"quote": <silver sentence>}]``, the answer sentence sharing the most words with
the question (``quote_kind: "silver"``, ``evidence_complete: false``). As with
PubMedQA, trust the source-level metrics most. No key facts.

With ``--unanswerable N``, N further questions are added whose focus appears in no
corpus document (``answerable: false``).
"""

from __future__ import annotations

import logging
import random
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from eval.datasets.common import (
    BuildSummary,
    best_sentence,
    prepare_out_dir,
    read_jsonl,
    safe_name,
    write_gold,
)
from eval.models import GoldItem
from ingest.errors import UsageError

logger = logging.getLogger(__name__)

MIN_ANSWER_CHARS = 100


def _question_key(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _page(row: dict[str, Any]) -> tuple[str, str]:
    return (str(row.get("source_collection") or ""), str(row.get("xml_file") or row.get("doc_id") or ""))


def answer_markdown(row: dict[str, Any]) -> str:
    """The answer passage as Markdown, titled with its focus."""
    focus = str(row.get("focus") or "").strip() or "MedQuAD answer"
    return f"# {focus}\n\n{str(row['answer']).strip()}\n"


def build_medquad(
    out_dir: Path,
    *,
    data_root: Path,
    limit: int = 100,
    seed: int = 0,
    distractors: int | None = None,
    unanswerable: int = 0,
    force: bool = False,
) -> BuildSummary:
    """Write ``out_dir/corpus/*.md`` and ``out_dir/gold.jsonl`` from MedQuAD.

    Args:
        out_dir: Output folder.
        data_root: The shared data folder (holding ``medquad/qa.jsonl``).
        limit: Answerable questions to sample.
        seed: Sampling seed (same seed → same build).
        distractors: Random extra answers (None: 4 × limit); same-page answers are always added.
        unanswerable: Questions added whose focus no corpus document mentions.
        force: Replace an earlier build in ``out_dir``.
    """
    path = data_root / "medquad" / "qa.jsonl"
    if not path.is_file():
        raise UsageError(f"no MedQuAD data at {path} (set --source or MEDCITE_SHARED_DATA)")
    rows = [r for r in read_jsonl(path) if len(str(r.get("answer") or "")) >= MIN_ANSWER_CHARS]
    answers_of: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        answers_of[_question_key(str(r["question"]))].add(str(r["answer"]).strip())
    unique = [r for r in rows if len(answers_of[_question_key(str(r["question"]))]) == 1]
    rng = random.Random(seed)
    picked = sorted(rng.sample(range(len(unique)), min(limit, len(unique))))
    chosen = [unique[i] for i in picked]

    docs = _corpus_rows(rows, chosen, distractors if distractors is not None else 4 * limit, rng)
    corpus_dir = prepare_out_dir(out_dir, force)
    for row in docs:
        (corpus_dir / f"{safe_name(str(row['id']))}.md").write_text(answer_markdown(row), encoding="utf-8")

    items = [_answerable_item(r) for r in chosen]
    items += [_unanswerable_item(r) for r in _unanswerable_rows(unique, docs, unanswerable, rng)]
    gold_path = out_dir / "gold.jsonl"
    write_gold(gold_path, items)
    return BuildSummary(
        dataset="medquad",
        corpus_dir=str(corpus_dir),
        gold_path=str(gold_path),
        documents=len(docs),
        questions=len(items),
        answerable=len(chosen),
        unanswerable=len(items) - len(chosen),
        seed=seed,
    )


def _corpus_rows(
    rows: list[dict[str, Any]], chosen: list[dict[str, Any]], extra: int, rng: random.Random
) -> list[dict[str, Any]]:
    """Gold answers, their pages' other answers, then ``extra`` random ones (none for a chosen question)."""
    chosen_ids = {str(r["id"]) for r in chosen}
    chosen_questions = {_question_key(str(r["question"])) for r in chosen}
    pages = {_page(r) for r in chosen}
    same_page = [r for r in rows if _page(r) in pages and str(r["id"]) not in chosen_ids]
    taken = chosen_ids | {str(r["id"]) for r in same_page}
    pool = [
        r
        for r in rows
        if str(r["id"]) not in taken and _question_key(str(r["question"])) not in chosen_questions
    ]
    random_rows = [pool[i] for i in sorted(rng.sample(range(len(pool)), min(extra, len(pool))))]
    return list(chosen) + same_page + random_rows


def _unanswerable_rows(
    unique: list[dict[str, Any]], docs: list[dict[str, Any]], n: int, rng: random.Random
) -> list[dict[str, Any]]:
    if n <= 0:
        return []
    corpus_text = "\n".join(answer_markdown(d).lower() for d in docs)
    in_corpus = {str(d["id"]) for d in docs}
    candidates = [
        r
        for r in unique
        if str(r["id"]) not in in_corpus
        and str(r.get("focus") or "").strip()
        and str(r["focus"]).strip().lower() not in corpus_text
    ]
    if len(candidates) < n:
        raise UsageError(
            f"only {len(candidates)} MedQuAD questions have a focus absent from the corpus; asked for {n}"
        )
    return [candidates[i] for i in sorted(rng.sample(range(len(candidates)), n))]


def _answerable_item(row: dict[str, Any]) -> GoldItem:
    question = str(row["question"])
    answer = str(row["answer"]).strip()
    quote = best_sentence(answer, question)
    return GoldItem.model_validate(
        {
            "id": f"medquad-{row['id']}",
            "question": question,
            "answerable": True,
            "reference_answer": answer if len(answer) <= 600 else answer[:600].rsplit(" ", 1)[0] + " …",
            "evidence": [{"source": f"{safe_name(str(row['id']))}.md", "quote": quote}] if quote else None,
            "question_type": row.get("question_type"),
            "focus": row.get("focus"),
            "url": row.get("url"),
            "quote_kind": "silver",
            "evidence_complete": False,
            "dataset": "medquad",
        }
    )


def _unanswerable_item(row: dict[str, Any]) -> GoldItem:
    return GoldItem.model_validate(
        {
            "id": f"medquad-{row['id']}",
            "question": str(row["question"]),
            "answerable": False,
            "focus": row.get("focus"),
            "dataset": "medquad",
        }
    )
