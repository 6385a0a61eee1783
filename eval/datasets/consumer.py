"""Consumer-health pages on eight conditions → the corpus of the hand-written ``dev_consumer`` set.

The system must answer on any corpus, not only the B12 seed documents. This adapter
re-assembles a fixed selection of MedQuAD source pages (glaucoma, COPD, osteoporosis,
shingles, high blood pressure, kidney disease, psoriasis, Parkinson's disease; 3-6 pages
each from different NIH collections) and copies the hand-written gold file
``eval/gold/dev_consumer.jsonl`` beside them.

A page is the QA pairs of one upstream XML file, in file order, written as
``## <heading>\\n<answer>`` sections joined by blank lines (the layout of
``shared/data/nih_demo_corpus``; see its SOURCE.md). Each page becomes
``corpus/<safe page id>.md``: its focus as a title line, then that text. The selection
(condition → page ids and titles) lives in ``eval/gold/dev_consumer_pages.json``, so the
build is reproducible and the page texts never enter the repository. Nothing is sampled.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from eval.datasets.common import REPO, BuildSummary, page_markdown, read_jsonl, safe_name, write_pages_build
from ingest.errors import UsageError

logger = logging.getLogger(__name__)

GOLD_DIR = REPO / "eval" / "gold"
PAGES_FILE = GOLD_DIR / "dev_consumer_pages.json"
GOLD_FILE = GOLD_DIR / "dev_consumer.jsonl"
PAGE_PREFIX = "medquad:"


class PageRef(BaseModel):
    """One selected page: ``medquad:<collection>/<xml file stem>`` and its focus (checked at build)."""

    id: str = Field(pattern=r"^medquad:[0-9]+_[A-Za-z_]+/[0-9A-Za-z_]+$")
    title: str = Field(min_length=1)


class Condition(BaseModel):
    """A condition and the pages about it."""

    name: str = Field(min_length=1)
    pages: list[PageRef] = Field(min_length=1)


class PageSelection(BaseModel):
    """The content of ``dev_consumer_pages.json``."""

    description: str | None = None
    conditions: list[Condition] = Field(min_length=1)

    def page_ids(self) -> list[str]:
        return [page.id for condition in self.conditions for page in condition.pages]


def load_selection(path: Path) -> PageSelection:
    """Read and validate a page selection file (a usage error says what is wrong)."""
    try:
        selection = PageSelection.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (json.JSONDecodeError, ValidationError) as exc:
        raise UsageError(f"{path}: not a valid page selection ({exc})") from exc
    ids = selection.page_ids()
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise UsageError(f"{path}: pages listed twice: {', '.join(duplicates)}")
    return selection


def page_id(row: dict[str, Any]) -> str:
    """The page a MedQuAD QA pair comes from (``8_NHLBI_QA_XML/0000102.xml`` → ``medquad:8_NHLBI_QA_XML/0000102``)."""
    xml_file = str(row.get("xml_file") or "")
    return PAGE_PREFIX + xml_file.removesuffix(".xml")


def medquad_pages(qa_path: Path, wanted: set[str]) -> dict[str, tuple[str, str]]:
    """Re-assemble the ``wanted`` pages of ``qa_path``: page id → (focus, text).

    Sections follow the order of the data file (upstream file order), each
    ``## <question>\\n<answer>``, joined by blank lines.
    """
    sections: dict[str, list[dict[str, Any]]] = {}
    for row in read_jsonl(qa_path):
        pid = page_id(row)
        if pid in wanted:
            sections.setdefault(pid, []).append(row)
    return {
        pid: (
            str(rows[0].get("focus") or "").strip(),
            "\n\n".join(f"## {str(r['question']).strip()}\n{str(r['answer']).strip()}" for r in rows),
        )
        for pid, rows in sections.items()
    }


def build_consumer(
    out_dir: Path,
    *,
    data_root: Path,
    force: bool = False,
    pages_file: Path = PAGES_FILE,
    gold_file: Path = GOLD_FILE,
) -> BuildSummary:
    """Write ``out_dir/corpus/<safe page id>.md`` for the selected pages and ``out_dir/gold.jsonl``.

    Args:
        out_dir: Output folder.
        data_root: The shared data folder (holding ``medquad/qa.jsonl``).
        force: Replace an earlier build in ``out_dir``.
        pages_file: The page selection (default: the one the dev gold set was written on).
        gold_file: The gold file copied into the build (checked against the pages first).

    Raises:
        UsageError: missing data, a selected page absent or retitled in the data, or a gold
            quote that is not verbatim in the built pages.
    """
    qa_path = data_root / "medquad" / "qa.jsonl"
    if not qa_path.is_file():
        raise UsageError(f"no MedQuAD data at {qa_path} (set --source or MEDCITE_SHARED_DATA)")
    selection = load_selection(pages_file)
    wanted = [page for condition in selection.conditions for page in condition.pages]
    pages = medquad_pages(qa_path, {page.id for page in wanted})
    documents: dict[str, str] = {}
    for page in wanted:
        if page.id not in pages:
            raise UsageError(f"{pages_file.name}: page {page.id} is not in {qa_path}")
        focus, text = pages[page.id]
        if focus != page.title:
            raise UsageError(
                f"{pages_file.name}: page {page.id} is titled {focus!r} in {qa_path}, not {page.title!r}"
            )
        documents[f"{safe_name(page.id)}.md"] = page_markdown(focus, text)
    return write_pages_build(out_dir, documents, gold_file, dataset="consumer", force=force)
