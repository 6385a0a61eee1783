"""Item-writing checks catch the flaws item-writing guides warn about."""

from __future__ import annotations

from qa_service.quiz.checks import passed, run_checks, text_contains

CITATION = "Infants up to 12 months: 0.3 μg/kg/day of cobalamin"
GOOD = ["0.03 μg/kg/day", "0.3 μg/kg/day", "3 μg/kg/day", "0.3 mg/kg/day"]
STEM = "According to the guideline, what dose of cobalamin is recommended for infants up to 12 months?"


def test_a_well_formed_item_passes_every_check() -> None:
    checks = run_checks(STEM, GOOD, 1, CITATION)
    assert passed(checks), checks


def test_all_or_none_of_the_above_fails() -> None:
    checks = run_checks(
        STEM, ["0.03 μg/kg/day", "0.3 μg/kg/day", "3 μg/kg/day", "None of the above"], 1, CITATION
    )
    assert not checks["no_all_or_none_of_the_above"]
    assert not checks["options_homogeneous"]


def test_negative_stems_need_capitals_and_the_flag() -> None:
    negative = "Which dose is not recommended for infants?"
    assert not run_checks(negative, GOOD, 1, CITATION)["positive_stem"]
    marked = "Which dose is NOT recommended for infants?"
    assert not run_checks(marked, GOOD, 1, CITATION)["positive_stem"]
    checks = run_checks(marked, GOOD, 1, CITATION, negative_marked=True)
    assert checks["positive_stem"] and checks["negative_stem_marked"]


def test_length_and_grammatical_cues() -> None:
    long_key = [
        "Folate",
        "Iron",
        "Ferritin",
        "Transaminases elevated to three times the upper limit of normal",
    ]
    checks = run_checks(
        "Which was abnormal?",
        long_key,
        3,
        "transaminases elevated to three times the upper limit of normal",
        numeric=False,
    )
    assert not checks["no_length_cue"] and not checks["similar_length"]
    assert not run_checks("The infant's anaemia was an", GOOD, 1, CITATION)["no_grammatical_cue"]
    assert not run_checks(STEM, ["a folate", "iron", "ferritin", "urea"], 1, "iron", numeric=False)[
        "no_grammatical_cue"
    ]


def test_acronyms_count_as_the_words_they_stand_for() -> None:
    options = [
        "Helicobacter pylori",
        "ANCA",
        "Anti-intrinsic factor antibodies",
        "Anti-parietal cell antibodies",
    ]
    assert run_checks(
        "Which test was positive?", options, 0, "Helicobacter pylori testing was positive.", numeric=False
    )["similar_length"]


def test_key_grounding_and_distractors_in_the_citation() -> None:
    assert text_contains("peak levels within 1 hour", "1 hour")
    assert text_contains("1000 μg daily", "1000 mcg")  # unit spellings are equivalent
    stated = run_checks(STEM, ["0.3 μg/kg/day", "12 months", "1 μg/kg/day", "3 μg/kg/day"], 0, CITATION)
    assert not stated["options_homogeneous"] and not stated["distractors_not_in_citation"]
    wrong_key = run_checks(STEM, GOOD, 0, CITATION)
    assert not wrong_key["key_in_citation"]
    mixed_units = run_checks(
        STEM, ["300 ng/kg/day", "0.3 μg/kg/day", "3 μg/kg/day", "30 μg/kg/day"], 1, CITATION
    )
    assert not mixed_units["options_distinct"]  # 300 ng is 0.3 μg
