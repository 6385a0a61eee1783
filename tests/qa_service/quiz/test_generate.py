"""Items built from the demo corpus: grounded keys, wrong distractors, passed checks, determinism, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from ingest.errors import UsageError
from qa_service.quiz import QuizError, build_quiz
from qa_service.quiz.checks import REQUIRED, states, text_contains
from qa_service.quiz.grammar import check_stem
from qa_service.quiz.quantities import find_amounts, overlaps, parse_option
from qa_service.verify import statement_supported
from tests.qa_service.quiz.conftest import TOPIC


def _numeric(item: Any) -> bool:
    return all(parse_option(o) is not None for o in item.options)


def test_builds_the_items_asked_for(quiz: list[Any]) -> None:
    assert len(quiz) == 10
    assert len({it.id for it in quiz}) == 10
    assert len({it.stem for it in quiz}) == 10
    assert {it.citations[0].source for it in quiz} == {
        "b12-infant-case-report.txt",
        "b12-under-2-treatment-answer.txt",
    }
    # questions where the sentence allows one; a cloze only for list entries and asides
    assert sum(not it.stem.startswith("Which value completes") and "completes the statement" not in it.stem
               for it in quiz) >= 5
    keys = [(it.citations[0].doc_id, it.citations[0].start) for it in quiz]
    assert len(set(keys)) == len(keys)  # no two items test the same sentence
    for it in quiz:
        assert ".txt" not in it.stem  # a source is named by title, never by file name
        assert check_stem(it.stem) is None, it.stem


def test_every_key_is_supported_by_its_citation(quiz: list[Any], corpus_engine: Any) -> None:
    for it in quiz:
        key = it.options[it.answer_index]
        cited = it.citations[0]
        assert cited.id == 1
        assert text_contains(cited.text, key), (it.stem, key, cited.text)
        # the citation is the verbatim document span (contract invariant)
        assert corpus_engine.store.get_document(cited.doc_id).text[cited.start : cited.end] == cited.text
        assert statement_supported(cited.text, [cited.text])
        assert "[1]" in it.rationale and "[1]" in it.option_rationales[it.answer_index]


def test_no_distractor_is_stated_in_the_key_citation(quiz: list[Any]) -> None:
    for it in quiz:
        cited = it.citations[0].text
        distractors = [o for i, o in enumerate(it.options) if i != it.answer_index]
        assert len(distractors) >= 3
        if _numeric(it):
            stated = find_amounts(cited)
            for d in distractors:
                amount = parse_option(d)
                assert amount is not None
                assert not any(states(s, amount) for s in stated), (it.stem, d, cited)
        else:
            for d in distractors:
                assert not text_contains(cited, d), (it.stem, d)


def test_neighbour_distractors_cite_where_the_value_is_stated(quiz: list[Any]) -> None:
    seen = 0
    for it in quiz:
        for i, why in enumerate(it.option_rationales):
            if why.startswith("This value is stated for something else"):
                ref = int(why.rsplit("[", 1)[1].rstrip("].")) - 1
                assert ref > 0, why  # never the key's own citation
                amount = parse_option(it.options[i])
                assert amount is not None
                assert any(overlaps(amount, s) for s in find_amounts(it.citations[ref].text)), (
                    it.options[i],
                    why,
                )
                seen += 1
    assert seen > 0


def test_items_pass_the_item_writing_checks(quiz: list[Any]) -> None:
    for it in quiz:
        assert all(it.checks.get(name) for name in REQUIRED), it.checks
        assert len(it.option_rationales) == len(it.options)
        assert it.stem.endswith("?")
        if _numeric(it):  # numeric options in ascending order
            values = [parse_option(o) for o in it.options]
            assert (
                values == sorted(values, key=lambda a: (a.low, a.high)) or len({a.unit for a in values}) > 1
            )  # type: ignore[union-attr]


def test_items_cover_several_kinds_of_fact(quiz: list[Any]) -> None:
    stems = " ".join(it.stem for it in quiz).lower()
    assert "how many months" in stems or "how many weeks" in stems  # times
    assert "what amount" in stems or "treatment" in stems or "dos" in stems  # doses
    assert any("μg" in " ".join(it.options) for it in quiz)
    keys = [parse_option(it.options[it.answer_index]) for it in quiz]
    assert any(a is not None and a.is_time for a in keys)
    assert any(a is not None and a.is_mass_based for a in keys)


def test_same_seed_same_items(quiz: list[Any], corpus_engine: Any) -> None:
    again = build_quiz(corpus_engine, TOPIC, n=10, seed=0)
    assert [it.model_dump() for it in again] == [it.model_dump() for it in quiz]


def test_another_seed_changes_options_not_facts(quiz: list[Any], corpus_engine: Any) -> None:
    other = build_quiz(corpus_engine, TOPIC, n=10, seed=7)
    assert [it.model_dump() for it in other] != [it.model_dump() for it in quiz]
    for it in other:
        assert text_contains(it.citations[0].text, it.options[it.answer_index])


@pytest.mark.parametrize(
    "topic", ["first-line antibiotics for community-acquired pneumonia", "vitamin D deficiency in infants"]
)
def test_uncovered_topic_gives_no_items(corpus_engine: Any, topic: str) -> None:
    with pytest.raises(QuizError, match="do not cover"):
        build_quiz(corpus_engine, topic, n=5)


@pytest.mark.parametrize("n", [0, 51, -1])
def test_n_out_of_range_is_a_usage_error(corpus_engine: Any, n: int) -> None:
    with pytest.raises(UsageError):
        build_quiz(corpus_engine, TOPIC, n=n)


def test_empty_topic_is_a_usage_error(corpus_engine: Any) -> None:
    with pytest.raises(UsageError, match="topic"):
        build_quiz(corpus_engine, "   ", n=3)
