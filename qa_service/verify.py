"""The citation check and conflict detection.

Every statement, whoever wrote it (the extractive composer or an LLM), passes
``check_support`` against the text of the citations it names before it is shown
as supported. A statement fails when it cites nothing, changes a number or a unit
(compared with pint through :mod:`qa_service.quantities`), flips a negation, binds
a value to another subject than the source does, says things the cited text does
not (content words), or, when an embedder is given, means something else (dense
similarity). Extractive statements are source sentences and pass by containment.

Conflicts: quantities are converted (1 mg == 1000 μg agree; 25–30 μg vs 25 mg
differ a thousandfold) and compared only between statements that speak about the
same thing (shared context words around the quantity).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ingest.chunking import split_sentences
from ingest.lexical import stem_terms
from qa_service.quantities import Quantity, base_range, dimension, find_quantities, format_number, numbers_in, within
from qa_service.quantities import unit_registry as unit_registry  # re-exported: one registry per process
from qa_service.text import content_stems

_REF = re.compile(r"\[\d+(?:\s*[-–,]\s*\d+)*\]")

# Share of a generated statement's content words its cited text must contain.
MIN_CONTENT_COVERAGE = 0.8
# Cosine similarity of a generated statement to its best cited sentence below which it is not supported.
MIN_SIMILARITY = 0.55


def normalise_for_match(text: str) -> str:
    """NFKC, unified micro sign and dashes, source reference markers dropped, whitespace collapsed, lower case."""
    text = unicodedata.normalize("NFKC", text).replace("µ", "μ").replace("–", "-").replace("—", "-")
    text = _REF.sub(" ", text)
    text = re.sub(r"\s+", " ", text)
    return text.strip().lower()


@dataclass(frozen=True)
class SupportVerdict:
    """Whether cited texts support a statement, and if not, why (shown to reviewers)."""

    supported: bool
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.supported


def check_support(statement: str, cited_texts: Sequence[str], *, embedder: Any | None = None) -> SupportVerdict:
    """Judge ``statement`` against the texts of the citations it names.

    Args:
        statement: The statement as shown (an extractive sentence or generated text).
        cited_texts: The cited passages' texts, verbatim.
        embedder: Optional sentence embedder (``encode(list[str]) -> unit vectors``); when given, a
            generated statement must also be close in meaning to one of the cited sentences.
    """
    if not cited_texts:
        return SupportVerdict(False, "cites nothing")
    norm_statement = normalise_for_match(re.sub(r"^\s*(?:[-•*]|\d+[.)])\s+", "", statement))
    evidence = " ".join(normalise_for_match(t) for t in cited_texts)
    flat_statement = re.sub(r"[^\w%]+", " ", norm_statement).strip()
    if not flat_statement:
        return SupportVerdict(False, "states nothing")
    if flat_statement in re.sub(r"[^\w%]+", " ", evidence):
        return SupportVerdict(True)  # a source sentence (reference markers and glyphs aside)
    sentences = [normalise_for_match(t[s:e]) for t in cited_texts for s, e in split_sentences(t, 0)] or [evidence]
    for check in (_numbers_kept, _polarity_kept, _subjects_kept, _content_covered):
        reason = check(norm_statement, evidence, sentences)
        if reason is not None:
            return SupportVerdict(False, reason)
    if embedder is not None:
        vectors = np.asarray(embedder.encode([norm_statement, *sentences]))
        best = float(np.max(vectors[1:] @ vectors[0]))
        if best < MIN_SIMILARITY:
            return SupportVerdict(False, f"means something else than the cited text (similarity {best:.2f})")
    return SupportVerdict(True)


def statement_supported(statement: str, cited_texts: Sequence[str]) -> bool:
    """``check_support`` without the reason."""
    return check_support(statement, cited_texts).supported


def _numbers_kept(statement: str, evidence: str, sentences: list[str]) -> str | None:
    """Every quantity of the statement is one the evidence states (in any unit); every bare number too."""
    ev_quantities = find_quantities(evidence)
    st_quantities = find_quantities(statement)
    for q in st_quantities:
        if not any(_same_or_within(q, e) for e in ev_quantities):
            return f"changes a number or unit: {q.surface!r} is not what the cited text says"
    covered: set[float] = set()
    for q in st_quantities:
        covered.update({q.low, q.high})
    stated = numbers_in(evidence) | {v for e in ev_quantities for v in (e.low, e.high)}
    for value in sorted(numbers_in(statement) - covered):
        if not any(math.isclose(value, v, rel_tol=1e-9) for v in stated):
            return f"changes a number: {format_number(value)} is not in the cited text"
    return None


def _same_or_within(q: Quantity, e: Quantity) -> bool:
    if q.pint_unit is None and e.pint_unit is None:
        return dimension(q) == dimension(e) and q.low == e.low and q.high == e.high
    return within(q, e)


_NEGATIONS = frozenset(
    {"not", "no", "never", "without", "neither", "nor", "none", "cannot", "nothing", "nobody", "non", "nowhere"}
)


def _negated_words(text: str) -> set[str]:
    """Stems of the content words within four words after a negation ("not recommended" -> recommend)."""
    tokens = re.findall(r"[a-z0-9μ%]+(?:'t)?", text.replace("n't", " not"))
    out: set[str] = set()
    for i, tok in enumerate(tokens):
        if tok in _NEGATIONS:
            out.update(content_stems(" ".join(tokens[i + 1 : i + 5])))
    return out


def _polarity_kept(statement: str, evidence: str, sentences: list[str]) -> str | None:
    """A word the statement and its source both use is negated in both or in neither."""
    words = content_stems(statement)
    best = max(sentences, key=lambda s: len(words & content_stems(s)))
    shared = words & content_stems(best)
    flipped = (_negated_words(statement) ^ _negated_words(best)) & shared
    if flipped:
        return f"negation differs from the cited text ({', '.join(sorted(flipped))})"
    return None


_CLAUSE_BREAK = re.compile(r"[;:,()]|\s(?:and|but|while|whereas|versus|vs\.?)\s")


def _clause_words(text: str, quantities: list[Quantity]) -> list[dict[str, float]]:
    """For each quantity, the content words of its clause with a weight, the clause bounded by punctuation,
    conjunctions and neighbouring quantities.

    A clause that starts with its quantity ("... in the infant and 150 pg/mL in the mother") shares the
    words before the previous quantity (its subject is elided). The words before the first quantity of
    the sentence weigh one word together: they may name what all the values are of ("the mother's
    serum B12 was ...; the infant's was ...").
    """
    out: list[dict[str, float]] = []
    heads: list[set[str]] = []
    for i, q in enumerate(quantities):
        lo = quantities[i - 1].span[1] if i else 0
        hi = quantities[i + 1].span[0] if i + 1 < len(quantities) else len(text)
        left = text[lo : q.span[0]]
        breaks = list(_CLAUSE_BREAK.finditer(left))
        left = left[breaks[-1].end() :] if breaks else left
        right = text[q.span[1] : hi]
        brk = _CLAUSE_BREAK.search(right)
        right = right[: brk.start()] if brk else right
        head = content_stems(left)
        words = {w: 1.0 for w in content_stems(right)}
        for w in head:
            words[w] = 1.0 / len(head) if i == 0 else 1.0  # the first head weighs one word in all
        if not head and heads:
            for w in heads[-1]:
                words.setdefault(w, 0.5)
        heads.append(head or (heads[-1] if heads else set()))
        out.append(words)
    return out


def _subjects_kept(statement: str, evidence: str, sentences: list[str]) -> str | None:
    """A value the statement gives is bound to the words the source binds it to, not to another value's.

    In "the mother's was 150 pg/mL; the infant's was 53 pg/mL", "the infant's was 150 pg/mL" binds 150
    to the infant: the statement shares at least as much with the clause of 53 as with the clause of 150.
    """
    st_q = find_quantities(statement)
    if not st_q:
        return None
    # one value: the whole statement is its clause ("In the mother, B12 was 53 pg/mL")
    st_words = [set(w) for w in _clause_words(statement, st_q)] if len(st_q) > 1 else [content_stems(statement)]
    for sentence in sentences:
        ev_q = find_quantities(sentence)
        if len(ev_q) < 2:
            continue
        ev_words = _clause_words(sentence, ev_q)
        for q, words in zip(st_q, st_words):
            matched = [i for i, e in enumerate(ev_q) if _same_or_within(q, e)]
            if not matched:
                continue
            others = [i for i in range(len(ev_q)) if i not in matched]
            for m in matched:
                for o in others:
                    own = {w: wt for w, wt in ev_words[m].items() if w not in ev_words[o]}
                    if not own:
                        continue  # the source names nothing that sets this value apart from the other
                    mine = sum(wt for w, wt in own.items() if w in words)
                    theirs = sum(wt for w, wt in ev_words[o].items() if w in words and w not in ev_words[m])
                    if theirs and theirs >= mine:
                        return f"gives {q.surface!r} to another subject than the cited text does"
    return None


def _without_quantities(text: str) -> str:
    """The text with its quantities cut out (they are compared by value, in any unit, above)."""
    for q in reversed(find_quantities(text)):
        text = text[: q.span[0]] + " " + text[q.span[1] :]
    return text


def _content_covered(statement: str, evidence: str, sentences: list[str]) -> str | None:
    words = content_stems(_without_quantities(statement))
    if not words:
        return None if find_quantities(statement) else "states nothing the cited text can support"
    have = content_stems(evidence)
    missing = sorted(words - have)
    if 1 - len(missing) / len(words) < MIN_CONTENT_COVERAGE:
        return f"says what the cited text does not ({', '.join(missing[:5])})"
    return None


# ------------------------------------------------------------------ conflicts


def extract_quantities(text: str) -> list[Quantity]:
    """Quantities a conflict can be about: those pint measures (counts of things are not compared)."""
    return [q for q in find_quantities(text) if q.pint_unit is not None and dimension(q) != "dimensionless"]


_UNIT_WORDS = {"approximately", "about", "around", "per", "time", "times"}


@lru_cache(maxsize=8192)
def _context(text: str, q: Quantity, window: int = 10) -> frozenset[str]:
    """Content words within ``window`` words either side of the quantity."""
    lo, hi = q.span
    left = text[:lo].split()[-window:]
    right = text[hi:].split()[:window]
    unit_words = set(stem_terms(q.unit)) | _UNIT_WORDS
    return frozenset(t for t in stem_terms(" ".join(left + right)) if not t.isdigit() and t not in unit_words)


def _word_before(text: str, q: Quantity) -> str:
    words = re.findall(r"[a-z]+", text[: q.span[0]].lower())
    return words[-1] if words else ""


def _agrees_with_any(q: Quantity, others: list[Quantity]) -> bool:
    """True when some quantity of the same dimension in the other statement overlaps ``q``."""
    b = base_range(q)
    if b is None:
        return False
    for o in others:
        ob = base_range(o)
        if ob is not None and dimension(o) == dimension(q) and b[0] <= ob[1] * 1.0001 and ob[0] <= b[1] * 1.0001:
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
                continue  # two lab results of two people are observations, not claims
            for q1 in qa:
                b1, d1 = base_range(q1), dimension(q1)
                if b1 is None:
                    continue
                c1 = _context(ta, q1)
                for q2 in qb:
                    b2 = base_range(q2)
                    if b2 is None or dimension(q2) != d1:
                        continue
                    c2 = _context(tb, q2)
                    shared = c1 & c2
                    is_time = d1 == "[time]"
                    needed = 4 if is_time else 3
                    if len(shared) < needed and not (len(shared) >= 2 and len(shared) / max(1, len(c1 | c2)) >= 0.25):
                        continue
                    if is_time and _word_before(ta, q1) != _word_before(tb, q2):
                        continue  # "under 2 years" (an age) and "for 3 months" (a duration) are different things
                    if _agrees_with_any(q1, qb) or _agrees_with_any(q2, qa):
                        continue  # e.g. "at 1 month and 3 months" vs "after 1 month"
                    lo1, hi1, lo2, hi2 = b1[0], b1[1], b2[0], b2[1]
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


# A measured result reported against its reference range: "... was 53 pg/mL (normal range: 200-900)".
_MEASUREMENT = re.compile(r"\(\s*normal(?:\s+range)?\s*[:<>≤≥]|\bnormal range\b|\breference range\b", re.IGNORECASE)


def _is_measurement(text: str) -> bool:
    """A statement reporting a measured value against a reference range (a patient's result)."""
    return bool(_MEASUREMENT.search(text))


def _subject(text: str, q: Quantity, shared: set[str] | frozenset[str]) -> str:
    words = re.findall(r"[A-Za-z][\w]*", text[max(0, q.span[0] - 80) : q.span[1] + 60])
    picked = [w for w in words if stem_terms(w) and stem_terms(w)[0] in shared]
    uniq = list(dict.fromkeys(w.lower() for w in picked))[:4]
    return (" ".join(uniq) or "stated value").capitalize()


def _fold(ratio: float) -> str:
    exp = round(math.log10(ratio)) if ratio > 0 else 0
    if exp >= 1 and abs(math.log10(ratio) - exp) < 0.2:
        return f"{10 ** exp:,}-fold"
    return f"{ratio:.1f}-fold"
