"""The citation check and conflict detection.

Every statement, whoever wrote it (the extractive composer or an LLM), passes
``statement_supported`` against the text of the citations it names. Conflicts:
quantities are parsed and converted with pint (1 mg == 1000 μg agree;
25–30 μg vs 25 mg differ a thousandfold) and compared only between statements
that speak about the same thing (shared context words around the quantity).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ingest.lexical import stem_terms

_REF = re.compile(r"\[\d+(?:\s*[-–,]\s*\d+)*\]")


def normalise_for_match(text: str) -> str:
    """NFKC, unified micro sign and dashes, source reference markers dropped, whitespace collapsed, lower case."""
    text = unicodedata.normalize("NFKC", text).replace("µ", "μ").replace("–", "-").replace("—", "-")
    text = _REF.sub(" ", text)
    text = re.sub(r"\s+", " ", text)
    return text.strip().lower()


def _numbers(text: str) -> set[str]:
    return {n.rstrip(".").replace(",", "") for n in re.findall(r"\d+(?:[.,]\d+)*", text)}


def statement_supported(statement: str, cited_texts: list[str]) -> bool:
    """True when the cited texts state what the statement says.

    Extractive statements are (cleaned) source sentences: contained verbatim. For
    generated text: every number it states appears in the citations (after unit
    normalisation) and at least 80% of its content words (stemmed) do.
    """
    if not cited_texts:
        return False
    norm_statement = normalise_for_match(re.sub(r"^\s*(?:[-•*]|\d+[.)])\s+", "", statement))
    evidence = " ".join(normalise_for_match(t) for t in cited_texts)
    flat = re.sub(r"[^\w%]+", " ", evidence)
    flat_statement = re.sub(r"[^\w%]+", " ", norm_statement).strip()
    if flat_statement and flat_statement in flat:
        return True
    if not _numbers(norm_statement) <= _numbers(evidence) | _converted_numbers(evidence):
        return False
    words = set(stem_terms(norm_statement))
    if not words:
        return False
    have = set(stem_terms(evidence))
    return len(words & have) / len(words) >= 0.8


def _converted_numbers(text: str) -> set[str]:
    """Numbers of the text's quantities re-expressed in sibling units (1 mg -> 1000 μg)."""
    out: set[str] = set()
    for q in extract_quantities(text):
        for unit in _SIBLINGS.get(q.unit_key, ()):
            lo = _convert(q.low, q.unit_key, unit)
            if lo is not None:
                out.add(_fmt(lo))
    return out


# ------------------------------------------------------------------ quantities

_UNIT_ALIASES = {
    "μg": "microgram", "µg": "microgram", "mcg": "microgram", "ug": "microgram", "microgram": "microgram", "micrograms": "microgram",
    "mg": "milligram", "milligram": "milligram", "milligrams": "milligram",
    "g": "gram", "gram": "gram", "grams": "gram", "kg": "kilogram",
    "ng": "nanogram", "pg": "picogram",
    "ml": "milliliter", "l": "liter",
    "day": "day", "days": "day", "d": "day",
    "week": "week", "weeks": "week", "month": "month", "months": "month", "year": "year", "years": "year",
    "hour": "hour", "hours": "hour", "h": "hour", "minute": "minute", "minutes": "minute",
}
_SIBLINGS = {"microgram": ("milligram",), "milligram": ("microgram", "gram"), "gram": ("milligram",)}

