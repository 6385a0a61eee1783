"""Item-writing checks: the flaws item-writing guides warn about, each a named pass/fail.

``run_checks`` returns ``{name: passed}`` for one item; the generator rewrites
(other distractors) or drops an item that fails any check in ``REQUIRED``.

Checks (guidance of the NBME item-writing manual and Haladyna & Downing's taxonomy):

- ``three_or_more_distractors``
- ``no_all_or_none_of_the_above``
- ``options_distinct``: no two options say the same (after unit conversion)
- ``options_homogeneous``: all quantities of one dimension, or all non-numeric
- ``similar_length``: longest option at most ``MAX_LENGTH_RATIO`` times the shortest (an
  acronym counts as the words it abbreviates)
- ``no_length_cue``: the key is not the longest option by more than ``LENGTH_CUE_MARGIN``
- ``no_grammatical_cue``: the stem does not end in "a"/"an"/"the", options agree in
  their leading article
- ``positive_stem``: no negatively worded stem (NOT/EXCEPT in capitals are allowed
  only when the item is flagged ``negative_stem_marked``)
- ``stem_does_not_give_key``: the key's text is not in the stem
- ``key_in_citation``: the key's text is in its citation (unit spellings unified)
- ``distractors_not_in_citation``: no distractor quantity is stated in the key's citation
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from qa_service.quiz.quantities import Amount, dimension, find_amounts, overlaps, parse_option, same_value

MAX_LENGTH_RATIO = 3.0
LENGTH_CUE_MARGIN = 1.3
_ALL_NONE = re.compile(
    r"\b(?:all|none|both|neither)\s+of\s+the\s+(?:above|following)\b|\ball\s+(?:the\s+)?above\b",
    re.IGNORECASE,
)
_NEGATIVE = re.compile(r"\b(?:not|except|never|(?<!at )least|false|incorrect|untrue)\b", re.IGNORECASE)
_MICRO = re.compile(r"(?<![A-Za-z])(?:µg|mcg|ug)(?![A-Za-z])")

REQUIRED = (
    "three_or_more_distractors",
    "no_all_or_none_of_the_above",
    "options_distinct",
    "options_homogeneous",
    "similar_length",
    "no_length_cue",
    "no_grammatical_cue",
    "positive_stem",
    "stem_does_not_give_key",
    "key_in_citation",
    "distractors_not_in_citation",
)


def normalise(text: str) -> str:
    """Unicode, dashes, micro spellings (μg = µg = mcg = ug) and whitespace unified, lower case."""
    text = unicodedata.normalize("NFKC", text).replace("µ", "μ").replace("–", "-").replace("—", "-")
    text = _MICRO.sub("μg", text)
    text = re.sub(r"\[\d+(?:\s*[-–,]\s*\d+)*\]", " ", text)
    text = re.sub(r"\s*-\s*", "-", text)
    return re.sub(r"\s+", " ", text).strip().lower()


def text_contains(haystack: str, needle: str) -> bool:
    """Whether ``needle`` occurs in ``haystack`` as whole words, modulo case, unit spelling and whitespace.

    "3 μg" is not in "0.3 μg": a match may not continue a number or a word.
    """
    pattern = r"(?<![\w.])" + re.escape(normalise(needle)) + r"(?!\w)"
    return re.search(pattern, normalise(haystack)) is not None


def run_checks(
    stem: str,
    options: Sequence[str],
    answer_index: int,
    citation_text: str,
    negative_marked: bool = False,
    numeric: bool = True,
) -> dict[str, bool]:
    """Each item-writing check by name, with whether the item passes it."""
    key = options[answer_index]
    distractors = [o for i, o in enumerate(options) if i != answer_index]
    lengths = [_reading_length(o) for o in options]
    checks = {
        "three_or_more_distractors": len(distractors) >= 3,
        "no_all_or_none_of_the_above": not any(_ALL_NONE.search(o) for o in options),
        "options_distinct": _distinct(options),
        "options_homogeneous": _homogeneous(options),
        "similar_length": min(lengths) > 0 and max(lengths) / min(lengths) <= MAX_LENGTH_RATIO,
        "no_length_cue": _no_length_cue(options, answer_index),
        "no_grammatical_cue": _no_grammatical_cue(stem, options),
        "positive_stem": _positive_stem(stem, negative_marked),
        "stem_does_not_give_key": not text_contains(stem, key),
        "key_in_citation": text_contains(citation_text, key),
        "distractors_not_in_citation": _distractors_not_in(citation_text, distractors, numeric),
    }
    if negative_marked:
        checks["negative_stem_marked"] = True
    return checks


def passed(checks: dict[str, bool]) -> bool:
    """Whether every required check passed."""
    return all(checks.get(name, False) for name in REQUIRED)


def _reading_length(option: str) -> int:
    """Characters, with an acronym counted as the words it stands for ("ANCA" reads as four words)."""
    return sum(
        6 * len(tok) if re.fullmatch(r"[A-Z]{2,6}", tok) else len(tok) for tok in re.split(r"(\s+)", option)
    )


def states(stated: Amount, option: Amount) -> bool:
    """Whether a stated amount says what an option says: overlapping values, or the same pair of times."""
    if option.style == "pair" or stated.style == "pair":
        return same_value(stated, option)
    return overlaps(stated, option)


def _distinct(options: Sequence[str]) -> bool:
    norm = [normalise(o) for o in options]
    if len(set(norm)) != len(norm):
        return False
    amounts = [parse_option(o) for o in options]
    for i, a in enumerate(amounts):
        for b in amounts[i + 1 :]:
            if a is not None and b is not None and same_value(a, b):
                return False
    return True


def _homogeneous(options: Sequence[str]) -> bool:
    amounts = [parse_option(o) for o in options]
    if all(a is None for a in amounts):
        return all(not find_amounts(o) for o in options)
    if any(a is None for a in amounts):
        return False
    dims = {dimension(a) for a in amounts if a is not None}
    styles = {bool(a.comparator) for a in amounts if a is not None}
    return len(dims) == 1 and None not in dims and len(styles) == 1


def _no_length_cue(options: Sequence[str], answer_index: int) -> bool:
    key_len = _reading_length(options[answer_index])
    others = sorted((_reading_length(o) for i, o in enumerate(options) if i != answer_index), reverse=True)
    return not others or key_len <= others[0] * LENGTH_CUE_MARGIN


def _no_grammatical_cue(stem: str, options: Sequence[str]) -> bool:
    if re.search(r"\b(?:a|an|the)\s*(?:_+)?\s*[:?]?\s*$", stem.strip(), re.IGNORECASE):
        return False
    articles = {bool(re.match(r"^(?:a|an|the)\s", o, re.IGNORECASE)) for o in options}
    return len(articles) == 1


def _positive_stem(stem: str, negative_marked: bool) -> bool:
    found = _NEGATIVE.findall(stem)
    if not found:
        return True
    # "NOT"/"EXCEPT" written in capitals are allowed when the item is flagged; any other negative is a flaw
    return negative_marked and all(w in {"NOT", "EXCEPT"} for w in found)


def _distractors_not_in(citation_text: str, distractors: Sequence[str], numeric: bool) -> bool:
    if numeric:
        stated = find_amounts(citation_text)
        for d in distractors:
            a = parse_option(d)
            if a is None or any(states(s, a) for s in stated) or text_contains(citation_text, d):
                return False
        return True
    # entity options: a distractor may be named in the citation only as normal/negative/absent
    for d in distractors:
        for m in re.finditer(re.escape(normalise(d)), normalise(citation_text)):
            window = normalise(citation_text)[max(0, m.start() - 120) : m.end() + 120]
            if not re.search(r"\b(?:normal|negative|no|absent|without)\b", window):
                return False
    return True
