"""Quantities as quiz options: found in source sentences, compared with pint, written back in the source's style.

Parsing and comparison live in :mod:`qa_service.quantities` (the one quantities module, shared
with the citation check and conflicts); this module adds what a quiz also needs: "at 1 month and
3 months" read as one amount, and writing a value back in the style of the key.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

from qa_service.quantities import (
    NUMBER_WORDS,
    Quantity,
    base_range,
    dimension,
    find_quantities,
    format_number,
    overlaps,
    same_value,
)

__all__ = [
    "Amount",
    "base_range",
    "dimension",
    "find_amounts",
    "format_number",
    "make_amount",
    "nice",
    "overlaps",
    "parse_option",
    "possible",
    "render",
    "same_value",
]

Amount = Quantity  # a quantity as a quiz option
_WORD_FOR = {v: k for k, v in NUMBER_WORDS.items()}


def find_amounts(text: str) -> list[Amount]:
    """All quantities in ``text`` a quiz can ask about (those pint measures), in order of position.

    >>> [a.surface for a in find_amounts("0.3 μg/kg/day for 2-6 weeks, MCV >100 fL, three weeks")]
    ['0.3 μg/kg/day', '2-6 weeks', '>100 fL', 'three weeks']
    """
    found = [q for q in find_quantities(text) if q.pint_unit is not None and not _ratio_part(text, q)]
    return _pair(text, found)


def _ratio_part(text: str, a: Amount) -> bool:
    """The second number of a ratio ("130/80 mmHg"): the unit belongs to both numbers, so neither
    alone is what the source states."""
    return re.search(r"\d\s*/\s*$", text[: a.span[0]]) is not None


def _pair(text: str, amounts: list[Amount]) -> list[Amount]:
    """ "1 month and 3 months" (two times of one schedule) becomes one amount in the "pair" style;
    "10 percent to 33 percent" (a range with its unit written twice) becomes one range."""
    out: list[Amount] = []
    for a in amounts:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.pint_unit == a.pint_unit
            and not prev.is_range
            and not a.is_range
            and not a.comparator
            and re.fullmatch(r"\s*(?:to|-|–)\s*", text[prev.span[1] : a.span[0]])
            and a.low > prev.low
        ):
            out[-1] = replace(
                prev,
                high=a.high,
                span=(prev.span[0], a.span[1]),
                surface=text[prev.span[0] : a.span[1]],
                style=" to ",
            )
            continue
        if (
            prev is not None
            and prev.pint_unit == a.pint_unit
            and not prev.is_range
            and not a.is_range
            and not prev.comparator
            and not a.comparator
            and re.fullmatch(r"\s+and\s+", text[prev.span[1] : a.span[0]])
            and a.low > prev.low
        ):
            out[-1] = replace(
                prev,
                high=a.high,
                span=(prev.span[0], a.span[1]),
                surface=text[prev.span[0] : a.span[1]],
                style="pair",
            )
            continue
        out.append(a)
    return out


# ------------------------------------------------------------------ writing


def _unit_for(value: float, unit: str, words: bool, countable: bool = True) -> str:
    """Singular or plural of a time word ("1 month", "3 months"); symbols stay as they are."""
    m = re.fullmatch(r"(minute|hour|day|week|month|year)s?", unit, re.IGNORECASE)
    if not m:
        if countable and unit.isalpha() and unit.islower() and len(unit) > 2 and value != 1:
            from qa_service.quiz.nlp import plural

            return plural(unit)  # "1.5 inches"
        return unit
    singular = m.group(1)
    if unit[:1].isupper():
        singular = singular.capitalize()
    return singular if value == 1 else singular + "s"


def render(a: Amount, low: float, high: float | None = None, unit: str | None = None) -> str:
    """Write a value in ``a``'s style (comparator, range style, number words, spacing, unit spelling)."""
    high = low if high is None else high
    unit = a.unit if unit is None else unit
    countable = a.pint_unit not in {"percent", "permille"}

    def num(x: float) -> str:
        if a.words and float(x).is_integer() and int(x) in _WORD_FOR:
            return _WORD_FOR[int(x)]
        return format_number(x)

    if high != low:
        if a.style == "pair":
            first = f"{num(low)}{a.space}{_unit_for(low, unit, a.words, countable)}"
            return f"{first} and {num(high)}{a.space}{_unit_for(high, unit, a.words, countable)}"
        if a.style == "between":
            core = f"between {num(low)} and {num(high)}"
        elif a.style == " and ":
            core = f"{num(low)} and {num(high)}"
        else:
            core = f"{num(low)}{a.style}{num(high)}"
        core = f"{core}{a.space or ' '}{_unit_for(high, unit, a.words, countable)}" if unit else core
    else:
        core = f"{num(low)}{a.space}{_unit_for(low, unit, a.words, countable)}" if unit else num(low)
    if a.comparator:
        sep = "" if a.comparator in "<>≥≤" else " "
        core = f"{a.comparator}{sep}{core}"
    return core


def make_amount(
    template: Amount,
    low: float,
    high: float | None = None,
    unit: str | None = None,
    pint_unit: str | None = None,
) -> Amount:
    """A new amount written like ``template`` (used for distractors)."""
    high = low if high is None else high
    text = render(template, low, high, unit)
    return replace(
        template,
        low=low,
        high=high,
        unit=template.unit if unit is None else unit,
        pint_unit=template.pint_unit if pint_unit is None else pint_unit,
        surface=text,
        span=(0, len(text)),
    )


def parse_option(text: str) -> Amount | None:
    """The single amount an option states, or None when the option is not one quantity."""
    found = find_amounts(text)
    if len(found) != 1:
        return None
    return found[0]


def nice(x: float) -> float:
    """Round to two significant figures (a value a source would plausibly state)."""
    if x <= 0:
        return x
    digits = 1 - math.floor(math.log10(x))
    return round(x, digits)


def possible(option: Amount, key: Amount) -> bool:
    """Whether a wrong value could be true at all: no negative amount, no share above 100% (unless the key
    is one), no fractional count of things."""
    if option.low < 0 or option.high < 0:
        return False
    if option.pint_unit in {"percent", "permille"}:
        limit = 100.0 if option.pint_unit == "percent" else 1000.0
        if option.high > limit and key.high <= limit:
            return False
    whole = float(option.low).is_integer() and float(option.high).is_integer()
    return not (option.pint_unit is None and option.unit and not whole)
