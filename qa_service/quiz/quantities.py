"""Quantities as quiz options: found in source sentences, compared with pint, written back in the source's style.

Mass and time quantities come from :func:`qa_service.verify.extract_quantities`
(the same parser the citation check uses); this module adds what a quiz also
needs: laboratory units it does not parse (fL, µmol/L, cm, %), numbers written
as words ("three weeks"), "between 2 and 12 months", comparators (">100 fL",
"more than 3 months"), and pairs ("at 1 month and 3 months").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from qa_service.verify import extract_quantities

NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fourteen": 14,
    "fifteen": 15,
    "eighteen": 18,
    "twenty": 20,
    "thirty": 30,
}
_WORD_FOR = {v: k for k, v in NUMBER_WORDS.items()}

# Units ``extract_quantities`` leaves out, written as pint understands them.
_EXTRA_UNITS: dict[str, str] = {
    "fl": "femtoliter",
    "μmol/l": "micromole / liter",
    "µmol/l": "micromole / liter",
    "umol/l": "micromole / liter",
    "mmol/l": "millimole / liter",
    "nmol/l": "nanomole / liter",
    "pmol/l": "picomole / liter",
    "cm": "centimeter",
    "mm": "millimeter",
    "%": "percent",
    "iu": "IU",
    "units": "IU",
}
_PER_ALIASES = {
    "kg": "kilogram",
    "g": "gram",
    "d": "day",
    "day": "day",
    "week": "week",
    "h": "hour",
    "hour": "hour",
    "ml": "milliliter",
    "dl": "deciliter",
    "l": "liter",
}
_TIME_UNITS = {"minute", "hour", "day", "week", "month", "year"}
_NUM = r"\d+(?:\.\d+)?"
_EXTRA = re.compile(
    rf"(?P<low>{_NUM})(?:\s*(?:-|–|to)\s*(?P<high>{_NUM}))?(?P<space>\s*)"
    r"(?P<unit>fL|[μµu]mol/L|mmol/L|nmol/L|pmol/L|cm|mm|%|IU|units)(?![\w/])",
)
_WORDS = re.compile(
    r"\b(?P<low>"
    + "|".join(NUMBER_WORDS)
    + r")(?:\s*(?:-|–|to|or)\s*(?P<high>"
    + "|".join(NUMBER_WORDS)
    + r"))?"
    r"(?P<space>\s+)(?P<unit>minutes?|hours?|days?|weeks?|months?|years?)\b",
    re.IGNORECASE,
)
_COMPARATOR = re.compile(
    r"(?P<cmp>>|<|≥|≤|more than|less than|greater than|longer than|over|above|below|under|at least|up to)\s*$",
    re.IGNORECASE,
)
_BETWEEN = re.compile(rf"(?P<between>between\s+)?(?P<low>{_NUM})\s+and\s+$", re.IGNORECASE)


@dataclass(frozen=True)
class Amount:
    """A value or range with a unit, as written in a sentence.

    ``unit`` is the spelling the source uses ("μg", "pg/mL", "weeks"); ``pint_unit``
    what pint understands; ``style`` how a range is written ("-", "–", " to ",
    "between"), so options built from the amount look like the key.
    """

    low: float
    high: float
    unit: str
    pint_unit: str
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
        return self.pint_unit in _TIME_UNITS

    @property
    def is_mass_based(self) -> bool:
        """A dose or amount of substance: μg, mg, μg/kg/day, pg/mL ..."""
        return self.pint_unit.split(" ")[0] in {
            "microgram",
            "milligram",
            "gram",
            "nanogram",
            "picogram",
            "kilogram",
        }


def _ureg() -> Any:
    # The citation check's registry: building a pint UnitRegistry costs seconds, so the process keeps one.
    from qa_service.verify import unit_registry as verify_registry

    return verify_registry()


@lru_cache(maxsize=256)
def _base_factor(pint_unit: str) -> tuple[str, float] | None:
    """(dimensionality, factor to base units) of a unit expression, or None for units pint does not know."""
    if pint_unit == "IU":
        return ("IU", 1.0)
    try:
        q = _ureg().Quantity(1.0, pint_unit).to_base_units()
    except Exception:  # noqa: BLE001 - pint raises several unrelated types for unknown units
        return None
    return (str(q.dimensionality), float(q.magnitude))


def dimension(a: Amount) -> str | None:
    """What the amount measures (pint dimensionality): equal for μg and mg, different for μg and μg/kg/day."""
    base = _base_factor(a.pint_unit)
    return base[0] if base else None


def base_range(a: Amount) -> tuple[float, float] | None:
    """The amount's (low, high) in base units."""
    base = _base_factor(a.pint_unit)
    if base is None:
        return None
    return (a.low * base[1], a.high * base[1])


