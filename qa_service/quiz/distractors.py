"""Wrong options that are plausible, and never true according to the corpus.

Numeric distractors (``numeric_candidates``), most instructive first:

- *neighbours*: values of the same dimension that other sentences of the evidence
  state about something else (a student who confuses two facts picks them);
- *unit slips*: the same number in the sibling unit (μg ↔ mg, pg/mL ↔ ng/mL: a
  thousandfold error; days ↔ weeks ↔ months);
- *tenfold* errors (×10, ÷10) for doses and laboratory values;
- *steps* for times and thresholds (×2, ×3, ½, ±20-50 %, rounded as a source
  would write them).

``stated_in_evidence`` is the guard: a candidate is dropped when a sentence of the
evidence states an overlapping value (after unit conversion, pint) about the same
thing (shared context words), or when the key's own sentence states it at all.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qa_service.quiz.evidence import Sentence, content_terms
from qa_service.quiz.quantities import (
    Amount,
    dimension,
    format_number,
    make_amount,
    nice,
    overlaps,
    same_value,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

# Shared context words (stemmed) from which two quantities are taken to be about the same thing.
SAME_SUBJECT_SHARED_TERMS = 2
CONTEXT_WINDOW_WORDS = 8

_SLIPS: dict[str, list[tuple[str, str]]] = {
    # unit as written -> [(slipped unit as written, pint unit)]
    "μg": [("mg", "milligram")],
    "µg": [("mg", "milligram")],
    "mcg": [("mg", "milligram")],
    "ug": [("mg", "milligram")],
    "mg": [("μg", "microgram")],
    "pg/ml": [("ng/mL", "nanogram / milliliter")],
    "ng/ml": [("pg/mL", "picogram / milliliter")],
    "μmol/l": [("mmol/L", "millimole / liter")],
    "µmol/l": [("mmol/L", "millimole / liter")],
    "mmol/l": [("μmol/L", "micromole / liter")],
}
_TIME_SLIPS = {
    "hour": [("day", "day")],
    "day": [("week", "week"), ("hour", "hour")],
    "week": [("month", "month"), ("day", "day")],
    "month": [("week", "week"), ("year", "year")],
    "year": [("month", "month")],
    "minute": [("hour", "hour")],
}
_UNIT_WORDS = {
    "μg",
    "µg",
    "mcg",
    "ug",
    "mg",
    "g",
    "kg",
    "day",
    "days",
    "week",
    "weeks",
    "month",
    "months",
    "year",
    "years",
    "hour",
    "hours",
    "ml",
    "dl",
    "approxim",
    "about",
    "around",
    "per",
    "time",
    "normal",
    "rang",
}


@dataclass
class Candidate:
    """A possible wrong option and why it is wrong (the rationale shown to the student)."""

    text: str
    amount: Amount | None
    origin: str  # neighbour | unit_slip | tenfold_up | tenfold_down | step | negative
    rationale: str
    cite: Sentence | None = None  # the sentence a neighbour comes from (cited in the rationale)


def quantity_context(text: str, a: Amount) -> set[str]:
    """Content words (stemmed) near a quantity: what it is a value *of*."""
    lo, hi = a.span
    left = text[:lo].split()[-CONTEXT_WINDOW_WORDS:]
    right = text[hi:].split()[:CONTEXT_WINDOW_WORDS]
    return {t for t in content_terms(" ".join(left + right)) if t not in _UNIT_WORDS}


def stated_in_evidence(
    candidate: Amount, key: Amount, key_sentence: Sentence, evidence: Iterable[Sentence]
) -> Sentence | None:
    """The evidence sentence that states ``candidate`` as true for the key's subject, if any."""
    key_ctx = quantity_context(key_sentence.clean, _located(key_sentence, key))
    for s in evidence:
        for e in s.amounts:
            if candidate.style == "pair":
                # two times of a schedule ("1 month and 6 months") are stated only as such a pair
                if not (e.style == "pair" and same_value(candidate, e)):
                    continue
            elif not overlaps(candidate, e):
                continue
            if s.key == key_sentence.key:
                return s
            if len(key_ctx & quantity_context(s.clean, e)) >= SAME_SUBJECT_SHARED_TERMS:
                return s
    return None


def _located(s: Sentence, key: Amount) -> Amount:
    """The key as found in its sentence (for its span)."""
    for a in s.amounts:
        if key.surface in a.surface or a.surface in key.surface:
            return a
    return key


