"""Quantities as quiz options: found in source sentences, compared with pint, written back in the source's style.

Parsing and comparison live in :mod:`qa_service.quantities` (the one quantities module, shared
with the citation check and conflicts); this module adds what a quiz also needs: "at 1 month and
3 months" read as one amount, and writing a value back in the style of the key.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

from qa_service.quantities import NUMBER_WORDS, Quantity, base_range, dimension, find_quantities, format_number
from qa_service.quantities import overlaps, same_value

__all__ = [
    "Amount", "base_range", "dimension", "find_amounts", "format_number", "make_amount", "nice", "overlaps",
    "parse_option", "render", "same_value",
]

Amount = Quantity  # a quantity as a quiz option
_WORD_FOR = {v: k for k, v in NUMBER_WORDS.items()}


def find_amounts(text: str) -> list[Amount]:
    """All quantities in ``text`` a quiz can ask about (those pint measures), in order of position.

    >>> [a.surface for a in find_amounts("0.3 μg/kg/day for 2-6 weeks, MCV >100 fL, three weeks")]
    ['0.3 μg/kg/day', '2-6 weeks', '>100 fL', 'three weeks']
    """
    return _pair(text, [q for q in find_quantities(text) if q.pint_unit is not None])


def _pair(text: str, amounts: list[Amount]) -> list[Amount]:
    """ "1 month and 3 months" (two times of one schedule) becomes one amount in the "pair" style."""
    out: list[Amount] = []
    for a in amounts:
        prev = out[-1] if out else None
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


def _unit_for(value: float, unit: str, words: bool) -> str:
    """Singular or plural of a time word ("1 month", "3 months"); symbols stay as they are."""
    m = re.fullmatch(r"(minute|hour|day|week|month|year)s?", unit, re.IGNORECASE)
    if not m:
        return unit
    singular = m.group(1)
    if unit[:1].isupper():
        singular = singular.capitalize()
    return singular if value == 1 else singular + "s"


def render(a: Amount, low: float, high: float | None = None, unit: str | None = None) -> str:
    """Write a value in ``a``'s style (comparator, range style, number words, spacing, unit spelling)."""
    high = low if high is None else high
    unit = a.unit if unit is None else unit

    def num(x: float) -> str:
        if a.words and float(x).is_integer() and int(x) in _WORD_FOR:
            return _WORD_FOR[int(x)]
        return format_number(x)

    if high != low:
        if a.style == "pair":
            return f"{num(low)}{a.space}{_unit_for(low, unit, a.words)} and {num(high)}{a.space}{_unit_for(high, unit, a.words)}"
        if a.style == "between":
            core = f"between {num(low)} and {num(high)}"
        elif a.style == " and ":
            core = f"{num(low)} and {num(high)}"
        else:
            core = f"{num(low)}{a.style}{num(high)}"
        core = f"{core}{a.space or ' '}{_unit_for(high, unit, a.words)}" if unit else core
    else:
        core = f"{num(low)}{a.space}{_unit_for(low, unit, a.words)}" if unit else num(low)
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
