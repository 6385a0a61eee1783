"""Quantities as a quiz sees them: found, compared across units, rewritten in the source's style."""

from __future__ import annotations

import pytest

from qa_service.quiz.quantities import find_amounts, make_amount, overlaps, parse_option, render, same_value


@pytest.mark.parametrize(
    ("text", "surfaces"),
    [
        ("0.3 μg/kg/day of cobalamin", ["0.3 μg/kg/day"]),
        ("Initial dosing: 1000-2000 μg intramuscularly", ["1000-2000 μg"]),
        ("MCV >100 fL and serum B12 (<200 pg/mL)", [">100 fL", "<200 pg/mL"]),
        ("anaemia resolved within three weeks", ["three weeks"]),
        ("apparent between 2 and 12 months of age", ["between 2 and 12 months"]),
        ("at 1 month and 3 months after treatment", ["1 month and 3 months"]),
        ("left untreated for more than 3 months", ["more than 3 months"]),
        ("homocysteine 48.3 µmol/L, ileal resection >20 cm", ["48.3 µmol/L", ">20 cm"]),
        ("persistent neutropenia (0.9 G/L)", []),  # giga-cells per litre, not grams
    ],
)
def test_find_amounts(text: str, surfaces: list[str]) -> None:
    assert [a.surface for a in find_amounts(text)] == surfaces


def test_units_are_compared_after_conversion() -> None:
    one_mg, thousand_ug, range_ug = (parse_option(t) for t in ("1 mg", "1000 μg", "1000-2000 mcg"))
    assert one_mg and thousand_ug and range_ug
    assert same_value(one_mg, thousand_ug)
    assert overlaps(one_mg, range_ug)
    assert not same_value(parse_option("25 mg"), parse_option("25-30 μg"))  # type: ignore[arg-type]
    assert not overlaps(parse_option("1 mg"), parse_option("1 week"))  # type: ignore[arg-type]


def test_render_keeps_the_source_style() -> None:
    words = find_amounts("within three weeks")[0]
    assert render(words, 6) == "six weeks"
    between = find_amounts("between 2 and 12 months")[0]
    assert render(between, 4, 24) == "between 4 and 24 months"
    threshold = find_amounts("MCV >100 fL")[0]
    assert make_amount(threshold, 90).surface == ">90 fL"
    pair = find_amounts("at 1 month and 3 months")[0]
    assert render(pair, 2, 6) == "2 months and 6 months"
    assert render(find_amounts("0.3 μg/kg/day")[0], 0.3, unit="mg/kg/day") == "0.3 mg/kg/day"


def test_a_ratio_is_not_read_as_its_second_number_and_a_range_may_repeat_its_unit() -> None:
    assert find_amounts("keep their blood pressure below 130/80 mmHg") == []
    (a,) = find_amounts("Approximately 10 percent to 33 percent of people have it")
    assert (a.low, a.high, a.surface) == (10.0, 33.0, "10 percent to 33 percent")
    assert make_amount(a, 5, 20).surface == "5 to 20 percent"


def test_written_values_keep_number_and_unit_in_agreement() -> None:
    (a,) = find_amounts("Height loss of one inch or more")
    assert make_amount(a, 2).surface == "two inches" and make_amount(a, 1.5).surface == "1.5 inches"
    (b,) = find_amounts("about 5 percent of cases")
    assert make_amount(b, 15).surface == "15 percent"