def numeric_candidates(
    key: Amount,
    key_sentence: Sentence,
    evidence: list[Sentence],
    key_text: str,
    neighbour_ok: Callable[[Sentence, Amount], bool] | None = None,
) -> list[Candidate]:
    """Every plausible wrong value for ``key``, before the evidence guard, without duplicates.

    ``neighbour_ok`` says which values of other sentences may serve (a dose for a dose,
    a time of response for a time of response).
    """
    out: list[Candidate] = []
    out.extend(_neighbours(key, key_sentence, evidence, neighbour_ok))
    out.extend(_unit_slips(key, key_text))
    if key.is_mass_based and _is_round(key.low) and _is_round(key.high):
        out.extend(
            _tenfold(key, key_text)
        )  # a tenfold slip is a dosing error; a measured value is not written so
    out.extend(_steps(key, key_text))
    unique: list[Candidate] = []
    for c in out:
        if c.amount is None or same_value(c.amount, key):
            continue
        if key.style != "pair" and overlaps(
            c.amount, key
        ):  # "1 month and 3 months" is two times, not a range
            continue
        if any(u.amount is not None and same_value(u.amount, c.amount) for u in unique):
            continue
        if any(u.text == c.text for u in unique):
            continue
        unique.append(c)
    return unique


def _neighbours(
    key: Amount,
    key_sentence: Sentence,
    evidence: list[Sentence],
    neighbour_ok: Callable[[Sentence, Amount], bool] | None,
) -> list[Candidate]:
    out = []
    dim = dimension(key)
    for s in evidence:
        if s.key == key_sentence.key:
            continue
        for e in s.amounts:
            if dimension(e) != dim or e.comparator in {"under", "up to"} or _is_reference_range(s.clean, e):
                continue
            if bool(key.comparator) != bool(e.comparator) or (
                neighbour_ok is not None and not neighbour_ok(s, e)
            ):
                continue
            if key.style == "pair" or e.style == "pair" or key.is_range != e.is_range:
                continue
            amount = make_amount(key, e.low, e.high, unit=e.unit, pint_unit=e.pint_unit)
            snippet = _snippet(s.clean, e)
            out.append(
                Candidate(
                    amount.surface,
                    amount,
                    "neighbour",
                    f"This value is stated for something else: “{snippet}”",
                    s,
                )
            )
    return out


def _is_reference_range(text: str, a: Amount) -> bool:
    before = text[: a.span[0]]
    return bool(re.search(r"normal(?: range)?\s*:?\s*[<>]?\s*$|\bnormal\s*$", before, re.IGNORECASE))


