"""Question stems written from the dependency parse of one cited sentence.

A *target* is what the item asks for: a quantity of the sentence ("1-2 days", "20%") or a named
thing (a member of a list the main verb governs, the agent of a passive, the object of "with"/"by",
the complement of "be"). The stem is the sentence turned into a question about it:

1. the target's words become a wh-phrase chosen from what the target is ("how many days",
   "what percentage", "what amount", "which of the following");
2. the constituent of the main verb that holds the target moves to the front;
3. subject and verb invert: the first auxiliary moves ("can symptoms last"), a copula moves
   ("is the dose"), or do-support carries the tense ("do symptoms resolve", via lemminflect);
4. a passive whose agent is asked is made active ("Which of the following causes X?").

When the parse does not give that shape cleanly (no subject, a negated verb, the target inside a
relative clause, a list, an anaphor without antecedent), the writer returns a cloze of the
sentence instead, or nothing. Every stem then passes :func:`qa_service.quiz.grammar.check_stem`.
Nothing here names a disease, drug or test: the parse and the quantity's unit decide everything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from qa_service.quiz.nlp import base_form, do_support, inflect, plural
from qa_service.quiz.quantities import Amount, dimension

# Dependencies a target may hang from on its way up to the main verb (anything else: a clause of its own).
_CHAIN = {
    "prep",
    "pobj",
    "dobj",
    "attr",
    "npadvmod",
    "nummod",
    "compound",
    "quantmod",
    "nmod",
    "amod",
    "advmod",
    "pcomp",
    "nsubj",
    "nsubjpass",
    "agent",
    "appos",
    "acomp",
    "oprd",
    "dative",
    "conj",
    "cc",
    "det",
    "poss",
}
MAX_LEADING_WORDS = 10
# Words a fronted phrase may carry besides the wh-phrase ("with which of the following", "of what amount"):
# more, and the question starts with a clause the reader must hold before the verb comes.
MAX_FRONT_EXTRA_WORDS = 4
_SUBJECTS = {"nsubj", "nsubjpass", "csubj", "csubjpass", "expl"}
_COMPARATOR_WORDS = {
    ">": "more than",
    "<": "less than",
    "≥": "at least",
    "≤": "at most",
    ">=": "at least",
    "<=": "at most",
}
# Leading words that refer back to an earlier sentence: a stem made from them has no antecedent.
_ANAPHOR_TAGS = {"PRP", "DT"}


@dataclass
class Stem:
    """A question (or cloze) and what it asks."""

    text: str  # without the source phrase
    natural: bool  # a real question (False: a cloze)
    wh: str


def _words(tokens: list[Any]) -> str:
    return "".join(t.text_with_ws for t in tokens).strip()


def _subtree(tok: Any) -> list[Any]:
    return list(tok.subtree)


def _tidy(text: str) -> str:
    text = re.sub(r"\s+([,;:?.!)\]])", r"\1", text)
    text = re.sub(r"([(\[])\s+", r"\1", text)
    text = re.sub(r",\s*,", ",", text)
    text = re.sub(r"\s{2,}", " ", text)
    return text.strip(" ,;:")


def unit_words(a: Amount) -> str:
    """The unit in words for a stem: "micrograms per kilogram per day", "days", "cases"."""
    if a.pint_unit is None:
        return a.unit
    parts = [p.strip() for p in a.pint_unit.split("/")]
    words = []
    for i, p in enumerate(parts):
        name = p.replace("_", " ")
        if " ** " in name or "**" in name:
            return ""
        words.append(plural(name) if i == 0 else name)
    return " per ".join(words)


def quantity_wh(a: Amount, governs_of: bool) -> str | None:
    """The wh-phrase that asks for ``a`` ("how many days", "what percentage", "what amount")."""
    dim = dimension(a) or ""
    if a.pint_unit is None:
        return f"how many {a.unit}" if a.unit and a.unit.isalpha() and a.unit.islower() else None
    if a.pint_unit in {"percent", "permille"}:
        return "what percentage"
    if dim == "[time]":
        words = unit_words(a)
        return f"how many {words}" if words else None
    if "[mass]" in dim or "[substance]" in dim or "[international_unit]" in dim:
        return (
            "what amount"
            if governs_of
            else "what dose"
            if "/" in a.pint_unit and "[time]" in dim
            else "what amount"
        )
    if "[temperature]" in dim:
        return "what temperature"
    return "what value"


def _comparator_words(a: Amount) -> str:
    c = a.comparator.strip().lower()
    return _COMPARATOR_WORDS.get(c, c)


def target_tokens(doc: Any, start: int, end: int) -> list[Any] | None:
    """The tokens of a character span, widened by modifiers such as "about" or "approximately"."""
    span = doc.char_span(start, end, alignment_mode="expand")
    if span is None or len(span) == 0:
        return None
    tokens = list(span)
    inside = {t.i for t in tokens}
    i = tokens[0].i - 1
    # the article of the key goes with it when a wh-phrase replaces the noun phrase
    if i >= 0 and doc[i].dep_ == "det" and doc[i].lower_ in {"a", "an", "the"} and doc[i].head.i in inside:
        tokens.insert(0, doc[i])
        inside.add(i)
        i -= 1
    while i >= 0 and doc[i].dep_ in {"advmod", "quantmod"} and doc[i].head.i in inside and doc[i].is_alpha:
        tokens.insert(0, doc[i])
        inside.add(i)
        i -= 1
    return tokens


def _constituent(root: Any, tokens: list[Any]) -> Any | None:
    """The child of the main verb whose subtree holds the target, or None when it sits in a clause of its own."""
    inside = {t.i for t in tokens}
    heads = [t for t in tokens if t.head.i not in inside or t.head.i == t.i]
    if not heads:
        return None
    t = heads[0]
    while t.head.i != t.i and t.head.i != root.i:
        if t.dep_ not in _CHAIN:
            return None
        t = t.head
    if t.i == root.i or t.dep_ not in _CHAIN | {"prep", "advmod", "npadvmod", "agent"}:
        return None
    return t


def question(doc: Any, tokens: list[Any], wh: str) -> str | None:
    """``doc`` (one declarative sentence) turned into a question for which ``tokens`` are the answer."""
    sents = list(doc.sents)
    if len(sents) != 1:
        return None
    root = sents[0].root
    if root.pos_ not in {"VERB", "AUX"} or any(c.dep_ == "neg" for c in root.children):
        return None
    if root.tag_ in {"VBG", "VB"} and not any(c.dep_ in {"aux", "auxpass"} for c in root.children):
        return None  # a fragment or an imperative: no finite verb to invert
    subjects = [c for c in root.children if c.dep_ in _SUBJECTS]
    if len(subjects) != 1 or subjects[0].i > root.i:
        return None
    subj = subjects[0]
    if subj.tag_ in _ANAPHOR_TAGS or subj.lower_ in {"this", "these", "it", "they", "those", "such"}:
        return None
    if any(ch.dep_ == "conj" and ch.pos_ in {"VERB", "AUX"} for ch in root.children):
        return None  # two clauses: a question can ask about one
    c = _constituent(root, tokens)
    if c is None:
        return None
    inside = {t.i for t in tokens}
    aside = _parenthetical(doc)
    if inside & aside:
        return None
    head = next((t for t in tokens if t.head.i not in inside or t.head.i == t.i), tokens[0])
    if wh in {"what", "which of the following"} and any(
        ch.i not in inside | aside and not ch.is_punct for ch in head.children if ch.i > head.i
    ):
        return None  # a modifier or a conjunct of a named key would stay behind the wh-phrase ("which ... and/or surgery")

    def replaced(sub: list[Any]) -> str:
        out: list[str] = []
        placed = False
        for t in sub:
            if t.i in aside:
                continue
            if t.i in inside:
                if not placed:
                    out.append(wh + " ")
                    placed = True
                continue
            out.append(t.text_with_ws)
        return "".join(out)

    end_punct = {t.i for t in doc if t.is_punct and t.i == len(doc) - 1}
    connective = _connective(doc)
    if c.i == subj.i or c.i in {t.i for t in subj.subtree}:
        body = replaced([t for t in doc if t.i not in end_punct | aside | connective])
        return _finish(body)
    c_sub = _subtree(c)
    c_idx = {t.i for t in c_sub}
    subj_idx = {t.i for t in subj.subtree}
    auxes = [ch for ch in root.children if ch.dep_ in {"aux", "auxpass"} and ch.i < root.i]
    pre: list[Any] = []
    for t in doc:
        if t.i >= subj.left_edge.i:
            break
        if t.i not in c_idx | aside | connective:
            pre.append(t)
    if len(pre) > MAX_LEADING_WORDS:
        pre = []  # a long lead-in: the question stands without it
    moved = {auxes[0].i} if auxes else set()
    rest_tokens = [t for t in doc if t.i > subj.right_edge.i and t.i not in c_idx | end_punct | moved | aside]
    if c.dep_ == "agent" and auxes and any(a.dep_ == "auxpass" for a in auxes):
        # "X is caused by Y" asked for Y: "Which of the following causes X?"
        tense = "VBD" if any(a.tag_ == "VBD" for a in auxes) else "VBZ"
        if any(a.dep_ == "aux" for a in auxes):
            return None
        others = [t for t in rest_tokens if t.i != root.i and t.dep_ != "auxpass"]
        obj = _words([t for t in doc if t.i in subj_idx and t.i not in aside])
        body = f"{replaced(c_sub).strip()} {inflect(root.lemma_, tense)} {_lc(subj, obj)} {_words(others)}"
        body = re.sub(r"^by\s+", "", body.strip(), flags=re.IGNORECASE)
        return _finish(f"{_words(pre).rstrip(',')}, {body}" if pre else body)
    subject = _lc(subj, _words([t for t in doc if t.i in subj_idx and t.i not in aside]))
    lead_token = next((t for t in c_sub if t.i not in aside), None)
    if lead_token is not None and lead_token.i not in inside and lead_token.pos_ != "ADP":
        return None  # only the wh-phrase or a preposition governing it can move to the front
    front = replaced(c_sub).strip()
    if (
        root.lemma_ == "be"
        and not auxes
        and c.dep_ in {"attr", "advmod", "npadvmod", "acomp"}
        and any(t.i in inside and t.pos_ in {"NOUN", "NUM", "PROPN"} for t in c_sub)
    ):
        # "The dose is 1000 μg intramuscularly" -> "What is the dose intramuscularly?"
        front = "what"
        rest_tokens = sorted(rest_tokens + [t for t in c_sub if t.i not in inside], key=lambda t: t.i)
    elif len(front.split()) - len(wh.split()) > MAX_FRONT_EXTRA_WORDS:
        return None
    if auxes:
        lead_aux = auxes[0].text.lower()
        rest_words = [t.text_with_ws for t in rest_tokens]
        body = f"{front} {lead_aux} {subject} {''.join(rest_words)}"
    elif root.lemma_ == "be":
        rest_words = [t.text_with_ws for t in rest_tokens if t.i != root.i]
        body = f"{front} {root.text.lower()} {subject} {''.join(rest_words)}"
    else:
        do = do_support(root)
        rest_words = [
            (base_form(t) + t.whitespace_) if t.i == root.i else t.text_with_ws for t in rest_tokens
        ]
        body = f"{front} {do} {subject} {''.join(rest_words)}"
    if pre:
        body = f"{_words(pre).rstrip(',')}, {body}"
    return _finish(body)


def _connective(doc: Any) -> set[int]:
    """Leading words that only link to the sentence before: a conjunction ("And ..."), or adverbs set off
    by a comma ("However,", "Interestingly,"). "Sometimes" (no comma) says how often and stays."""
    out: set[int] = set()
    i = 0
    if len(doc) and doc[0].pos_ == "CCONJ":
        out.add(0)
        i = 1
    j = i
    while j < len(doc) and doc[j].pos_ == "ADV":
        j += 1
    if j > i and j < len(doc) and doc[j].text == ",":
        out |= set(range(i, j + 1))
    return out


def _parenthetical(doc: Any) -> set[int]:
    """Token indices inside parentheses or brackets (with the brackets): asides a question leaves out."""
    out: set[int] = set()
    depth = 0
    for t in doc:
        if t.text in {"(", "["}:
            depth += 1
        if depth:
            out.add(t.i)
        if t.text in {")", "]"} and depth:
            depth -= 1
    return out


def _lc(token: Any, text: str) -> str:
    """Lower-case the first letter of a phrase moved from the start of the sentence, unless a name or an acronym."""
    first = token.doc[token.left_edge.i]
    if first.pos_ == "PROPN" or (len(first.text) > 1 and first.text[1:2].isupper()) or first.ent_type_:
        return text
    return text[:1].lower() + text[1:]


def _finish(body: str) -> str:
    body = _tidy(body.rstrip(" .;:"))
    return body[:1].upper() + body[1:] + "?"


def cloze(doc: Any, start: int, end: int, sentence: str) -> str | None:
    """The sentence with the target blanked, when the sentence is a whole statement on its own."""
    sents = list(doc.sents)
    if len(sents) != 1 or len(sentence) > 300:
        return None
    root = sents[0].root
    if root.pos_ not in {"VERB", "AUX"} or not any(c.dep_ in _SUBJECTS for c in root.children):
        return None
    first = doc[0]
    if first.lower_ in {"this", "these", "it", "they", "those", "such", "he", "she"}:
        return None
    rest = sentence[end:]
    gloss = re.match(r"\s*\([^()]{1,60}\)", rest)
    if gloss:
        rest = rest[gloss.end() :]  # "fatigue (tiredness)": a gloss of the key gives it away
    blanked = sentence[:start] + "_____" + rest
    return blanked.rstrip(" .")
