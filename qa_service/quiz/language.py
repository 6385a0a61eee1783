"""Small English helpers for writing stems: case, verb forms, subject-auxiliary inversion.

Verb forms come from a few rules and a small table of irregular forms (see ``lemma``).
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

logger = logging.getLogger(__name__)

AUXILIARIES = ("may", "can", "could", "should", "must", "will", "would", "might", "is", "are", "was", "were")
# Capitalised words that stay capitalised mid-sentence (genus names, eponyms).
_PROPER = {
    "helicobacter",
    "imerslund-gräsbeck",
    "imerslund",
    "escherichia",
    "streptococcus",
    "staphylococcus",
}
ANAPHORS = re.compile(r"^(?:these|this|those|such|it|they|the same)\b", re.IGNORECASE)


def lc_first(text: str) -> str:
    """Lower-case the first letter unless the first word is an acronym or a name ("MCV", "B12", "Helicobacter")."""
    if not text:
        return text
    first = text.split()[0]
    if (
        first.lower() in _PROPER
        or not first[:1].isupper()
        or (len(first) > 1 and not first[1:].replace("-", "").islower())
    ):
        return text
    return text[0].lower() + text[1:]


def uc_first(text: str) -> str:
    """Upper-case the first letter."""
    return text[:1].upper() + text[1:] if text else text


# Irregular or ambiguous forms met in clinical prose; everything else follows the rules below.
_IRREGULAR = {
    "was": "be",
    "were": "be",
    "is": "be",
    "are": "be",
    "has": "have",
    "had": "have",
    "did": "do",
    "does": "do",
    "became": "become",
    "began": "begin",
    "grew": "grow",
    "fell": "fall",
    "rose": "rise",
    "took": "take",
    "gave": "give",
    "showed": "show",
    "shown": "show",
    "led": "lead",
    "left": "leave",
    "found": "find",
    "returned": "return",
    "appeared": "appear",
    "occurred": "occur",
    "treated": "treat",
    "required": "require",
    "improved": "improve",
    "developed": "develop",
    "presented": "present",
    "remained": "remain",
    "revealed": "reveal",
    "worsened": "worsen",
    "used": "use",
    "normalized": "normalize",
    "normalised": "normalise",
}


@lru_cache(maxsize=2048)
def lemma(word: str) -> str:
    """The base form of a verb ("resolved" -> "resolve", "becomes" -> "become", "returned" -> "return").

    Rules rather than a lexicon package: loading one costs seconds per process, and
    stems only ever need the handful of finite verbs clinical sentences use.
    """
    w = word.lower()
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    if w.endswith("ied") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith("ed") and len(w) > 4 and not w.endswith("eed"):
        base = w[:-2]
        if len(base) > 2 and base[-1] == base[-2] and base[-1] not in "lsz":
            return base[:-1]  # stopped -> stop
        if re.search(r"(?:[vzcgu]|(?<!s)(?<!cu)s|(?<![eo])at|ut|(?<!o)ot|(?<=l)et|uir|ur)$", base):
            return base + "e"  # resolved, normalised, initiated, required
        return base
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if re.search(r"(?:ss|sh|ch|x|z)es$", w):
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 3:
        return w[:-1]
    return w


def participle(verb: str) -> str:
    """The past participle of a regular base-form verb ("check" -> "checked", "measure" -> "measured")."""
    v = verb.lower()
    if v.endswith("e"):
        return v + "d"
    if re.search(r"[^aeiou]y$", v):
        return v[:-1] + "ied"
    return v + "ed"


def is_past(word: str) -> bool:
    """Whether a verb form is past tense (regular -ed or a known irregular)."""
    w = word.lower()
    return w.endswith("ed") or w in {
        "was",
        "were",
        "became",
        "showed",
        "began",
        "grew",
        "fell",
        "rose",
        "took",
        "had",
    }


def is_third_person(word: str) -> bool:
    """Whether a present-tense verb form takes 'does' ("becomes", "lasts")."""
    w = word.lower()
    return w.endswith("s") and not w.endswith("ss") and lemma(w) != w


def do_support(verb: str) -> tuple[str, str]:
    """('did'|'does'|'do', base form) for a lexical verb without an auxiliary."""
    base = lemma(verb)
    if is_past(verb):
        return "did", base
    if is_third_person(verb):
        return "does", base
    return "do", base


def be_for(noun_phrase: str) -> str:
    """'are' for a plural head noun ("peak plasma levels"), else 'is'."""
    head = noun_phrase.split()[-1].lower() if noun_phrase.split() else ""
    return "are" if head.endswith("s") and not head.endswith(("ss", "is", "us")) else "is"


def strip_discourse(text: str) -> str:
    """Drop a leading connective ("However, ", "Biologically, ", "In this context of deficiency, ")."""
    m = re.match(r"^(?:[A-Z][\w-]*(?:\s+[\w-]+){0,5}),\s+(?=[a-zA-Z])", text)
    if m and not re.search(r"\b(?:was|were|is|are)\b", m.group(0)):
        return text[m.end() :]
    return text
