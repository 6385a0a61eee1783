"""Shared pieces of the dataset adapters: output layout, silver quotes, gold lines, page files."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, Field

from eval.gold import load_gold
from eval.models import GoldItem
from ingest.chunking import split_sentences
from ingest.errors import UsageError
from ingest.lexical import stem_terms

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
MIN_QUOTE_WORDS = 5


def default_data_root() -> Path:
    """Where the team's shared data lives: $MEDCITE_SHARED_DATA, else ../shared/data beside the repo."""
    env = os.environ.get("MEDCITE_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


class BuildSummary(BaseModel):
    """What an adapter wrote (printed as JSON by ``python -m eval.datasets``)."""

    dataset: str
    corpus_dir: str
    gold_path: str
    documents: int = Field(description="Files written to the corpus folder.")
    questions: int
    answerable: int
    unanswerable: int
    seed: int | None = Field(default=None, description="Sampling seed (None: the build samples nothing).")


def safe_name(text: str) -> str:
    """A file-name-safe version of an id (``8_NHLBI_QA_XML/0000001-1`` → ``8_NHLBI_QA_XML__0000001-1``)."""
    return _SAFE.sub("__", text).strip("_") or "doc"


def prepare_out_dir(out_dir: Path, force: bool) -> Path:
    """Create ``OUT_DIR/corpus``; refuse to mix with an earlier build unless ``force`` (which replaces it)."""
    corpus = out_dir / "corpus"
    gold = out_dir / "gold.jsonl"
    if (corpus.exists() and any(corpus.iterdir())) or gold.exists():
        if not force:
            raise UsageError(
                f"{out_dir} already holds a build (corpus/ or gold.jsonl); use --force to replace it"
            )
        shutil.rmtree(corpus, ignore_errors=True)
        gold.unlink(missing_ok=True)
    corpus.mkdir(parents=True, exist_ok=True)
    return corpus


def best_sentence(text: str, reference: str) -> str | None:
    """The sentence of ``text`` sharing most (stemmed, stop-word-free) terms with ``reference``.

    Used as a *silver* evidence quote: verbatim, but chosen by word overlap rather than by a
    person. Sentences under ``MIN_QUOTE_WORDS`` words (headings, labels) and questions (pages
    that echo the question they answer) are passed over; ties go to the earlier sentence.
    """
    ref = set(stem_terms(reference))
    best, best_score = None, 0
    for start, end in split_sentences(text):
        sentence = text[start:end].strip()
        if len(sentence.split()) < MIN_QUOTE_WORDS or sentence.endswith("?"):
            continue
        score = len(ref & set(stem_terms(sentence)))
        if score > best_score:
            best, best_score = sentence, score
    return best


def read_jsonl(path: Path) -> Iterable[dict[str, object]]:
    """Objects of a JSON Lines file (a usage error naming the line when one is malformed)."""
    try:
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise UsageError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc


def write_gold(path: Path, items: list[GoldItem]) -> None:
    """Write gold lines (validated models, extras kept) as JSON Lines."""
    with path.open("w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item.model_dump(mode="json", exclude_none=True), ensure_ascii=False) + "\n")


def page_markdown(title: str, text: str) -> str:
    """A whole source page as Markdown: its title as the first line, then its text."""
    return f"# {title.strip()}\n\n{text.strip()}\n"


def _ws(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def check_gold_against(items: list[GoldItem], documents: dict[str, str]) -> list[str]:
    """Why a hand-written gold set does not fit a corpus (file name → text); empty when it fits.

    Every quote must be verbatim (up to whitespace runs) in the document its ``source`` names,
    and no ``absent_terms`` of an unanswerable line may occur anywhere (case-insensitively):
    either failure means the shared data changed under the gold set, and every metric on it
    would be silently wrong.
    """
    texts = {name: _ws(text) for name, text in documents.items()}
    everything = " ".join(texts.values()).casefold()
    problems: list[str] = []
    for item in items:
        for ev in item.evidence or []:
            if ev.source not in texts:
                problems.append(f"{item.id}: no document {ev.source!r} in the build")
            elif _ws(ev.quote) not in texts[ev.source]:
                problems.append(f"{item.id}: quote not verbatim in {ev.source}: {ev.quote[:60]!r}")
        absent = (item.model_extra or {}).get("absent_terms") or []
        problems += [
            f"{item.id}: absent term {t!r} occurs in the corpus"
            for t in absent
            if isinstance(t, str) and t.casefold() in everything
        ]
    return problems


def write_pages_build(
    out_dir: Path, documents: dict[str, str], gold_file: Path, *, dataset: str, force: bool
) -> BuildSummary:
    """Write ``documents`` (file name → text) and a copy of the hand-written ``gold_file``.

    The gold file is validated and checked against the documents *before* anything is
    written, so a mismatch leaves no half-built folder (a usage error lists what is wrong).
    """
    items, _ = load_gold(gold_file)
    problems = check_gold_against(items, documents)
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise UsageError(
            f"{gold_file.name} does not fit the documents built from the shared data (has the data "
            f"changed?): " + "; ".join(problems[:5]) + more
        )
    corpus_dir = prepare_out_dir(out_dir, force)
    for name, text in documents.items():
        (corpus_dir / name).write_text(text, encoding="utf-8")
    gold_path = out_dir / "gold.jsonl"
    shutil.copyfile(gold_file, gold_path)
    answerable = sum(item.answerable for item in items)
    return BuildSummary(
        dataset=dataset,
        corpus_dir=str(corpus_dir),
        gold_path=str(gold_path),
        documents=len(documents),
        questions=len(items),
        answerable=answerable,
        unanswerable=len(items) - answerable,
    )
