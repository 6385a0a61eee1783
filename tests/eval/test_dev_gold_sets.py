"""The blind dev sets (dev_clinician, dev_consumer, dev_nih) are well formed and grounded in their corpora.

``dev_clinician.jsonl`` is checked against ``corpus/``; ``dev_consumer.jsonl`` and ``dev_nih.jsonl``
against the corpora their adapters build from ``../shared/data`` (built once per module into a
temp folder; those checks skip when the shared data is absent). The checks are written
independently of the adapters' own build-time check, so a bug there cannot hide a bad line here.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from eval.gold import load_gold
from eval.models import GoldItem
from tests.conftest import CORPUS, REPO, SHARED

GOLD = REPO / "eval" / "gold"
CLINICIAN = GOLD / "dev_clinician.jsonl"
CONSUMER = GOLD / "dev_consumer.jsonl"
NIH = GOLD / "dev_nih.jsonl"
PAGES = GOLD / "dev_consumer_pages.json"
RESERVED_TOPICS = ("asthma", "stroke", "dementia", "alzheimer")
ANSWERABLE_CATEGORIES = {
    "case", "mechanism", "dosing", "monitoring", "route", "causes", "risk_groups", "diagnosis",
    "prognosis", "prevention", "duration", "thresholds", "conflict", "symptoms", "treatment",
    "inheritance", "frequency",
}  # fmt: skip
FORMS = {"yes-no", "list", "multi-part", "terse"}
COPY_WINDOW = 8  # a question sharing this many consecutive words with a document copies it

_WS = re.compile(r"\s+")
_MICROGRAM = re.compile(r"(?<![a-z])(?:μg|mcg|ug)(?![a-z])", re.IGNORECASE)


def _ws(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _fact_form(text: str) -> str:
    return _MICROGRAM.sub("μg", _ws(text).replace("\u00b5", "\u03bc")).casefold()


def _extra(item: GoldItem, key: str) -> object:
    return (item.model_extra or {}).get(key)


def _corpus_texts(folder: Path) -> dict[str, str]:
    """File name → whitespace-normalised text, skipping README files (never ingested)."""
    return {
        p.name: _ws(p.read_text(encoding="utf-8"))
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.startswith("README")
    }


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_root() -> Path:
    path = SHARED / "data"
    if not path.is_dir():
        pytest.skip("../shared/data is not present (only in the team's workspace)")
    return path


@pytest.fixture(scope="module")
def consumer_corpus(shared_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from eval.datasets.consumer import build_consumer

    out = tmp_path_factory.mktemp("consumer")
    build_consumer(out, data_root=shared_root)
    return _corpus_texts(out / "corpus")


@pytest.fixture(scope="module")
def nih_corpus(shared_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from eval.datasets.nih import build_nih

    out = tmp_path_factory.mktemp("nih")
    build_nih(out, data_root=shared_root)
    return _corpus_texts(out / "corpus")


def _items(path: Path) -> list[GoldItem]:
    items, _ = load_gold(path)  # the harness's own validator: a bad line fails here, named
    return items


# --- shared checks -----------------------------------------------------------------------------------


def _grounding_problems(items: list[GoldItem], corpus: dict[str, str]) -> list[str]:
    """Quotes verbatim in their source, key facts in their quotes, absent terms absent, no copying."""
    everything = " ".join(corpus.values())
    folded = everything.casefold()
    problems: list[str] = []
    for item in items:
        if item.answerable:
            for ev in item.evidence or []:
                if ev.source not in corpus:
                    problems.append(f"{item.id}: unknown source {ev.source!r}")
                elif _ws(ev.quote) not in corpus[ev.source]:
                    problems.append(f"{item.id}: not verbatim in {ev.source}: {ev.quote!r}")
                if re.search(r"\[\d", ev.quote) or ev.quote.rstrip().endswith("?"):
                    problems.append(f"{item.id}: quote holds a reference marker or a question")
            quotes = [_fact_form(ev.quote) for ev in item.evidence or []]
            problems += [
                f"{item.id}: key fact {fact!r} in none of its quotes"
                for fact in item.key_facts or []
                if not any(_fact_form(fact) in q for q in quotes)
            ]
        else:
            terms = _extra(item, "absent_terms")
            if not isinstance(terms, list) or not terms:
                problems.append(f"{item.id}: unanswerable line without absent_terms")
                continue
            problems += [
                f"{item.id}: {t!r} occurs in the corpus" for t in terms if str(t).casefold() in folded
            ]
        words = _ws(item.question).casefold().split()
        for i in range(len(words) - COPY_WINDOW + 1):
            window = " ".join(words[i : i + COPY_WINDOW])
            if window in folded:
                problems.append(f"{item.id}: question copies document text {window!r}")
                break
    return problems


def _shape_problems(items: list[GoldItem]) -> list[str]:
    """Answerable lines: evidence, 1-4 short key facts, a known category; forms and conflicts consistent."""
    problems: list[str] = []
    for item in items:
        category, form = _extra(item, "category"), _extra(item, "form")
        if item.answerable:
            if not item.evidence:
                problems.append(f"{item.id}: no evidence")
            if not item.key_facts or not 1 <= len(item.key_facts) <= 4:
                problems.append(f"{item.id}: needs 1-4 key facts")
            problems += [f"{item.id}: key fact too long: {f!r}" for f in item.key_facts or [] if len(f) > 60]
            if not item.reference_answer:
                problems.append(f"{item.id}: no reference_answer")
            if category not in ANSWERABLE_CATEGORIES:
                problems.append(f"{item.id}: unknown category {category!r}")
            if (category == "conflict") != item.conflict:
                problems.append(f"{item.id}: category conflict and conflict: true go together")
            if item.conflict and len(item.evidence or []) < 2:
                problems.append(f"{item.id}: a conflict needs a quote per side")
        else:
            if item.evidence or item.key_facts:
                problems.append(f"{item.id}: unanswerable line with evidence or key facts")
            if category not in ("unanswerable-near", "unanswerable-far"):
                problems.append(f"{item.id}: unanswerable category is {category!r}")
        if form is not None and form not in FORMS:
            problems.append(f"{item.id}: unknown form {form!r}")
        if form == "multi-part" and len(item.evidence or []) < 2:
            problems.append(f"{item.id}: a multi-part question needs quotes from two or more sentences")
    return problems


def _counts(items: list[GoldItem], key: Callable[[GoldItem], object]) -> Counter[object]:
    return Counter(key(item) for item in items)


# --- all gold files -----------------------------------------------------------------------------


def test_ids_and_questions_unique_across_all_gold_files() -> None:
    ids: Counter[str] = Counter()
    questions: Counter[str] = Counter()
    for path in sorted(GOLD.glob("*.jsonl")):
        for item in _items(path):
            ids[item.id] += 1
            questions[_fact_form(item.question)] += 1
    assert not [i for i, n in ids.items() if n > 1]
    assert not [q for q, n in questions.items() if n > 1]


@pytest.mark.parametrize(
    ("path", "prefix"), [(CLINICIAN, "devc"), (CONSUMER, "devh"), (NIH, "devn")], ids=lambda v: str(v)[-20:]
)
def test_ids_follow_the_file_prefix_in_order(path: Path, prefix: str) -> None:
    ids = [item.id for item in _items(path)]
    assert ids == [f"{prefix}-{n:03d}" for n in range(1, len(ids) + 1)]


# --- dev_clinician (corpus/) -----------------------------------------------------------------------


def test_clinician_set_shape_and_counts() -> None:
    items = _items(CLINICIAN)
    assert not _shape_problems(items)
    assert len(items) >= 40
    categories = _counts([i for i in items if not i.answerable], lambda i: _extra(i, "category"))
    assert sum(categories.values()) >= 10
    assert categories["unanswerable-near"] >= 5 and categories["unanswerable-far"] >= 2
    forms = _counts(items, lambda i: _extra(i, "form"))
    assert forms["yes-no"] >= 6 and forms["multi-part"] >= 6 and forms["list"] >= 4
    assert sum(i.conflict for i in items) >= 1


def test_clinician_set_is_grounded_in_corpus() -> None:
    assert not _grounding_problems(_items(CLINICIAN), _corpus_texts(CORPUS))


def test_clinician_conflict_lines_cite_both_newborn_store_figures() -> None:
    for item in (i for i in _items(CLINICIAN) if i.conflict):
        joined = " ".join(_fact_form(ev.quote) for ev in item.evidence or [])
        assert "25-30 μg" in joined and "25 mg" in joined, item.id


# --- dev_consumer (pages built from shared/data/medquad) --------------------------------------------


def test_consumer_page_selection_is_balanced_and_avoids_reserved_topics() -> None:
    """8 conditions, 3-6 pages each from 2+ collections, 30-45 pages, none on a reserved test topic."""
    selection = json.loads(PAGES.read_text(encoding="utf-8"))
    conditions = selection["conditions"]
    assert len(conditions) == 8
    pages = [page for c in conditions for page in c["pages"]]
    assert 30 <= len(pages) <= 45
    assert len({p["id"] for p in pages}) == len(pages)
    for condition in conditions:
        assert 3 <= len(condition["pages"]) <= 6, condition["name"]
        collections = {p["id"].split(":")[1].split("/")[0] for p in condition["pages"]}
        assert len(collections) >= 2, condition["name"]
    names = " ".join([c["name"] for c in conditions] + [p["title"] for p in pages]).casefold()
    assert not [t for t in RESERVED_TOPICS if t in names]


def test_consumer_set_shape_and_counts() -> None:
    items = _items(CONSUMER)
    assert not _shape_problems(items)
    assert sum(i.answerable for i in items) >= 30
    assert sum(not i.answerable for i in items) >= 6
    forms = _counts(items, lambda i: _extra(i, "form"))
    assert forms["yes-no"] >= 3 and forms["multi-part"] >= 3 and forms["list"] >= 3
    # every condition of the selection is asked about
    selection = json.loads(PAGES.read_text(encoding="utf-8"))
    asked = {_extra(i, "condition") for i in items if i.answerable}
    assert {c["name"] for c in selection["conditions"]} <= asked


def test_consumer_set_is_grounded_in_the_built_pages(consumer_corpus: dict[str, str]) -> None:
    assert len(consumer_corpus) == sum(
        len(c["pages"]) for c in json.loads(PAGES.read_text(encoding="utf-8"))["conditions"]
    )
    assert not _grounding_problems(_items(CONSUMER), consumer_corpus)


# --- dev_nih (shared/data/nih_demo_corpus) -----------------------------------------------------------


def test_nih_set_shape_and_counts() -> None:
    items = _items(NIH)
    assert not _shape_problems(items)
    assert len(items) >= 12
    assert sum(not i.answerable for i in items) >= 6
    # blood and nutrition topics other than B12: the seed corpus covers B12
    assert not [i.id for i in items if re.search(r"\bB12\b|cobalamin", i.question, re.IGNORECASE)]


def test_nih_set_is_grounded_in_the_built_documents(nih_corpus: dict[str, str]) -> None:
    assert len(nih_corpus) == 110
    assert not _grounding_problems(_items(NIH), nih_corpus)
