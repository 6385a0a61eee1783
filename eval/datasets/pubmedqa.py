"""PubMedQA (PQA-L dev) → a corpus of abstracts and a gold file.

Each dev question's gold document is its abstract (one Markdown file per PMID,
its labelled sections as headings; the PubMedQA ``question`` field is not written,
since it is the reworded title and would leak the answer into retrieval). Other
abstracts join as distractors (all of them by default: the folder holds 1,000).

Gold lines: ``evidence = [{"source": "<PMID>.md", "quote": <silver sentence>}]``.
PubMedQA's long answer is the abstract's conclusion, which upstream removed from the
abstract, so no quote is truly gold: the quote is the abstract sentence sharing the
most words with the long answer (``quote_kind: "silver"``), and the line says
``evidence_complete: false``. The trustworthy signals on this set are therefore the
*source-level* metrics (``source_recall@k``, ``cited_source_recall``), plus
``statement_support`` and abstention. There are no key facts (the answer is
yes/no/maybe, kept as ``final_decision``).

With ``--unanswerable N``, N further dev questions are added with their abstract
left out of the corpus (``answerable: false``).
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

from eval.datasets.common import BuildSummary, best_sentence, prepare_out_dir, read_jsonl, write_gold
from eval.models import GoldEvidence, GoldItem
from ingest.errors import UsageError

logger = logging.getLogger(__name__)


def abstract_markdown(doc: dict[str, Any]) -> str:
    """The abstract as Markdown: a title line, then one heading per labelled section."""
    parts = [f"# PubMed {doc['doc_id']}", ""]
    for section in doc.get("sections") or []:
        label = str(section.get("label") or "Text").strip().capitalize()
        parts += [f"## {label}", "", str(section.get("text") or "").strip(), ""]
    return "\n".join(parts)


def build_pubmedqa(
    out_dir: Path,
    *,
    data_root: Path,
    limit: int | None = None,
    seed: int = 0,
    distractors: int | None = None,
    unanswerable: int = 0,
    force: bool = False,
) -> BuildSummary:
    """Write ``out_dir/corpus/*.md`` and ``out_dir/gold.jsonl`` from PubMedQA dev.

    Args:
        out_dir: Output folder.
        data_root: The shared data folder (holding ``pubmedqa/``).
        limit: Answerable questions to take (seeded sample; None: all 500).
        seed: Sampling seed.
        distractors: Abstracts added besides the gold ones (None: every other abstract).
        unanswerable: Questions added whose abstract is left out.
        force: Replace an earlier build in ``out_dir``.
    """
    folder = data_root / "pubmedqa"
    if not folder.is_dir():
        raise UsageError(f"no PubMedQA data at {folder} (set --source or MEDCITE_SHARED_DATA)")
    questions = list(read_jsonl(folder / "questions_dev.jsonl"))
    corpus = {str(d["doc_id"]): d for d in read_jsonl(folder / "corpus.jsonl")}
    rng = random.Random(seed)
    order = list(range(len(questions)))
    rng.shuffle(order)
    n_answerable = len(questions) if limit is None else min(limit, len(questions))
    if n_answerable + unanswerable > len(questions):
        raise UsageError(
            f"PubMedQA dev has {len(questions)} questions; asked for {n_answerable} + {unanswerable}"
        )
    picked = sorted(order[:n_answerable])
    held_out = sorted(order[n_answerable : n_answerable + unanswerable])
    gold_ids = {str(questions[i]["gold_doc_id"]) for i in picked}
    excluded = {str(questions[i]["gold_doc_id"]) for i in held_out}

    others = sorted(set(corpus) - gold_ids - excluded)
    if distractors is not None:
        others = sorted(random.Random(seed + 1).sample(others, min(distractors, len(others))))
    corpus_dir = prepare_out_dir(out_dir, force)
    for doc_id in sorted(gold_ids) + others:
        (corpus_dir / f"{doc_id}.md").write_text(abstract_markdown(corpus[doc_id]), encoding="utf-8")

    items = [_answerable_item(questions[i], corpus) for i in picked]
    items += [_unanswerable_item(questions[i]) for i in held_out]
    gold_path = out_dir / "gold.jsonl"
    write_gold(gold_path, items)
    return BuildSummary(
        dataset="pubmedqa",
        corpus_dir=str(corpus_dir),
        gold_path=str(gold_path),
        documents=len(gold_ids) + len(others),
        questions=len(items),
        answerable=len(picked),
        unanswerable=len(held_out),
        seed=seed,
    )


def _answerable_item(q: dict[str, Any], corpus: dict[str, dict[str, Any]]) -> GoldItem:
    doc_id = str(q["gold_doc_id"])
    doc = corpus[doc_id]
    long_answer = str(q.get("long_answer") or "")
    # sections joined by blank lines: a sentence never spans two of them
    body = "\n\n".join(str(s.get("text") or "").strip() for s in doc.get("sections") or [])
    quote = best_sentence(body, long_answer)
    evidence = [GoldEvidence(source=f"{doc_id}.md", quote=quote)] if quote else None
    return GoldItem.model_validate(
        {
            "id": str(q["id"]),
            "question": str(q["question"]),
            "answerable": True,
            "reference_answer": long_answer or None,
            "evidence": [e.model_dump(exclude_none=True) for e in evidence] if evidence else None,
            "final_decision": q.get("final_decision"),
            "quote_kind": "silver",
            "evidence_complete": False,
            "dataset": "pubmedqa",
        }
    )


def _unanswerable_item(q: dict[str, Any]) -> GoldItem:
    return GoldItem.model_validate(
        {
            "id": str(q["id"]),
            "question": str(q["question"]),
            "answerable": False,
            "left_out_doc": str(q["gold_doc_id"]),
            "dataset": "pubmedqa",
        }
    )
