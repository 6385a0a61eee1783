"""What an item can ask of a sentence, read from its parse: quantities and named things in a role.

A *target* is a span of the sentence plus its *frame*: the role it plays (``list`` member of
what the main verb governs, ``agent`` of a passive, ``with``/``by`` object, ``attr`` complement
of "be") and the main verb's lemma. Named things that fill the same frame in other sentences
are things of the same kind ("include" lists of symptoms, agents of "cause"): the first place
distractors come from. Quantities are targets too; their kind is their unit's dimension.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from qa_service.quiz.quantities import Amount

MAX_ENTITY_WORDS = 7
_NOMINAL = {"NOUN", "PROPN"}
_DEMONSTRATIVES = {"this", "that", "these", "those"}
_ARTICLES = {"a", "an", "the"}


@dataclass
class Target:
    """One thing a sentence states that an item can ask for."""

    start: int  # characters in the sentence's clean text: the span the wh-phrase replaces
    end: int
    key_text: str  # the key option
    kind: str  # "quantity" | "entity"
    frame: str  # "list:include", "agent:cause", "with:treat", "attr:be", or a quantity's dimension
    amount: Amount | None = None
    wh: str = "which of the following"
    siblings: list[str] = field(
        default_factory=list
    )  # other members of the key's list: true, never distractors
    ent_type: str = ""
    cloze_only: bool = (
        False  # a list member: asked as a cloze of its own sentence (its siblings stay in view)
    )


def phrase(tok: Any, drop: set[str] | None = None) -> tuple[int, int, str]:
    """Character span and text of a token's phrase, without its conjuncts, relative or adverbial clauses."""
    drop = drop or {"conj", "cc", "punct", "relcl", "acl", "advcl", "appos", "parataxis"}
    tokens = [tok]
    stack = [c for c in tok.children if c.dep_ not in drop]
    while stack:
        t = stack.pop()
        tokens.append(t)
        stack.extend(t.children)
    tokens.sort(key=lambda t: t.i)
    # a contiguous run around the head only
    idx = [t.i for t in tokens]
    lo = hi = tok.i
    while lo - 1 in idx:
        lo -= 1
    while hi + 1 in idx:
        hi += 1
    doc = tok.doc
    if hi - lo + 1 < len(tokens):
        return tok.idx, tok.idx, ""  # an aside cuts the phrase ("sputum (mucus) production"): no clean name
    while lo < hi and (doc[lo].is_punct or doc[lo].pos_ in {"CCONJ", "ADP"} or doc[lo].lower_ in _ARTICLES):
        lo += 1  # an article stays in the sentence: options carry none, so none cues the key
    while hi > lo and (doc[hi].is_punct or doc[hi].pos_ in {"CCONJ", "ADP", "DET"}):
        hi -= 1
    span = doc[lo : hi + 1]
    return span.start_char, span.end_char, span.text


def name_problem(doc: Any, start: int, end: int) -> str | None:
    """Why a phrase cannot be a key or a distractor, or None: a pronoun, a possessive or a demonstrative
    ("your doctor", "these medicines": they point elsewhere), or no noun at its head ("pulmonary")."""
    span = doc.char_span(start, end, alignment_mode="expand")
    if span is None or len(span) == 0:
        return "not_in_parse"
    if any(
        t.tag_ in {"PRP", "PRP$", "WP", "WDT", "EX"} or (t.tag_ == "DT" and t.lower_ in _DEMONSTRATIVES)
        for t in span
    ):
        return "pronoun_in_name"
    if any(t.dep_ == "neg" or (t.dep_ == "det" and t.lower_ == "no") for t in span):
        return "negated_name"  # "no anaemia": an absence, not a thing
    if span.root.pos_ not in _NOMINAL:
        return "no_noun"
    words = [t.lower_ for t in span if not t.is_punct]
    if any(t.text in {",", "(", ")", "[", "]"} for t in span) or any(a == b for a, b in pairwise(words)):
        return (
            "run_in_heading"  # "Medicines Medicines can ...", "AAT, deficiency": a heading run into the text
        )
    words_tc = [t for t in span if len(t.text) > 1 and t.pos_ != "DET"]
    if len(words_tc) >= 2 and all(t.text[:1].isupper() and t.text[1:].islower() for t in words_tc):
        return "run_in_heading"  # "Natural Treatments For many people, ...": Title Case that names nothing
    first = span[0]
    if (first.tag_ in {"DT", "PDT"} and first.lower_ not in {"a", "an", "the"}) or (
        first.pos_ in {"ADJ", "ADV"} and first.is_stop
    ):
        return "quantified_name"  # "each air sac", "both hemodialysis", "many people": a share of a kind
    if first.pos_ == "ADV":
        return "adverb_in_name"  # "especially citrus fruits", "more severe falls": not the thing itself
    return None


def _named_term(head: Any, lo: int, hi: int) -> bool:
    """A proper name, or a noun made specific by a modifier ("intraocular pressure", "plaque psoriasis"):
    a bare common noun in the subject ("Patients ...", "Treatment ...") is what the sentence talks about,
    not a fact it states."""
    if head.pos_ == "PROPN" or head.ent_type_:
        return True
    # a modifier that specifies ("intraocular"), not one that counts or points ("other", "many": stop words)
    return any(
        c.dep_ in {"compound", "amod", "nmod", "npadvmod"} and lo <= c.idx < hi and not c.is_stop
        for c in head.children
    )


def _members(head: Any) -> list[Any]:
    """A list's members: the head and its conjuncts (recursively)."""
    out = [head]
    for c in head.children:
        if c.dep_ == "conj" and c.pos_ in _NOMINAL:
            out.extend(_members(c))
    return out


