"""The NIH blood and nutrition demo corpus → a corpus folder for the hand-written ``dev_nih`` set.

``shared/data/nih_demo_corpus/medquad_blood_nutrition_docs.jsonl`` holds 110 MedQuAD
source pages (anemia, iron, folate, coeliac disease, vitamins, infant nutrition, ...;
see its SOURCE.md). Each becomes ``corpus/<safe doc id>.md``: its title as the first
line, then its ``text``. The hand-written gold file ``eval/gold/dev_nih.jsonl`` (questions
on topics other than B12) is checked against those files and copied beside them.
Nothing is sampled: the build is the whole file.
"""

from __future__ import annotations

import logging
from pathlib import Path

from eval.datasets.common import REPO, BuildSummary, page_markdown, read_jsonl, safe_name, write_pages_build
from ingest.errors import UsageError

logger = logging.getLogger(__name__)

DOCS_FILE = Path("nih_demo_corpus") / "medquad_blood_nutrition_docs.jsonl"
GOLD_FILE = REPO / "eval" / "gold" / "dev_nih.jsonl"


def nih_documents(path: Path) -> dict[str, str]:
    """File name → Markdown text for every document of the demo corpus file."""
    documents: dict[str, str] = {}
    for n, doc in enumerate(read_jsonl(path), 1):
        doc_id, text = str(doc.get("doc_id") or ""), str(doc.get("text") or "")
        if not doc_id or not text.strip():
            raise UsageError(f"{path}:{n}: a document needs a doc_id and a text")
        name = f"{safe_name(doc_id)}.md"
        if name in documents:
            raise UsageError(f"{path}:{n}: doc_id {doc_id!r} gives the same file name as an earlier one")
        documents[name] = page_markdown(str(doc.get("title") or doc_id), text)
    return documents


def build_nih(
    out_dir: Path, *, data_root: Path, force: bool = False, gold_file: Path = GOLD_FILE
) -> BuildSummary:
    """Write ``out_dir/corpus/<safe doc id>.md`` for all demo-corpus documents and ``out_dir/gold.jsonl``.

    Args:
        out_dir: Output folder.
        data_root: The shared data folder (holding ``nih_demo_corpus/``).
        force: Replace an earlier build in ``out_dir``.
        gold_file: The gold file copied into the build (checked against the documents first).

    Raises:
        UsageError: missing or malformed data, or a gold quote not verbatim in the built documents.
    """
    path = data_root / DOCS_FILE
    if not path.is_file():
        raise UsageError(f"no NIH demo corpus at {path} (set --source or MEDCITE_SHARED_DATA)")
    return write_pages_build(out_dir, nih_documents(path), gold_file, dataset="nih", force=force)
