"""The citation check and unit-aware conflict detection (pure functions, no model)."""

from __future__ import annotations

import pytest

from qa_service.answering import clean_statement_text, question_intents
from qa_service.verify import check_support, extract_quantities, find_conflicts, normalise_for_match, statement_supported

STORES_MG = "An infant of a vitamin B12-replete mother has hepatic stores of 25 mg of vitamin B12 at birth."
STORES_UG = "Unlike adults, infants have limited hepatic B12 stores (approximately 25-30 μg at birth) and higher demands."


def test_thousandfold_unit_slip_is_a_conflict() -> None:
    found = find_conflicts([(0, STORES_UG), (1, STORES_MG)])
    assert len(found) == 1
    assert (found[0].a, found[0].b) == (0, 1)
    assert "25-30 μg" in found[0].description and "25 mg" in found[0].description
    assert "1,000-fold" in found[0].description and "unit error" in found[0].description


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Hepatic B12 stores at birth are 1 mg in term infants.", "Hepatic B12 stores at birth are 1000 μg in term infants."),
        ("Hepatic B12 stores at birth are 1 mg in term infants.", "Hepatic B12 stores at birth are 1000 mcg in term infants."),
        ("Initial dosing of vitamin B12 injection: 1 mg intramuscularly", "Initial dosing of vitamin B12 injection: 1000-2000 ug intramuscularly"),
    ],
)
def test_equal_amounts_in_other_units_agree(a: str, b: str) -> None:
    assert find_conflicts([(0, a), (1, b)]) == []


def test_different_subjects_are_not_compared() -> None:
    a = "Hemoglobin was 8.8 g/dL at admission with neutropenia."
    b = "Hepatic B12 stores at birth are about 25 mg in replete mothers' infants."
    assert find_conflicts([(0, a), (1, b)]) == []


def test_two_measured_results_are_observations_not_a_conflict() -> None:
    mother = "However, vitamin B12 levels were decreased at 110 pg/mL (normal range: 200–900 pg/mL)."
    infant = "Serum folate levels were normal, while vitamin B12 was severely decreased at 53 pg/mL (normal range: 200–900 pg/mL)."
    assert find_conflicts([(0, mother), (1, infant)]) == []
    # a claim against a measurement is still compared
    claim = "Vitamin B12 levels are typically 110 pg/mL in deficient mothers."
    assert find_conflicts([(0, claim), (1, infant)]) != []


def test_a_sentence_with_several_times_does_not_conflict_with_one_of_them() -> None:
    a = "Laboratory monitoring: Check vitamin B12 levels at 1 month and 3 months after treatment initiation"
    b = "Response to treatment: Significant improvement in B12 levels can be expected after 1 month of appropriate therapy"
    assert find_conflicts([(0, a), (1, b)]) == []


def test_quantities_parse_ranges_and_unit_spellings() -> None:
    qs = extract_quantities("give 1000-2000 μg, then 1 mg, 0.3 mcg/kg/day for 4-6 months, 0,4 µg per day")
    assert [(q.low, q.high, q.pint_unit) for q in qs] == [
        (1000, 2000, "microgram"), (1, 1, "milligram"), (0.3, 0.3, "microgram / day / kilogram"), (4, 6, "month"),
        (0.4, 0.4, "microgram / day"),
    ]


def test_extractive_statement_is_supported_by_its_sentence() -> None:
    sentence = "around 4-6 months[14], insufficient supply via deficient maternal milk triggers a cascade [15,16]."
    statement = clean_statement_text(sentence)
    assert "[14]" not in statement and statement_supported(statement, [sentence])


def test_unsupported_statements_fail_the_check() -> None:
    evidence = ["Parenteral vitamin B12 therapy was initiated (1 mg three times per week)."]
    assert not statement_supported("Oral vitamin D was given daily.", evidence)
    assert not statement_supported("Parenteral vitamin B12 therapy was initiated (5 mg three times per week).", evidence)
    assert not statement_supported("anything", [])
    # a paraphrase that keeps the facts passes, also across unit spellings
    assert statement_supported("Parenteral B12 therapy of 1000 μg three times per week was initiated.", evidence)


