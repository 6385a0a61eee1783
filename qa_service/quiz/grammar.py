"""The grammar check every stem passes: it parses as one question (or one cloze statement), nothing dangles.

A stem fails when (each a named reason, shown by ``medcite quiz --explain``):

- ``not_one_question``: it does not end in exactly one question mark, brackets or quotes are unbalanced;
- ``no_main_verb``: the parse has no finite verb at its root (a fragment);
- ``no_question_word``: a question with no wh-word before its main verb, nor an inverted auxiliary;
- ``no_subject``: the main verb has no subject and the wh-phrase is not the subject either;
- ``dangling_clause``: a subordinator ("because", "that", "if") whose clause has no verb, a clause
  opener right after an auxiliary ("can because ..."), a second finite verb stacked on an
  auxiliary ("is ... must start expected"), or a stem ending in a preposition, article or conjunction;
- ``too_long``: more than ``MAX_QUESTION_WORDS`` words; ``two_clauses``: two clauses with their own subjects;
- ``repeated_word``: the same word twice in a row ("is is");
- ``question_word_mismatch``: "how soon/long/often" asked of a copula with a noun complement;
- ``no_antecedent``: a pronoun or demonstrative that points back to an earlier sentence ("can also
  cause it", "these medicines", "this form of surgery"): read alone, the stem does not say what it asks;
- ``gap_left``: a preposition with nothing after it but a conjunction ("a pressure of or lower");
- ``run_in_heading``: a capitalised function word inside the text ("Genetic Factors In a small number").

A cloze is checked as the statement it quotes, with the blank read as a noun phrase. A labelled entry
("Initial dosing: _____ intramuscularly") is a statement too: a short label, then a noun phrase.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

from qa_service.quiz.nlp import parse

_WH_TAGS = {"WDT", "WP", "WP$", "WRB"}
_SUBJECTS = {"nsubj", "nsubjpass", "csubj", "csubjpass", "expl"}
# Words that point back to something named before (their tags say which use: "that" as a relative is WDT).
_ANAPHORS = {
    "it",
    "its",
    "they",
    "them",
    "their",
    "this",
    "these",
    "those",
    "that",
    "such",
    "he",
    "she",
    "his",
    "her",
    "other",
    "others",
}
_LABEL = re.compile(r"^(?P<label>[^:.;!?()]{2,60}):\s+(?P<body>\S.*)$", re.DOTALL)
_SOURCE = re.compile(r"^(?:According to|In) “[^”]+”,\s*|^According to the source,\s*")
_CLOZE = re.compile(
    r"^(?P<lead>.*?[Cc]ompletes the statement)(?: on [^:]+)?:\s*“(?P<statement>.+)”\?$", re.DOTALL
)
BLANK = "_____"
MAX_QUESTION_WORDS = 32


def _balanced(text: str) -> bool:
    pairs = {"(": ")", "[": "]", "“": "”"}
    stack: list[str] = []
    for ch in text:
        if ch in pairs:
            stack.append(pairs[ch])
        elif ch in pairs.values() and (not stack or stack.pop() != ch):
            return False
    return not stack and text.count('"') % 2 == 0


def check_stem(stem: str) -> str | None:
    """None when ``stem`` is a well-formed question or cloze; else the name of the first failed check."""
    stem = stem.strip()
    if not stem.endswith("?") or stem.count("?") != 1 or not _balanced(stem):
        return "not_one_question"
    cloze = _CLOZE.match(stem)
    if cloze:
        statement = cloze.group("statement").replace(BLANK, "something", 1)
        if BLANK in statement:
            return "not_one_question"
        return check_statement(statement + ".")
    body = _SOURCE.sub("", stem)
    if re.search(r"[:;]|\(\s*\)", body):
        return "not_one_question"
    if len(body.split()) > MAX_QUESTION_WORDS:
        return "too_long"
    words = body.lower().split()
    if any(a == b and a.isalpha() for a, b in pairwise(words)):
        return "repeated_word"
    if re.search(r"\b(?:another|every|each|the|a|an)\s+(?:how|what|which)\b", body, re.IGNORECASE):
        return "dangling_clause"  # "within another how many weeks": the key's determiner left behind
    if re.search(r"\b(?:which of the following|what)\s+(?:who|that|which|whose)\b", body, re.IGNORECASE):
        return "dangling_clause"  # the wh-phrase took the head and left its relative clause behind
    doc = parse(body)
    if _run_in_heading(doc):
        return "run_in_heading"
    sents = list(doc.sents)
    if len(sents) != 1:
        return "not_one_question"
    root = sents[0].root
    if root.pos_ not in {"VERB", "AUX"}:
        return "no_main_verb"
    wh = [t for t in doc if t.tag_ in _WH_TAGS and t.i < root.i]
    inverted = doc[0].pos_ == "AUX"
    if not wh and not inverted:
        return "no_question_word"
    if anaphor(doc):
        return "no_antecedent"
    if (
        root.lemma_ == "be"
        and any(t.lower_ in {"soon", "often"} for t in doc[: root.i])
        and not any(c.pos_ in {"VERB", "ADJ"} for c in root.children)
    ):
        return "question_word_mismatch"  # "how soon are these cases first strokes?"
    if any(
        c.dep_ == "conj" and c.pos_ in {"VERB", "AUX"} and any(g.dep_ in _SUBJECTS for g in c.children)
        for c in root.children
    ):
        return "two_clauses"
    if not any(t.dep_ in _SUBJECTS for t in doc):
        return "no_subject"  # (where the small parser attaches a question's subject varies: any will do)
    return _dangling(doc, root)


def check_statement(text: str) -> str | None:
    """The checks for a declarative sentence (a cloze's statement), or a labelled entry."""
    entry = _LABEL.match(text)
    if entry and len(entry.group("label").split()) <= 8:
        body = parse(entry.group("body"))
        if not any(t.tag_ in {"VBZ", "VBP", "VBD", "MD"} for t in body):  # "Label: noun phrase"
            if anaphor(parse(text)):
                return "no_antecedent"
            return _dangling(body, None)
    doc = parse(text)
    if _run_in_heading(doc):
        return "run_in_heading"
    sents = list(doc.sents)
    if len(sents) != 1:
        return "not_one_question"
    root = sents[0].root
    if root.pos_ not in {"VERB", "AUX"}:
        return "no_main_verb"
    if not any(c.dep_ in _SUBJECTS for c in root.children):
        return "no_subject"
    if anaphor(doc):
        return "no_antecedent"
    return _dangling(doc, root)


def _run_in_heading(doc: Any) -> bool:
    """A capitalised function word inside the text ("Genetic Factors In a small number ..."): a heading
    run into the sentence that follows it."""
    for t in doc:
        if t.i == 0 or doc[t.i - 1].is_punct or len(t.text) < 2 or not t.text[:1].isupper():
            continue
        if t.is_stop and t.text[1:].islower():
            return True
        if any(u.lower_ == t.lower_ and u.text != t.text for u in doc[t.i + 1 : t.i + 4]):
            return True  # "Dermatitis Herpetiformis Dermatitis herpetiformis is ..."
    return False


def anaphor(doc: Any) -> bool:
    """Whether a word refers back to an earlier sentence (not an expletive "it", not a relative "that")."""
    for t in doc:
        if t.lower_ not in _ANAPHORS or t.dep_ == "expl" or t.tag_ in {"WDT", "IN"}:
            continue
        if t.lower_ == "that" and t.dep_ in {"mark", "nsubj", "nsubjpass", "dobj"} and t.head.i < t.i:
            continue  # a relative or complement "that" ("symptoms that worsen", "shows that ...")
        if t.lower_ == "such" and any(c.lower_ == "as" for c in t.head.children):
            continue  # "such as": a list follows
        if t.lower_ == "other":
            if t.i > 0 and doc[t.i - 1].lower_ == "the":
                return True  # "the other 10 percent": the rest of something said before
            continue
        if t.lower_ == "others":
            return True  # "Others are taken by mouth": the other ones of something said before
        if (
            t.lower_ in {"its", "their", "his", "her"}
            and t.head.i > t.i
            and any(
                a.dep_ in _SUBJECTS and a.i < t.i and a.pos_ in {"NOUN", "PROPN"}
                for a in t.head.head.children
            )
        ):
            continue  # bound by the subject of its own clause ("people ... keep their blood pressure")
        return True
    return False


def _dangling(doc: Any, root: Any) -> str | None:
    tokens = [t for t in doc if not t.is_space]  # type: ignore[attr-defined]
    for t in tokens:
        if t.dep_ == "mark" and t.head.pos_ not in {"VERB", "AUX"}:
            return "dangling_clause"
        if (
            t.pos_ == "AUX"
            and t.i + 1 < len(doc)
            and doc[t.i + 1].pos_ == "SCONJ"
            and doc[t.i + 1].dep_ == "mark"
        ):  # type: ignore[index]
            return "dangling_clause"
    finite = [
        t for t in tokens if t.tag_ in {"VBZ", "VBP", "VBD", "MD"} and t.dep_ in {"aux", "auxpass", "ROOT"}
    ]
    heads = {t.head.i for t in finite if t.dep_ != "ROOT"}
    for h in heads:
        if sum(1 for t in finite if t.head.i == h and t.dep_ != "ROOT") > 1 and not any(
            doc[h].children  # type: ignore[index]
            and c.dep_ == "conj"
            for c in doc[h].children  # type: ignore[index]
        ):
            return "dangling_clause"
    words = [t for t in tokens if not t.is_punct]
    for a, b in pairwise(words):
        if a.pos_ == "ADP" and a.dep_ != "prt" and b.pos_ == "CCONJ":
            return "gap_left"  # "a systolic pressure of or lower"
    if words and words[-1].pos_ in {"CCONJ", "DET", "SCONJ"}:
        return "dangling_clause"
    if (
        words
        and words[-1].pos_ == "ADP"
        and words[-1].dep_ != "prt"
        and not any(t.tag_ in _WH_TAGS for t in tokens)
    ):
        return "dangling_clause"
    return None