def same_value(a: Amount, b: Amount, tolerance: float = 1e-6) -> bool:
    """Equal after unit conversion (1 mg == 1000 μg) and of the same dimension."""
    ra, rb = base_range(a), base_range(b)
    if ra is None or rb is None or dimension(a) != dimension(b):
        return False
    return math.isclose(ra[0], rb[0], rel_tol=tolerance) and math.isclose(ra[1], rb[1], rel_tol=tolerance)


def overlaps(a: Amount, b: Amount) -> bool:
    """Same dimension and overlapping ranges after unit conversion."""
    ra, rb = base_range(a), base_range(b)
    if ra is None or rb is None or dimension(a) != dimension(b):
        return False
    return ra[0] <= rb[1] * 1.0001 and rb[0] <= ra[1] * 1.0001


def _pint_unit_from_verify(unit_key: str, per: str) -> str:
    parts = [unit_key]
    for p in [x for x in per.split("/") if x]:
        alias = _PER_ALIASES.get(p.lower())
        if alias is None:
            return ""
        parts.append(alias)
    return " / ".join(parts)


def _display_unit(surface: str) -> tuple[str, str]:
    """(space between number and unit, unit as written) of a verify ``Quantity`` surface."""
    m = re.match(rf"^{_NUM}(?:\s*(?:-|–|to)\s*{_NUM})?(\s*)(.+)$", surface)
    return (m.group(1), m.group(2).strip()) if m else (" ", surface)


def _range_style(surface: str) -> str:
    if "–" in surface:
        return "–"
    if re.search(r"\dto\d|\d\s+to\s+\d", surface):
        return " to "
    return "-"


def find_amounts(text: str) -> list[Amount]:
    """All quantities in ``text`` a quiz can ask about, in order of position.

    >>> [a.surface for a in find_amounts("0.3 μg/kg/day for 2-6 weeks, MCV >100 fL, three weeks")]
    ['0.3 μg/kg/day', '2-6 weeks', '>100 fL', 'three weeks']
    """
    found: list[Amount] = []
    for q in extract_quantities(text):
        space, unit = _display_unit(q.surface)
        if unit[:1] == "G" and unit.upper().startswith("G/"):
            continue  # "0.9 G/L" is giga (cells) per litre, not grams
        pint_unit = _pint_unit_from_verify(q.unit_key, q.per)
        if not pint_unit:
            continue
        found.append(
            Amount(
                q.low, q.high, unit, pint_unit, q.span, q.surface, style=_range_style(q.surface), space=space
            )
        )
    for m in _EXTRA.finditer(text):
        if any(a.span[0] < m.end() and m.start() < a.span[1] for a in found):
            continue
        low = float(m.group("low"))
        high = float(m.group("high")) if m.group("high") else low
        unit = m.group("unit")
        found.append(
            Amount(
                low,
                max(low, high),
                unit,
                _EXTRA_UNITS[unit.lower()],
                m.span(),
                m.group(0),
                style=_range_style(m.group(0)),
                space=m.group("space"),
            )
        )
    for m in _WORDS.finditer(text):
        if any(a.span[0] < m.end() and m.start() < a.span[1] for a in found):
            continue
        low = float(NUMBER_WORDS[m.group("low").lower()])
        high = float(NUMBER_WORDS[m.group("high").lower()]) if m.group("high") else low
        unit = m.group("unit")
        key = unit.lower().rstrip("s")
        found.append(Amount(low, max(low, high), unit, key, m.span(), m.group(0), words=True, style=" to "))
    return _pair(text, sorted((_widen(text, a) for a in found), key=lambda a: a.span))


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


def _widen(text: str, a: Amount) -> Amount:
    """Take in "between 2 and" before "12 months" and a comparator before the number."""
    before = text[: a.span[0]]
    m = _BETWEEN.search(before)
    if m and not a.is_range:
        start = m.start()
        style = "between" if m.group("between") else " and "
        a = replace(
            a,
            low=float(m.group("low")),
            span=(start, a.span[1]),
            surface=text[start : a.span[1]],
            style=style,
        )
        before = text[:start]
    c = _COMPARATOR.search(before)
    if c:
        a = replace(
            a, comparator=c.group("cmp"), span=(c.start(), a.span[1]), surface=text[c.start() : a.span[1]]
        )
    return a


# ------------------------------------------------------------------ writing


def format_number(x: float) -> str:
    """A number as a person writes it: no trailing zeros, no exponent."""
    if abs(x - round(x)) < 1e-9:
        return str(round(x))
    text = f"{x:.6f}".rstrip("0").rstrip(".")
    return text


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