def test_normalisation_for_matching() -> None:
    assert normalise_for_match("25–30 µg  [3]\n at birth") == "25-30 μg at birth"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  • Infants up to 12 months: 0.3 μg/kg/day of cobalamin 1", "Infants up to 12 months: 0.3 μg/kg/day of cobalamin"),
        ("Oral cyanocobalamin has been proven effective in children 2, 3", "Oral cyanocobalamin has been proven effective in children"),
        ("reduced vitamin B12 content in maternal breast milk [7].", "reduced vitamin B12 content in maternal breast milk."),
        ("may cause vitamin B12 deficiency (Aktas et al., 2014).", "may cause vitamin B12 deficiency."),
        ("Children 1-2 years: Transitioning toward 1 μg/day (for older children) 1", "Children 1-2 years: Transitioning toward 1 μg/day (for older children)"),
        ("Treatment lasted 2 weeks.", "Treatment lasted 2 weeks."),
    ],
)
def test_reference_markers_are_dropped_from_statements(raw: str, clean: str) -> None:
    assert clean_statement_text(raw) == clean


def test_question_intents() -> None:
    assert "quantity" in question_intents("What dose of B12 should infants get?")
    assert "time" in question_intents("When do neonatal reserves run out?")
    assert "list" in question_intents("Which groups are at highest risk?")
    assert "duration" in question_intents("How long should oral therapy continue?")


MOTHER_INFANT = ["The mother's serum B12 was 150 pg/mL; the infant's was 53 pg/mL."]


@pytest.mark.parametrize(
    ("statement", "evidence", "reason"),
    [
        # negates its source ("not" is a function word, but it flips the claim)
        ("Oral therapy is not recommended for children with malabsorption.",
         ["Oral therapy is recommended for children with malabsorption."], "negation"),
        ("Oral therapy is recommended for children with malabsorption.",
         ["Oral therapy is not recommended for children with malabsorption."], "negation"),
        # changes a number, or the unit of a number
        ("The starting dose is 2000 μg daily.", ["The starting dose is 1000 μg daily."], "number"),
        ("The starting dose is 1000 mg daily.", ["The starting dose is 1000 μg daily."], "number"),
        ("Recheck after 6 weeks.", ["Recheck after 4 weeks."], "number"),
        # attaches a value to another subject
        ("The infant's serum B12 was 150 pg/mL.", MOTHER_INFANT, "subject"),
        ("The mother's serum B12 was 53 pg/mL.", MOTHER_INFANT, "subject"),
        # says something the source does not
        ("Oral therapy causes seizures in children.", ["Oral therapy is recommended for children."], "says what"),
        ("Oral therapy is recommended.", [], "cites nothing"),
    ],
)
def test_support_check_rejects_with_a_reason(statement: str, evidence: list[str], reason: str) -> None:
    verdict = check_support(statement, evidence)
    assert not verdict.supported
    assert verdict.reason is not None and reason in verdict.reason


@pytest.mark.parametrize(
    ("statement", "evidence"),
    [
        ("The mother's serum B12 was 150 pg/mL.", MOTHER_INFANT),
        ("The infant's serum B12 was 53 pg/mL.", MOTHER_INFANT),
        ("The starting dose is 1 mg daily.", ["The starting dose is 1000 μg daily."]),
        ("A dose of 1500 μg is in the usual range.", ["The usual range is a dose of 1000-2000 μg."]),
        ("Oral therapy is recommended, even though it is not absorbed in the stomach.",
         ["Although it is not absorbed in the stomach, oral therapy is recommended."]),
    ],
)
def test_support_check_accepts_faithful_rewording(statement: str, evidence: list[str]) -> None:
    assert check_support(statement, evidence).supported
