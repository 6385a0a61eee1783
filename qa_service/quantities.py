"""Quantities in text: one parser on pint for the citation check, conflicts, the composer and the quiz.

``find_quantities`` finds a number or a range ("25–30 μg", "2 to 6 weeks", "between 2 and
12 months", "0,4 µg", "three weeks", ">100 fL") followed by a unit. The unit is whatever
pint can read (μg, mcg, mg/kg/day, g/dL, pg/mL, fL, mmol/L, %, weeks, mmHg, °C, ...) as long as
it measures something a clinical text measures (mass, volume, length, time, amount of substance,
temperature, ratios of those, plain percentages or international units); a word pint does not know
("2 puffs", "3 times") is kept as a count with its noun and no pint unit. There is no list of
units here: pint's registry is the list, and a unit is accepted by what it measures.

Comparison is in base units: 1 mg == 1000 μg, 25–30 μg vs 25 mg differ a thousandfold.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "NUMBER_WORDS",
    "Quantity",
    "base_range",
    "convert",
    "dimension",
    "find_quantities",
    "format_number",
    "numbers_in",
    "overlaps",
    "parse_number",
    "same_value",
    "unit_registry",
]

NUMBER_WORDS: dict[str, int] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
}

# What a clinical quantity may measure (pint base dimensions); gauss, amperes or candelas are misreadings.
_ALLOWED_DIMENSIONS = {"[mass]", "[length]", "[time]", "[substance]", "[temperature]", "[international_unit]"}

# "1,000" and "610,000" (thousands) before "0,4" and "1.5" (decimals, comma or point).
_NUM = r"(?:\d{1,3}(?:,\d{3})+(?![\d,])(?:\.\d+)?|\d+(?:[.,]\d+)?)"
_WORD_NUM = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
_UNIT_WORD = r"(?:[A-Za-zμµ][A-Za-zμµ]*\d?(?:\*\*\d)?)"
_UNIT = (
    rf"(?:%|‰|°\s?[CF]\b|{_UNIT_WORD}(?:\s*/\s*{_UNIT_WORD}){{0,2}}"
    rf"(?:\s+per\s+{_UNIT_WORD}){{0,2}})"
)
_QUANTITY = re.compile(
    rf"(?<![\w.,])(?P<low>{_NUM}|(?i:{_WORD_NUM}))"
    rf"(?:(?P<sep>\s*(?:-|–|—|to)\s*)(?P<high>{_NUM}|(?i:{_WORD_NUM})))?"
    rf"(?P<space>\s*)(?P<unit>{_UNIT})?",
)
_COMPARATOR = re.compile(
    r"(?P<cmp>>|<|≥|≤|>=|<=|more than|less than|greater than|fewer than|longer than|over|above|below|under|"
    r"at least|at most|up to)\s*$",
    re.IGNORECASE,
)
_BETWEEN = re.compile(rf"(?P<between>between\s+)?(?P<low>{_NUM})\s+and\s+$", re.IGNORECASE)


@dataclass(frozen=True)
class Quantity:
    """A value or range found in a text, with its unit as written and as pint reads it.

    ``unit`` is the spelling the source uses ("μg", "pg/mL", "weeks", "puffs"); ``pint_unit`` the
    unit pint understands ("microgram / kilogram / day"), or None for a count of things pint does not
    know ("2 puffs"). ``style`` says how a range is written ("-", "–", " to ", "between", " and "),
    ``words`` whether the number is spelt out, ``space`` what stands between number and unit.
    """

    low: float
    high: float
    unit: str
    pint_unit: str | None
    span: tuple[int, int]
    surface: str
    comparator: str = ""
    words: bool = False
    style: str = "-"
    space: str = " "

    @property
    def is_range(self) -> bool:
        return self.high != self.low

    @property
    def is_time(self) -> bool:
        return dimension(self) == "[time]"

    @property
    def is_mass_based(self) -> bool:
        """A dose or an amount of substance by mass: μg, mg, μg/kg/day, pg/mL, ..."""
        dim = dimension(self) or ""
        return self.pint_unit is not None and "[mass]" in dim and not dim.startswith("1 /")


@lru_cache(maxsize=1)
def unit_registry() -> Any:
    """The one pint registry of the process (building one costs about half a second)."""
    import pint

    ureg = pint.UnitRegistry()
    ureg.define("international_unit = [international_unit] = IU")
    return ureg


def _function_words() -> frozenset[str]:
    """English function words: "in", "a", "at" are not units (pint reads them as inch, annum, ...)."""
    from qa_service.text import function_words

    return function_words()


def parse_number(text: str) -> float | None:
    """"1,000" -> 1000, "0,4" -> 0.4, "1.5" -> 1.5, "three" -> 3; None when it is not a number."""
    t = text.strip().lower()
    if t in NUMBER_WORDS:
        return float(NUMBER_WORDS[t])
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", t):
        return float(t.replace(",", ""))
    if re.fullmatch(r"\d+(?:[.,]\d+)?", t):
        return float(t.replace(",", "."))
    return None


def _pint_expression(unit: str) -> str:
    """A unit as written, made readable for pint: "per day" -> "/day", "m2" -> "m**2", "°C" -> "degC"."""
    expr = re.sub(r"\s+per\s+", "/", unit.strip())
    expr = re.sub(r"\s*/\s*", "/", expr)
    expr = re.sub(r"°\s?([CF])", r"deg\1", expr)
    expr = re.sub(r"(?<=[A-Za-z])([23])\b", r"**\1", expr)
    return expr.replace("‰", "permille")


@lru_cache(maxsize=4096)
def _read_unit(unit: str) -> tuple[str, str] | None:
    """(pint unit, dimensionality) when pint reads ``unit`` as something clinical texts measure."""
    if unit.lower() in _function_words():
        return None
    try:
        q = unit_registry().Quantity(1.0, _pint_expression(unit))
    except Exception:  # noqa: BLE001 - pint raises several unrelated types for text it cannot read
        return None
    dims = dict(q.dimensionality)
    if any(d not in _ALLOWED_DIMENSIONS or not float(e).is_integer() for d, e in dims.items()):
        return None
    return str(q.units), str(q.dimensionality)


def _unit_prefixes(unit: str) -> list[str]:
    """The unit and its shorter readings, longest first ("mg/kg/day", "mg/kg", "mg")."""
    parts = re.split(r"(\s*/\s*|\s+per\s+)", unit)
    out = []
    for n in range(len(parts), 0, -2):
        out.append("".join(parts[:n]).strip())
    return out


def find_quantities(text: str) -> list[Quantity]:
    """Every quantity of ``text`` with a unit or a counted noun, in order of position.

    >>> [q.surface for q in find_quantities("0.3 μg/kg/day for 2-6 weeks, MCV >100 fL, three weeks, 2 puffs")]
    ['0.3 μg/kg/day', '2-6 weeks', '>100 fL', 'three weeks', '2 puffs']
    """
    found: list[Quantity] = []
    for m in _QUANTITY.finditer(text):
        raw_unit = m.group("unit")
        if not raw_unit:
            continue
        low = parse_number(m.group("low"))
        high = parse_number(m.group("high")) if m.group("high") else low
        if low is None or high is None:
            continue
        words = m.group("low").lower() in NUMBER_WORDS
        if words and m.group("space") == "":
            continue
        unit, pint_unit = "", None
        for candidate in _unit_prefixes(raw_unit):
            read = _read_unit(candidate)
            if read is not None:
                unit, pint_unit = candidate, read[0]
                break
        if pint_unit is None:
            first = re.match(r"[A-Za-z]+", raw_unit)
            noun = first.group(0) if first else ""
            if not noun or noun.lower() in _function_words() or len(noun) < 3 or words and not noun.islower():
                continue
            unit = noun
        if words and pint_unit is None:
            continue  # "one patient", "two groups": spelt-out counts are prose, not quantities
        end = m.start("unit") + len(unit) if unit else m.end("low")
        start = m.start()
        sep = m.group("sep") or ""
        style = "–" if "–" in sep else " to " if "to" in sep else "—" if "—" in sep else "-"
        found.append(
            Quantity(
                low=low, high=max(low, high), unit=unit, pint_unit=pint_unit, span=(start, end),
                surface=text[start:end], words=words, style=style if words is False else " to ",
                space=m.group("space"),
            )
        )
    return [_widen(text, q) for q in found]


def _widen(text: str, q: Quantity) -> Quantity:
    """Take in "between 2 and" before "12 months" and a comparator (">", "more than") before the number."""
    from dataclasses import replace

    before = text[: q.span[0]]
    m = _BETWEEN.search(before)
    if m and not q.is_range:
        low = parse_number(m.group("low"))
        if low is not None and low < q.low:
            start = m.start()
            q = replace(
                q, low=low, span=(start, q.span[1]), surface=text[start : q.span[1]],
                style="between" if m.group("between") else " and ",
            )
            before = text[:start]
    c = _COMPARATOR.search(before)
    if c:
        q = replace(q, comparator=c.group("cmp"), span=(c.start(), q.span[1]), surface=text[c.start() : q.span[1]])
    return q


@lru_cache(maxsize=4096)
def _base_factor(pint_unit: str) -> tuple[str, float] | None:
    """(dimensionality, factor to base units) of a pint unit."""
    try:
        q = unit_registry().Quantity(1.0, pint_unit).to_base_units()
    except Exception:  # noqa: BLE001
        return None
    return str(q.dimensionality), float(q.magnitude)


def dimension(q: Quantity) -> str | None:
    """What the quantity measures: equal for μg and mg, different for μg and μg/kg/day; "count:<noun>" for counts."""
    if q.pint_unit is None:
        return f"count:{q.unit.lower().rstrip('s')}" if q.unit else None
    base = _base_factor(q.pint_unit)
    return base[0] if base else None


def base_range(q: Quantity) -> tuple[float, float] | None:
    """(low, high) in base units (counts: as written)."""
    if q.pint_unit is None:
        return (q.low, q.high) if q.unit else None
    if "degree" in q.pint_unit:  # offset units: convert values, not factors
        lo, hi = convert(q.low, q.pint_unit, "kelvin"), convert(q.high, q.pint_unit, "kelvin")
        return None if lo is None or hi is None else (lo, hi)
    base = _base_factor(q.pint_unit)
    if base is None:
        return None
    return q.low * base[1], q.high * base[1]


def same_value(a: Quantity, b: Quantity, tolerance: float = 1e-6) -> bool:
    """Equal after unit conversion (1 mg == 1000 μg) and of the same dimension."""
    ra, rb = base_range(a), base_range(b)
    if ra is None or rb is None or dimension(a) != dimension(b):
        return False
    return math.isclose(ra[0], rb[0], rel_tol=tolerance) and math.isclose(ra[1], rb[1], rel_tol=tolerance)


def overlaps(a: Quantity, b: Quantity) -> bool:
    """Same dimension and overlapping ranges after unit conversion."""
    ra, rb = base_range(a), base_range(b)
    if ra is None or rb is None or dimension(a) != dimension(b):
        return False
    return ra[0] <= rb[1] * 1.0001 and rb[0] <= ra[1] * 1.0001


def within(a: Quantity, b: Quantity) -> bool:
    """``a``'s values lie inside ``b``'s range after conversion (a dose of 1 mg within "1000-2000 μg")."""
    ra, rb = base_range(a), base_range(b)
    if ra is None or rb is None or dimension(a) != dimension(b):
        return False
    return rb[0] * 0.9999 <= ra[0] and ra[1] <= rb[1] * 1.0001


@lru_cache(maxsize=8192)
def convert(value: float, unit: str, to: str) -> float | None:
    """``value`` in ``unit`` expressed in ``to``; None when the units are incompatible or unknown."""
    try:
        return float(unit_registry().Quantity(value, _pint_expression(unit)).to(_pint_expression(to)).magnitude)
    except Exception:  # noqa: BLE001
        return None


def format_number(x: float) -> str:
    """A number as a person writes it: no trailing zeros, no exponent."""
    if abs(x - round(x)) < 1e-9:
        return str(round(x))
    return f"{x:.6f}".rstrip("0").rstrip(".")


def numbers_in(text: str) -> set[float]:
    """Every number the text states, digits or words ("1,000", "0.3", "three"), as floats."""
    out: set[float] = set()
    for m in re.finditer(rf"(?<![\w.,]){_NUM}|\b(?i:{_WORD_NUM})\b", text):
        value = parse_number(m.group(0))
        if value is not None:
            out.add(value)
    return out
