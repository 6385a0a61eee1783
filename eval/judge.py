"""The harness's own judge of whether cited passages support a statement.

Deliberately independent of the engine's citation check (``qa_service.verify``):
the measuring stick must not move when the thing measured is tuned, and a bug
shared by the generator and its judge would hide itself. So this module has its
own normalisation (:mod:`eval.matching`), tokens, number reading and rules, and
imports nothing from ``qa_service``.

A statement is supported when, against the concatenated cited texts:
1. it is contained in them verbatim (after normalisation; source reference markers
   and bullet glyphs aside) — every extractive statement; or
2. all of these hold:
   - every number it states occurs in them, as written or as the same mass in
     another metric unit (1 mg = 1000 μg);
   - every negation it makes (or omits) matches the cited sentence closest to it;
   - at least 75% of its word tokens (lower case, four letters or more, compared on
     their first five letters so that inflections meet) occur in them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from eval.matching import normalise_fact, normalise_quote

_BULLET = re.compile(r"^\s*(?:[-•*▪◦·]|\d{1,2}[.)])\s+")
_NUMBER_UNIT = re.compile(r"(\d+(?:\.\d+)?)\s*(μg|mg|g|ng)(?![a-z])")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_WORD = re.compile(r"[a-zà-ÿ]{4,}")
_NEGATORS = ("not", "no", "never", "without", "none", "cannot", "neither", "nor")
_TO_MICROGRAMS = {"ng": 0.001, "μg": 1.0, "mg": 1000.0, "g": 1_000_000.0}
MIN_TOKEN_SHARE = 0.75


def _flat(text: str) -> str:
    return re.sub(r"[^\w%.]+", " ", normalise_quote(_BULLET.sub("", text))).strip(" .")


def _numbers(text: str) -> set[str]:
    return {n.rstrip(".") for n in _NUMBER.findall(normalise_fact(text))}


def _masses(text: str) -> set[float]:
    """Masses stated in the text, in micrograms."""
    return {float(v) * _TO_MICROGRAMS[u] for v, u in _NUMBER_UNIT.findall(normalise_fact(text))}


def _roots(text: str) -> set[str]:
    return {w[:5] for w in _WORD.findall(normalise_quote(text))}


def _negated(text: str) -> bool:
    words = re.findall(r"[a-z']+", normalise_quote(text).replace("n't", " not"))
    return any(w in _NEGATORS for w in words)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?;])\s+", text) if s.strip()]


def judge_support(statement: str, cited_texts: Sequence[str]) -> bool:
    """True when the cited texts support the statement (see the module docstring)."""
    if not cited_texts or not statement.strip():
        return False
    evidence = " ".join(cited_texts)
    if _flat(statement) and _flat(statement) in _flat(evidence):
        return True
    evidence_masses = _masses(evidence)
    statement_masses = _NUMBER_UNIT.findall(normalise_fact(statement))
    for number in _numbers(statement) - _numbers(evidence):
        converted = [
            float(v) * _TO_MICROGRAMS[u] for v, u in statement_masses if v.rstrip(".") == number
        ]  # "1000 μg" stated where the source says "1 mg"
        if not any(abs(m - e) <= 1e-9 * max(1.0, e) for m in converted for e in evidence_masses):
            return False
    words = _roots(statement)
    if not words:
        return False
    closest = max(_sentences(evidence), key=lambda s: len(words & _roots(s)))
    if _negated(statement) != _negated(closest):
        return False
    return len(words & _roots(evidence)) / len(words) >= MIN_TOKEN_SHARE