def entity_targets(doc: Any) -> list[Target]:
    """Named things the sentence states in a role an item can ask about."""
    sents = list(doc.sents)
    if len(sents) != 1:
        return []
    root = sents[0].root
    if root.pos_ not in {"VERB", "AUX"} or any(c.dep_ == "neg" for c in root.children):
        return []
    out: list[Target] = []
    verb = root.lemma_.lower()
    passive = any(c.dep_ == "auxpass" for c in root.children)
    has_complement = any(c.dep_ in {"dobj", "attr", "prep", "agent", "acomp", "xcomp"} for c in root.children)
    for c in root.children:
        slots: list[tuple[Any, str]] = []
        listed = _listed(c)
        if listed is not None:
            # "choices such as A, B and C help ...", "break bones in the hip, spine, and wrist"
            out.extend(
                _list_targets(doc, listed, verb, "subject" if c.dep_ in {"nsubj", "nsubjpass"} else "list")
            )
            continue
        if (
            c.dep_ == "nsubj"
            and c.pos_ in _NOMINAL
            and has_complement
            and root.lemma_ != "be"
            and not any(
                p.dep_ == "prep" for p in c.children
            )  # "risk factors for X include ...": asks the list
            and not any(len(_members(o)) > 1 for o in root.children if o.dep_ in {"dobj", "attr"})
        ):
            slots.append((c, "subject"))
        elif c.dep_ in {"dobj", "attr"} and c.pos_ in _NOMINAL:
            slots.append((c, "dobj" if c.dep_ == "dobj" else "attr"))
        elif c.dep_ == "agent" or (
            c.dep_ == "prep" and ((c.lower_ == "with" and c.i > root.i) or (c.lower_ == "by" and passive))
        ):
            slots.extend(
                (p, "agent" if c.dep_ == "agent" else c.lower_)
                for p in c.children
                # "with higher rates observed in ...": an absolute clause, not an instrument
                if p.dep_ == "pobj" and not any(g.pos_ == "VERB" for g in p.children)
            )
        for head, role in slots:
            if head.pos_ not in _NOMINAL:
                continue
            members = _members(head)
            # "such as A, B and C" inside the slot: the list is what the item asks for
            for t in head.subtree:
                if (
                    t.dep_ == "pobj"
                    and t.head.dep_ == "prep"
                    and t.head.lower_ in {"as", "including"}
                    and len(_members(t)) >= 2
                ):
                    members = _members(t)
                    break
            if len(members) >= 2:
                spans = [phrase(m) for m in members]
                names = [sp[2] for sp in spans]
                for (lo, hi, name), m in zip(spans, members):
                    if not 0 < len(name.split()) <= MAX_ENTITY_WORDS or name_problem(doc, lo, hi):
                        continue
                    if role == "subject" and not _named_term(m, lo, hi):
                        continue
                    siblings = [x for x in names if x != name]
                    out.append(
                        Target(
                            lo,
                            hi,
                            name,
                            "entity",
                            f"list:{verb}",
                            siblings=siblings,
                            ent_type=m.ent_type_,
                            cloze_only=True,
                        )
                    )
                continue
            if role == "attr" and not _relational_subject(root):
                continue
            if role == "dobj":
                continue  # a plain object names what the sentence is about more often than a fact about it
            lo, hi, name = phrase(head)
            if role == "subject" and not _named_term(head, lo, hi):
                continue
            if 0 < len(name.split()) <= MAX_ENTITY_WORDS and not name_problem(doc, lo, hi):
                wh = "what" if role == "attr" else "which of the following"
                out.append(Target(lo, hi, name, "entity", f"{role}:{verb}", wh=wh, ent_type=head.ent_type_))
    return out


def _listed(c: Any) -> Any | None:
    """The first member of a list of three or more named things in a child's phrase ("such as A, B, and C",
    "in the hip, spine, and wrist"), when the child's own head is not that list."""
    if c.dep_ in {"conj", "cc", "punct"}:
        return None
    for t in c.subtree:
        if t.dep_ == "pobj" and t.pos_ in _NOMINAL and len(_members(t)) >= 3:
            return t
    return None


def _list_targets(doc: Any, first: Any, verb: str, role: str) -> list[Target]:
    members = _members(first)
    spans = [phrase(m) for m in members]
    names = [sp[2] for sp in spans]
    out = []
    for (lo, hi, name), m in zip(spans, members):
        if not 0 < len(name.split()) <= MAX_ENTITY_WORDS or name_problem(doc, lo, hi):
            continue
        if role == "subject" and not _named_term(m, lo, hi):
            continue
        siblings = [x for x in names if x != name]
        out.append(
            Target(
                lo,
                hi,
                name,
                "entity",
                f"list:{verb}",
                siblings=siblings,
                ent_type=m.ent_type_,
                cloze_only=True,
            )
        )
    return out


def _relational_subject(root: Any) -> bool:
    """The subject names a relation to something ("the most common cause of X", "treatment for Y")."""
    for c in root.children:
        if c.dep_ in {"nsubj", "nsubjpass"}:
            # "the most common cause of X", "treatment for Y" (not "foods, like meat": an example, no relation)
            return c.pos_ in _NOMINAL and any(
                p.dep_ == "prep" and p.lower_ in {"of", "for"} for p in c.children
            )
    return False


def fillers(doc: Any) -> list[Target]:
    """Every named thing a sentence states in any frame (candidates for distractors)."""
    return entity_targets(doc)
