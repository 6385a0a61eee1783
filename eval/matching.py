"""Text matching for the metrics: key facts in answers, gold quotes in citations and passages.

The harness keeps its own normalisation rather than reusing the engine's
(``qa_service.verify``): the measuring stick must not move when the thing measured
is tuned. Two forms exist:

* :func:`normalise_quote` — for verbatim evidence: Unicode NFKC, one micro sign,
  one hyphen for the dash family, source reference markers such as ``[14]`` or
  ``[15,16]`` dropped, whitespace collapsed, case folded (CONTRACT, "Gold set").
* :func:`normalise_fact` — for key facts, more lenient on spelling: on top of the
  above, microgram spellings (μg/µg/mcg/ug/microgram) are one, thousands
  separators go (1,000 → 1000), a bare leading decimal point gets its zero
  (.3 → 0.3), "25 to 30" is the range "25-30", and spaces around ``/``, dashes and
  comparison signs and between a number and its unit go (``0.3 μg / kg`` →
  ``0.3μg/kg``, ``> 100 fL`` → ``>100fl``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

# Reference markers of the source ([14], [15,16], [3-5], [3–5]); our own [n] markers look the same.
_REF_MARKER = re.compile(r"\[\s*\d+(?:\s*[-–—,;]\s*\d+)*\s*\]")
_DASHES = dict.fromkeys(map(ord, "‐‑‒–—―−"), "-")
_SPACE = re.compile(r"\s+")
_MICROGRAM = re.compile(r"(?<![a-z])(?:μg|mcg|ug|micrograms?)(?![a-z])")
_THOUSANDS = re.compile(r"(?<![\d.])(\d{1,3})((?:,\d{3})+)(?![\d,]*\d)")
_BARE_DECIMAL = re.compile(r"(?<![\w.])\.(\d)")
_AROUND_SYMBOL = re.compile(r"\s*([/\-<>≤≥=])\s*")
_WORD_RANGE = re.compile(r"(\d)\s+to\s+(?=\d)")
_NUMBER_UNIT = re.compile(r"(\d)\s+(?=[^\W\d_]|%)")
_WORD_TOKEN = re.compile(r"\w+(?:[.,/]\w+)*|%")


def _unicode(text: str) -> str:
    """NFKC (which also maps the micro sign U+00B5 to μ U+03BC) and one hyphen for all dashes."""
    return unicodedata.normalize("NFKC", text).translate(_DASHES)


def normalise_quote(text: str) -> str:
    """Normalised form for verbatim evidence matching (see the module docstring).

    >>> normalise_quote("B12  stores [14] of 25–30 µg")
    'b12 stores of 25-30 μg'
    """
    text = _REF_MARKER.sub(" ", _unicode(text))
    # dropping "word [14]." leaves "word ." — glue punctuation back so quotes ending at "word" still match
    text = re.sub(r"\s+([.,;:)])(?!\d)", r"\1", text)
    return _SPACE.sub(" ", text).strip().casefold()


def normalise_fact(text: str) -> str:
    """Normalised form for key-fact matching (see the module docstring).

    >>> normalise_fact("1,000 mcg daily") == normalise_fact("1000 μg daily")
    True
    >>> normalise_fact(".3 ug / kg / day")
    '0.3μg/kg/day'
    """
    text = normalise_quote(text)
    text = _MICROGRAM.sub("μg", text)
    text = _THOUSANDS.sub(lambda m: m.group(1) + m.group(2).replace(",", ""), text)
    text = _BARE_DECIMAL.sub(r"0.\1", text)
    text = _WORD_RANGE.sub(r"\1-", text)
    text = _AROUND_SYMBOL.sub(r"\1", text)
    return _NUMBER_UNIT.sub(r"\1", text)


@lru_cache(maxsize=4096)
def _fact_pattern(fact: str) -> re.Pattern[str]:
    """A regex finding the normalised fact as a whole (not inside a longer number or word)."""
    norm = normalise_fact(fact)
    first, last = norm[:1], norm[-1:]
    head = tail = ""
    if first.isdigit():
        head = r"(?<![\w.])"  # "1 μg" must not match inside "0.1 μg"
    elif first.isalpha():
        head = r"(?<![^\W\d_])"  # "folate" not inside "methylfolate"; a number may precede a unit ("50μmol")
    if last.isdigit():
        tail = r"(?!\w|[.,]\d)"  # "100" not inside "1000", "0.3" not inside "0.35"
    elif last.isalpha():
        tail = r"(?![^\W\d_])"
    return re.compile(head + re.escape(norm) + tail)


def strip_answer_markers(text: str) -> str:
    """An answer's text without its ``[n]`` citation markers (so they never glue onto a fact)."""
    return _REF_MARKER.sub(" ", text)


def fact_stated(fact: str, text: str) -> bool:
    """True when the key fact appears in ``text`` up to spelling (units, numbers, case, spacing).

    >>> fact_stated("1000 mcg", "Give 1,000 µg daily [2].")
    True
    >>> fact_stated("1 μg/day", "then 0.1 μg/day")
    False
    """
    if not fact.strip():
        return False
    return _fact_pattern(fact).search(normalise_fact(strip_answer_markers(text))) is not None


def quote_in(quote: str, texts: Iterable[str]) -> bool:
    """True when the normalised quote is contained in at least one of the normalised texts."""
    needle = normalise_quote(quote)
    return bool(needle) and any(needle in normalise_quote(t) for t in texts)


def _tokens(text: str) -> list[str]:
    return _WORD_TOKEN.findall(normalise_quote(text))


def _run_contains(hay: Sequence[str], needle: Sequence[str]) -> bool:
    n = len(needle)
    return n > 0 and any(list(hay[i : i + n]) == list(needle) for i in range(len(hay) - n + 1))


def _edge_overlap(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest suffix of ``a`` that is a prefix of ``b``."""
    for size in range(min(len(a), len(b)), 0, -1):
        if list(a[-size:]) == list(b[:size]):
            return size
    return 0


def spans_overlap(citation_text: str, quote: str, min_words: int = 3) -> bool:
    """True when a citation's span and a gold quote's span overlap in the document.

    We have texts, not the quote's offsets, so overlap is read from the words: one
    contains the other, or one ends with words the other starts with (at least
    ``min_words`` of them, or the whole quote when it is shorter), which is what two
    overlapping stretches of one document look like.

    >>> spans_overlap("The dose was 1 mg. It worked well", "It worked well in all cases")
    True
    >>> spans_overlap("Iron was normal.", "folate was normal")
    False
    """
    c, q = _tokens(citation_text), _tokens(quote)
    if not c or not q:
        return False
    if _run_contains(c, q) or _run_contains(q, c):
        return True
    need = min(min_words, len(q), len(c))
    return _edge_overlap(c, q) >= need or _edge_overlap(q, c) >= need


def source_matches(passage_source: str, gold_source: str | None) -> bool:
    """True when a passage's source is the gold evidence's source (or the gold names none).

    Gold sources are file names; stored sources are paths relative to the ingested
    folder, so ``guides/b12.txt`` matches a gold ``b12.txt``.
    """
    if not gold_source:
        return True
    p = passage_source.replace("\\", "/").strip("/")
    g = gold_source.replace("\\", "/").strip("/")
    return p == g or p.endswith("/" + g)
