"""Entity items from case reports: which test was abnormal (or positive), among tests the report says were normal.

A case report names what was tested and found normal or negative ("Serum folate
levels were normal", "Testing for anti-parietal cell antibodies was negative").
Those are the best wrong options there are: plausible (the authors thought them
worth testing) and stated false by the source. The key is a test the same
person's work-up found abnormal or positive ("transaminases elevated",
"Helicobacter pylori testing was positive"). Whose work-up (the patient's or the
mother's) comes from :mod:`qa_service.quiz.evidence`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.lexical import stem_terms
from qa_service.quiz.distractors import Candidate
from qa_service.quiz.evidence import Evidence, Sentence
from qa_service.quiz.language import strip_discourse, uc_first
from qa_service.quiz.stems import StemContext

MIN_NEGATIVES = 3
_SPLIT = re.compile(r",\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+")
_NEGATIVE_PATTERNS = (
    re.compile(r"^Testing for (?P<list>.+?) (?:was|were) negative", re.IGNORECASE),
    re.compile(r"^(?P<list>[^,]+?) (?:testing|tests?|screening) (?:was|were) negative", re.IGNORECASE),
    re.compile(
        r"^(?:Other )?(?:investigations|tests|laboratory tests|work-?up), including (?P<list>.+?), (?:was|were) normal",
        re.IGNORECASE,
    ),
    re.compile(
        r"^(?P<list>[A-Za-z][\w\s-]+?(?: levels?| counts?| concentrations?)) (?:was|were) normal\b",
        re.IGNORECASE,
    ),
)
_POSITIVE_PATTERNS = (
    re.compile(r"^(?P<list>[^,]+?) (?:testing|tests?) (?:was|were) positive", re.IGNORECASE),
    re.compile(r"^Testing for (?P<list>.+?) (?:was|were) positive", re.IGNORECASE),
    re.compile(
        r"\bexcept for\b.*?\bwith (?P<list>[\w\s-]+?) (?:elevated|increased|raised|decreased|reduced)\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"^(?P<list>[A-Za-z][\w\s-]+?)(?: levels?| counts?| concentrations?)? (?:was|were) (?:\w+ly )?"
        r"(?:decreased|elevated|increased|reduced|raised|low|high|abnormal)\b",
        re.IGNORECASE,
    ),
)


@dataclass
class Finding:
    """One tested thing and what was found."""

    name: str
    abnormal: bool
    sentence: Sentence


@dataclass
class FindingItem:
    """A finding item ready for the generator."""

    sentence: Sentence
    stem: str
    key_text: str
    candidates: list[Candidate] = field(default_factory=list)


def _entities(raw: str) -> list[str]:
    out = []
    for part in _SPLIT.split(raw):
        part = re.sub(r"^(?:the|a|an)\s+", "", part.strip(), flags=re.IGNORECASE)
        part = re.sub(r"\s+(?:levels?|concentrations?)$", "", part, flags=re.IGNORECASE)
        part = re.sub(r"\bcounts$", "count", part)
        if (
            part
            and len(part.split()) <= 5
            and not re.search(r"\d|\b(?:was|were|is|are|examination)\b", part, re.IGNORECASE)
        ):
            out.append(part)
    return out


def _findings(s: Sentence) -> list[Finding]:
    out: list[Finding] = []
    seen: set[tuple[str, bool]] = set()
    for clause in re.split(
        r",\s+(?:while|whereas|but|and)\s+(?=\w+(?:\s+\w+)?\s+(?:levels?\s+)?(?:was|were)\b)|;\s+", s.clean
    ):
        # try the clause as written and without a leading connective ("However, ...")
        for text in dict.fromkeys((clause, strip_discourse(clause))):
            for positive, patterns in ((True, _POSITIVE_PATTERNS), (False, _NEGATIVE_PATTERNS)):
                for pattern in patterns:
                    m = pattern.search(text)
                    if not m:
                        continue
                    for e in _entities(m.group("list")):
                        if (e.lower(), positive) not in seen:
                            seen.add((e.lower(), positive))
                            out.append(Finding(e, positive, s))
                    break
    return out


def find_items(evidence: Evidence, ctx: StemContext) -> list[FindingItem]:
    """At most one item per (document, whose work-up) with a positive key and three or more negatives."""
    topic_terms = set(stem_terms(evidence.topic))
    groups: dict[tuple[str, str], list[Finding]] = {}
    for s in evidence.sentences:
        if not s.case_specific or s.scope is None:
            continue
        for f in _findings(s):
            groups.setdefault((s.doc.doc_id, s.scope), []).append(f)
    items: list[FindingItem] = []
    for (_, scope), found in groups.items():
        abnormal = {f.name.lower() for f in found if f.abnormal}
        keys = [
            f
            for f in found
            if f.abnormal
            and f.sentence.relevance > 0
            and not (set(stem_terms(f.name)) & topic_terms)
            and (scope == "mother" or f.sentence.phase == "presentation")
        ]
        negatives: dict[str, Finding] = {}
        for f in found:
            if not f.abnormal and f.name.lower() not in abnormal:
                negatives.setdefault(f.name.lower(), f)
        if not keys or len(negatives) < MIN_NEGATIVES:
            continue
        key = keys[0]
        whom = (
            "the mother's work-up" if scope == "mother" else f"the {key.sentence.doc.patient} at presentation"
        )
        what = "test result" if _is_testing(key) else "laboratory result"
        verb = "positive" if _is_testing(key) else "abnormal"
        stem = f"In the case report, which {what} was {verb} in {whom}?"
        candidates = [
            Candidate(
                uc_first(f.name),
                None,
                "negative",
                f"Reported {'negative' if _is_testing(f) else 'normal'}",
                f.sentence,
            )
            for f in negatives.values()
        ]
        items.append(FindingItem(key.sentence, stem, uc_first(key.name), candidates))
    return items


def _is_testing(f: Finding) -> bool:
    return bool(
        re.search(
            r"\btesting\b|\btests?\b.*\b(?:positive|negative)\b|\bpositive\b|\bnegative\b",
            f.sentence.clean,
            re.IGNORECASE,
        )
    )
