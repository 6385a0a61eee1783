"""The gold question sets in eval/gold/ are well formed and grounded in corpus/.

Pure file checks: no model, no store, no eval harness. A gold set whose quotes are not
verbatim, or whose key facts are not in its quotes, silently corrupts every metric that
`medcite eval` reports, so these checks guard the data itself.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "corpus"
GOLD = REPO / "eval" / "gold"
TEST_SET = GOLD / "corpus.jsonl"
DEV_SET = GOLD / "dev_unanswerable.jsonl"

_WHITESPACE = re.compile(r"\s+")
# μg, µg (micro sign), mcg and ug name the same unit (CONTRACT, "Gold set"); a letter
# either side means a word ("drug"), not a unit.
_MICROGRAM = re.compile(r"(?<![a-z])(?:μg|mcg|ug)(?![a-z])", re.IGNORECASE)


class Evidence(BaseModel):
    """One gold quote; `source` is a file name in corpus/."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1)
    quote: str = Field(min_length=1)


class GoldLine(BaseModel):
    """One line of a gold set (CONTRACT "Gold set"; extra fields such as `conflict` allowed)."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1)
    question: str = Field(min_length=1, max_length=2000)
    answerable: bool = True
    reference_answer: str | None = None
    key_facts: list[str] | None = None
    evidence: list[Evidence] | None = None
    conflict: bool = False
    absent_terms: list[str] | None = None


def _ws(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def _fact_form(text: str) -> str:
    """Whitespace-normalised, case-folded, with every microgram spelling made one."""
    return _MICROGRAM.sub("μg", _ws(text).replace("\u00b5", "\u03bc")).casefold()


@cache
def _corpus_text(name: str) -> str:
    return _ws((CORPUS / name).read_text(encoding="utf-8"))


def _load(path: Path) -> list[tuple[int, GoldLine]]:
    """Parse a gold file; fail naming the line that does not parse or validate."""
    rows: list[tuple[int, GoldLine]] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            pytest.fail(f"{path.name}:{number}: blank line")
        try:
            rows.append((number, GoldLine.model_validate(json.loads(raw))))
        except (json.JSONDecodeError, ValidationError) as exc:
            pytest.fail(f"{path.name}:{number}: {exc}")
    return rows


@pytest.fixture(scope="module")
def test_set() -> list[tuple[int, GoldLine]]:
    return _load(TEST_SET)


@pytest.fixture(scope="module")
def dev_set() -> list[tuple[int, GoldLine]]:
    return _load(DEV_SET)


@pytest.fixture(scope="module")
def both(test_set: list[tuple[int, GoldLine]], dev_set: list[tuple[int, GoldLine]]) -> list[GoldLine]:
    return [line for _, line in test_set + dev_set]


def test_ids_unique_across_both_files(both: list[GoldLine]) -> None:
    duplicates = [i for i, n in Counter(line.id for line in both).items() if n > 1]
    assert not duplicates


def test_questions_unique_across_both_files(both: list[GoldLine]) -> None:
    duplicates = [q for q, n in Counter(_fact_form(line.question) for line in both).items() if n > 1]
    assert not duplicates


def test_ids_follow_the_file_prefix(
    test_set: list[tuple[int, GoldLine]], dev_set: list[tuple[int, GoldLine]]
) -> None:
    assert all(re.fullmatch(r"corpus-\d{3}", line.id) for _, line in test_set)
    assert all(re.fullmatch(r"dev-unans-\d{3}", line.id) for _, line in dev_set)


def test_counts(test_set: list[tuple[int, GoldLine]], dev_set: list[tuple[int, GoldLine]]) -> None:
    lines = [line for _, line in test_set]
    assert len(lines) >= 40
    assert sum(not line.answerable for line in lines) >= 8
    assert sum(line.conflict for line in lines) >= 2
    assert len(dev_set) == 15
    assert all(not line.answerable for _, line in dev_set)


def test_unanswerable_lines_have_no_evidence_or_key_facts(both: list[GoldLine]) -> None:
    offenders = [line.id for line in both if not line.answerable and (line.evidence or line.key_facts)]
    assert not offenders


def test_unanswerable_topics_are_absent_from_the_corpus(both: list[GoldLine]) -> None:
    """Each unanswerable line names the terms a supporting passage would need; none may occur."""
    corpus = " ".join(_corpus_text(p.name) for p in sorted(CORPUS.iterdir())).casefold()
    problems: list[str] = []
    for line in (line for line in both if not line.answerable):
        if not line.absent_terms:
            problems.append(f"{line.id}: no absent_terms")
        problems += [
            f"{line.id}: {t!r} is in corpus/" for t in line.absent_terms or [] if t.casefold() in corpus
        ]
    assert not problems


def test_answerable_lines_have_evidence_and_short_key_facts(test_set: list[tuple[int, GoldLine]]) -> None:
    problems: list[str] = []
    for number, line in test_set:
        if not line.answerable:
            continue
        if not line.evidence:
            problems.append(f"line {number} ({line.id}): no evidence")
        if not line.key_facts or not 1 <= len(line.key_facts) <= 4:
            problems.append(f"line {number} ({line.id}): needs 1-4 key facts")
        problems += [f"line {number}: key fact too long: {f!r}" for f in line.key_facts or [] if len(f) > 60]
    assert not problems


def test_every_quote_is_verbatim_in_its_source(both: list[GoldLine]) -> None:
    """Only whitespace runs are normalised: a changed dash, quote mark or μ is a failure."""
    known = {p.name for p in CORPUS.iterdir() if p.is_file()}
    problems: list[str] = []
    for line in both:
        for ev in line.evidence or []:
            if ev.source not in known:
                problems.append(f"{line.id}: unknown source {ev.source!r}")
            elif _ws(ev.quote) not in _corpus_text(ev.source):
                problems.append(f"{line.id}: not verbatim in {ev.source}: {ev.quote!r}")
    assert not problems


def test_every_key_fact_is_in_one_of_its_quotes(both: list[GoldLine]) -> None:
    problems: list[str] = []
    for line in (line for line in both if line.answerable):
        quotes = [_fact_form(ev.quote) for ev in line.evidence or []]
        problems += [
            f"{line.id}: {fact!r} in none of its quotes"
            for fact in line.key_facts or []
            if not any(_fact_form(fact) in quote for quote in quotes)
        ]
    assert not problems


def test_conflict_lines_cite_both_newborn_store_figures(test_set: list[tuple[int, GoldLine]]) -> None:
    """The corpus gives newborn hepatic B12 stores as both ~25-30 μg and 25 mg."""
    conflicts = [line for _, line in test_set if line.conflict]
    assert conflicts
    for line in conflicts:
        assert line.answerable and line.evidence and len(line.evidence) >= 2, line.id
        joined = " ".join(_fact_form(ev.quote) for ev in line.evidence)
        assert "25-30 μg" in joined and "25 mg" in joined, line.id


def test_fact_form_treats_unit_spellings_alike() -> None:
    """The unit folding the key-fact check relies on (and nothing more)."""
    assert _fact_form("1000 mcg") == _fact_form("1000 μg") == _fact_form("1000  UG") == _fact_form("1000 µg")
    assert _fact_form("25 mg") != _fact_form("25 μg")
    assert _fact_form("48.3 µmol/L") == _fact_form("48.3 μmol/L")
    assert _fact_form("drug") == "drug"  # "ug" inside a word is not a unit