_Q = re.compile(
    r"(?P<low>\d+(?:\.\d+)?)\s*(?:(?:-|–|to)\s*(?P<high>\d+(?:\.\d+)?)\s*)?"
    r"(?P<unit>μg|µg|mcg|ug|mg|kg|ng|pg|g|micrograms?|milligrams?|grams?|days?|weeks?|months?|years?|hours?|minutes?)"
    r"(?P<per>\s*/\s*[a-zA-Zμµ]+(?:\s*/\s*[a-zA-Z]+)?)?(?![\w/])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Quantity:
    """A value or range with a unit, found at ``span`` in a text."""

    low: float
    high: float
    unit_key: str
    per: str
    surface: str
    span: tuple[int, int]


@lru_cache(maxsize=1)
def unit_registry() -> Any:
    """The one pint registry of the process (building one costs seconds)."""
    import pint

    return pint.UnitRegistry()


_ureg = unit_registry


def _convert(value: float, unit: str, to: str) -> float | None:
    try:
        return float(_ureg().Quantity(value, unit).to(to).magnitude)
    except Exception:  # incompatible or unknown units
        return None


def _fmt(x: float) -> str:
    return str(int(x)) if abs(x - round(x)) < 1e-9 else f"{x:g}"


def extract_quantities(text: str) -> list[Quantity]:
    """Quantities with a unit pint knows (ranges such as 25-30 μg included)."""
    out = []
    for m in _Q.finditer(text):
        unit = _UNIT_ALIASES.get(m.group("unit").lower())
        if unit is None:
            continue
        low = float(m.group("low"))
        high = float(m.group("high")) if m.group("high") else low
        per = re.sub(r"\s+", "", (m.group("per") or "").lower())
        out.append(Quantity(low, max(low, high), unit, per, m.group(0).strip(), m.span()))
    return out


# pint conversions dominate the conflict check (ask compares each candidate statement with
# the chosen ones): the same quantities recur, so conversions and contexts are cached.
@lru_cache(maxsize=8192)
def _base(q: Quantity) -> tuple[str, float, float] | None:
    """(dimensionality, low, high) in base units."""
    try:
        lo = _ureg().Quantity(q.low, q.unit_key).to_base_units()
        hi = _ureg().Quantity(q.high, q.unit_key).to_base_units()
    except Exception:
        return None
    return (str(lo.dimensionality) + q.per, float(lo.magnitude), float(hi.magnitude))


_UNIT_WORDS = set(_UNIT_ALIASES) | {"approximately", "about", "around", "per", "time", "times"}


@lru_cache(maxsize=8192)
def _context(text: str, q: Quantity, window: int = 10) -> frozenset[str]:
    """Content words within ``window`` words either side of the quantity."""
    lo, hi = q.span
    left = text[:lo].split()[-window:]
    right = text[hi:].split()[:window]
    return frozenset(t for t in stem_terms(" ".join(left + right)) if not t.isdigit() and t not in _UNIT_WORDS)


def _word_before(text: str, q: Quantity) -> str:
    words = re.findall(r"[a-z]+", text[: q.span[0]].lower())
    return words[-1] if words else ""


def _agrees_with_any(q: Quantity, others: list[Quantity]) -> bool:
    """True when some quantity of the same dimension in the other statement overlaps ``q``."""
    b = _base(q)
    if b is None:
        return False
    for o in others:
        ob = _base(o)
        if ob is not None and ob[0] == b[0] and b[1] <= ob[2] * 1.0001 and ob[1] <= b[2] * 1.0001:
            return True
    return False


@dataclass
class ConflictFinding:
    """Two statements' quantities that disagree."""

    a: int
    b: int
    description: str


def find_conflicts(statements: list[tuple[int, str]]) -> list[ConflictFinding]:
    """Pairs of statements (index, text) giving different values for the same quantity.

    Two measured results (each given with its normal range) never conflict: they are
    observations of different people or moments, while sources disagree in claims.
    """
    parsed = [(i, text, extract_quantities(text)) for i, text in statements]
    findings: list[ConflictFinding] = []
    seen: set[tuple[int, int]] = set()
    for x in range(len(parsed)):
        for y in range(x + 1, len(parsed)):
            ia, ta, qa = parsed[x]
            ib, tb, qb = parsed[y]
            if _is_measurement(ta) and _is_measurement(tb):
                continue  # two lab results (a mother's and her infant's B12) are observations, not claims
            for q1 in qa:
                b1 = _base(q1)
                if b1 is None:
                    continue
                c1 = _context(ta, q1)
                for q2 in qb:
                    b2 = _base(q2)
                    if b2 is None or b1[0] != b2[0]:
                        continue
                    c2 = _context(tb, q2)
                    shared = c1 & c2
                    is_time = "[time]" in b1[0]
                    needed = 4 if is_time else 3
                    if len(shared) < needed and not (len(shared) >= 2 and len(shared) / max(1, len(c1 | c2)) >= 0.25):
                        continue
                    if is_time and _word_before(ta, q1) != _word_before(tb, q2):
                        continue  # "under 2 years" (an age) and "for 3 months" (a duration) are different things
                    if _agrees_with_any(q1, qb) or _agrees_with_any(q2, qa):
                        continue  # e.g. "at 1 month and 3 months" vs "after 1 month"
                    lo1, hi1, lo2, hi2 = b1[1], b1[2], b2[1], b2[2]
                    if lo1 <= hi2 * 1.0001 and lo2 <= hi1 * 1.0001:
                        continue  # ranges overlap: agreement
                    ratio = max(lo1, lo2) / max(min(hi1, hi2), 1e-30)
                    if ratio < 1.5:
                        continue
                    key = (ia, ib)
                    if key in seen:
                        continue
                    seen.add(key)
                    subject = _subject(ta, q1, shared)
                    fold = _fold(ratio)
                    hint = "; one is likely a unit error" if fold in ("1,000-fold", "1,000,000-fold") else ""
                    findings.append(
                        ConflictFinding(ia, ib, f'{subject}: "{q1.surface}" vs "{q2.surface}" (a {fold} difference{hint})')
                    )
    return findings


# A measured result reported against its reference range: "B12 was 53 pg/mL (normal range: 200-900)".
_MEASUREMENT = re.compile(r"\(\s*normal(?:\s+range)?\s*[:<>≤≥]|\bnormal range\b|\breference range\b", re.IGNORECASE)


def _is_measurement(text: str) -> bool:
    """A statement reporting a measured value against a reference range (a patient's result)."""
    return bool(_MEASUREMENT.search(text))


def _subject(text: str, q: Quantity, shared: set[str]) -> str:
    words = re.findall(r"[A-Za-z][\w]*", text[max(0, q.span[0] - 80) : q.span[1] + 60])
    picked = [w for w in words if stem_terms(w) and stem_terms(w)[0] in shared]
    uniq = list(dict.fromkeys(w.lower() for w in picked))[:4]
    return (" ".join(uniq) or "stated value").capitalize()


def _fold(ratio: float) -> str:
    exp = round(math.log10(ratio)) if ratio > 0 else 0
    if exp >= 1 and abs(math.log10(ratio) - exp) < 0.2:
        return f"{10 ** exp:,}-fold"
    return f"{ratio:.1f}-fold"
