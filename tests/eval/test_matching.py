"""Key facts match across unit spellings and number formats; quotes match after normalisation."""

from __future__ import annotations

import pytest

from eval.matching import fact_stated, normalise_quote, quote_in, source_matches, spans_overlap


@pytest.mark.parametrize(
    ("fact", "text"),
    [
        ("0.3 μg/kg/day", "give 0.3 mcg/kg/day of cobalamin"),
        ("0.3 mcg/kg/day", "give 0.3 µg/kg/day"),  # micro sign U+00B5
        ("0.3 ug/kg/day", "give 0.3 μg / kg / day"),
        ("0.3 μg/kg/day", "give .3 micrograms/kg/day"),
        ("1000 μg", "1,000 μg daily"),
        ("1,000 mcg", "1000μg daily"),
        ("1000-2000 μg", "1000–2000 μg intramuscularly"),  # en-dash
        ("1000–2000 μg", "1000 - 2000 mcg"),
        ("25-30 μg", "approximately 25 to 30 µg"),
        ("50 µmol/L", "homocysteine 50 μmol/L"),
        ("μmol/L", "homocysteine was 50 μmol/L"),
        ("MCV >100 fL", "an mcv > 100 fl"),
        ("Hydroxocobalamin", "HYDROXOCOBALAMIN 1 mg"),
        ("every other day", "then every\n other   day for 2 weeks [3]"),
    ],
)
def test_key_fact_spellings_match(fact: str, text: str) -> None:
    assert fact_stated(fact, text)


@pytest.mark.parametrize(
    ("fact", "text"),
    [
        ("1 μg/day", "then 0.1 μg/day"),  # a longer number is not the fact
        ("100 mg", "1000 mg"),
        ("0.3", "0.35 mg"),
        ("3 months", "1.3 months"),
        ("folate", "methylfolate"),
        ("1 mg", "1 g"),
        ("25 mg", "25 μg"),  # a unit error is not the same fact
        ("", "anything"),
    ],
)
def test_key_fact_near_misses_do_not_match(fact: str, text: str) -> None:
    assert not fact_stated(fact, text)


def test_answer_citation_markers_do_not_glue_onto_facts() -> None:
    assert fact_stated("12 months", "infants up to 12 months[2].")
    assert not fact_stated("2 months", "up to 1 [2] months")


def test_quote_normalisation_drops_reference_markers_and_whitespace() -> None:
    assert normalise_quote("stores  of\n25 mg [14] at birth [15,16].") == "stores of 25 mg at birth."
    assert quote_in(
        "hepatic stores of 25 mg at birth", ["Newborns have hepatic stores of 25 mg [14] at birth."]
    )
    assert quote_in("ﬁve cells", ["about five cells"])  # NFKC folds the ligature
    assert not quote_in("hepatic stores of 30 mg", ["hepatic stores of 25 mg"])
    assert not quote_in("   ", ["anything"])


def test_span_overlap_reads_containment_and_shared_edges() -> None:
    cite = "The infant improved. Serum B12 rose to 900 pg/mL after one month."
    assert spans_overlap(cite, "Serum B12 rose to 900 pg/mL")  # quote inside citation
    assert spans_overlap("B12 rose", "Serum B12 rose to 900 pg/mL")  # citation inside quote
    assert spans_overlap(cite, "after one month. Treatment continued for 4 months")  # shared edge
    assert not spans_overlap(cite, "Folate was normal")
    assert not spans_overlap(cite, "month. Treatment continued")  # one shared word is not an overlap


def test_source_matches_relative_paths() -> None:
    assert source_matches("b12.txt", "b12.txt")
    assert source_matches("guides/b12.txt", "b12.txt")
    assert not source_matches("other-b12.txt", "b12.txt")
    assert source_matches("anything.txt", None)