def _snippet(text: str, a: Amount, width: int = 70) -> str:
    lo, hi = a.span
    start = max(0, lo - width)
    end = min(len(text), hi + width // 2)
    start = text.rfind(" ", 0, start) + 1 if start > 0 else 0
    cut = text.find(" ", end)
    end = len(text) if cut < 0 else cut
    piece = text[start:end].strip(" ,;")
    return ("…" if start > 0 else "") + piece + ("…" if end < len(text) else "")


def _unit_slips(key: Amount, key_text: str) -> list[Candidate]:
    out = []
    unit_l = key.unit.lower()
    base_unit = unit_l.split("/")[0]
    per = key.unit[len(key.unit.split("/")[0]) :] if "/" in key.unit else ""
    if key.is_time:
        singular = re.sub(r"s$", "", unit_l)
        for slipped, pint_unit in _TIME_SLIPS.get(singular, []):
            amount = make_amount(key, key.low, key.high, unit=slipped, pint_unit=pint_unit)
            out.append(
                Candidate(amount.surface, amount, "unit_slip", f"Wrong unit: the source states {key_text}")
            )
        return out
    slips = _SLIPS.get(unit_l) or [
        (u + per, p + _per_pint(key)) for u, p in _SLIPS.get(base_unit, []) if "/" not in u
    ]
    for slipped, pint_unit in slips:
        if slipped.lower().startswith("g") and not unit_l.startswith("mg"):
            continue
        micro = next((c for c in ("μg", "µg", "mcg") if c in key.unit), "μg")
        slipped = slipped.replace("μg", micro)
        amount = make_amount(key, key.low, key.high, unit=slipped, pint_unit=pint_unit)
        fold = _fold(key, amount)
        out.append(
            Candidate(
                amount.surface,
                amount,
                "unit_slip",
                f"A unit slip ({slipped} for {key.unit}), a {fold} error; the source states {key_text}",
            )
        )
    return out


def _per_pint(key: Amount) -> str:
    parts = key.pint_unit.split(" / ")
    return "".join(f" / {p}" for p in parts[1:])


def _fold(a: Amount, b: Amount) -> str:
    from qa_service.quiz.quantities import base_range

    ra, rb = base_range(a), base_range(b)
    if not ra or not rb or not ra[0] or not rb[0]:
        return "large"
    ratio = max(ra[0], rb[0]) / min(ra[0], rb[0])
    return f"{format_number(round(ratio)):s}-fold".replace("1000-fold", "thousandfold").replace(
        "10-fold", "tenfold"
    )


def _tenfold(key: Amount, key_text: str) -> list[Candidate]:
    out = []
    for factor, origin, words in ((10.0, "tenfold_up", "Ten times"), (0.1, "tenfold_down", "One tenth of")):
        low, high = key.low * factor, key.high * factor
        if low < 0.001 or not _writable(low) or not _writable(high):
            continue
        amount = make_amount(key, low, high)
        out.append(
            Candidate(
                amount.surface, amount, origin, f"{words} the stated value; the source states {key_text}"
            )
        )
    return out


def _writable(x: float) -> bool:
    """A value a source would write: not too many significant digits."""
    text = format_number(x)
    return len(text.replace(".", "").lstrip("0")) <= 4


# Values a source plausibly states for a time in each unit (distractors are picked near the key on this ladder).
_TIME_LADDER = {
    "minute": (5, 10, 15, 30, 45),
    "hour": (1, 2, 4, 6, 12, 24, 48, 72),
    "day": (1, 2, 3, 5, 7, 10, 14, 21, 28),
    "week": (1, 2, 3, 4, 6, 8, 12, 16, 24),
    "month": (1, 2, 3, 4, 6, 9, 12, 18, 24),
    "year": (1, 2, 3, 5, 10, 15),
}
_MANTISSAS = (1.0, 2.0, 3.0, 5.0)


def _steps(key: Amount, key_text: str) -> list[Candidate]:
    """Nearby values a source would plausibly write: the time ladder, a 1-2-3-5 series, or ±15-30 % for measured values."""
    reason = f"Not the stated value; the source states {key_text}"
    pairs: list[tuple[float, float]]
    if key.is_time:
        pairs = _time_steps(key)
    elif key.words and not key.is_range:  # "one inch": whole numbers, as the source writes them
        pairs = [(v, v) for v in _series_near(key.low) if float(v).is_integer()]
    elif not key.is_mass_based and not key.pint_unit.endswith("meter") and _is_round(key.low):
        # a laboratory threshold (MCV >100 fL, B12 <200 pg/mL): nearby cut-offs, not orders of magnitude
        pairs = [(nice(key.low * f), nice(key.high * f)) for f in (0.8, 0.9, 1.2, 1.5)]
    elif _is_round(key.low) and _is_round(key.high):
        if key.is_range:
            pairs = [(nice(key.low * f), nice(key.high * f)) for f in (0.25, 2.5, 5.0, 0.2)]
        else:
            pairs = [(v, v) for v in _series_near(key.low)]
    else:  # a measured value (105.4 fL, 8.8 g/dL): nearby values, as a laboratory would report them
        pairs = [(nice(key.low * f), nice(key.high * f)) for f in (0.75, 0.85, 1.15, 1.3)]
    out = []
    for low, high in pairs:
        if low <= 0 or not _writable(low) or not _writable(high):
            continue
        amount = make_amount(key, low, high)
        out.append(Candidate(amount.surface, amount, "step", reason))
    return out


def _is_round(x: float) -> bool:
    """One significant digit from the 1-2-3-5 series (0.3, 20, 1000)."""
    if x <= 0:
        return False
    mantissa = x / 10 ** math.floor(math.log10(x))
    return any(math.isclose(mantissa, m, rel_tol=1e-6) for m in _MANTISSAS)


def _series_near(x: float, each_side: int = 2) -> list[float]:
    exponent = math.floor(math.log10(x))
    series = sorted({round(m * 10**e, 10) for e in range(exponent - 2, exponent + 3) for m in _MANTISSAS})
    below = [v for v in series if v < x * 0.999][-each_side:]
    above = [v for v in series if v > x * 1.001][:each_side]
    return below + above


def _time_steps(key: Amount) -> list[tuple[float, float]]:
    unit = re.sub(r"s$", "", key.unit.lower())
    ladder = _TIME_LADDER.get(unit)
    if ladder is None:
        return []
    if key.words:
        ladder = tuple(v for v in ladder if v <= 20)
    if not key.is_range:
        below = [v for v in ladder if v < key.low][-2:]
        above = [v for v in ladder if v > key.low][:3]
        return [(float(v), float(v)) for v in below + above]
    span = key.high / key.low if key.low else 2.0
    options = [(float(lo), float(hi)) for i, lo in enumerate(ladder) for hi in ladder[i + 1 :]]
    # ranges that overlap the key's would be partly true: only disjoint ones
    options = [(lo, hi) for lo, hi in options if hi < key.low or lo > key.high]
    # ranges of a similar shape (ratio of ends) and close to the key, on a log scale
    options.sort(
        key=lambda r: abs(math.log(r[1] / r[0]) - math.log(span)) + abs(math.log(r[0] / max(key.low, 0.1)))
    )
    return options[:5]
