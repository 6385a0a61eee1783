"""Stems written from one cited sentence.

Each writer recognises one common shape of clinical sentence and turns it into a
question whose answer is a quantity of that sentence:

- ``Label: 0.3 μg/kg/day of cobalamin`` bullets (a dose for a population or a regimen),
- case-report laboratory values (``vitamin B12 was decreased at 53 pg/mL``),
- thresholds in parentheses (``macrocytic anaemia (MCV >100 fL)``),
- doses in parentheses (``(hydroxocobalamin 1 mg three times weekly)``),
- timings and durations (``may resolve within 1-2 days of treatment initiation``),
- a quoted-sentence completion item as the last resort (``natural=False``).

A writer returns ``None`` when the sentence does not have its shape; the
generator then tries the next one. Nothing here invents a fact: every stem
restates the sentence around the quantity it asks for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from qa_service.quiz.evidence import Sentence
from qa_service.quiz.language import (
    ANAPHORS,
    AUXILIARIES,
    be_for,
    do_support,
    lc_first,
    participle,
    strip_discourse,
    uc_first,
)
from qa_service.quiz.quantities import Amount

_POPULATION = re.compile(
    r"^(?:infants?|children|child|neonates?|newborns?|adults?|adolescents?|toddlers?|women|men|patients?|elderly|"
    r"pregnant|breastfed|preterm)\b",
    re.IGNORECASE,
)
_ROUTES = {
    "intramuscular": re.compile(r"\bintramuscular(?:ly)?\b|\bIM\b", re.IGNORECASE),
    "oral": re.compile(r"\boral(?:ly)?\b", re.IGNORECASE),
    "intravenous": re.compile(r"\bintravenous(?:ly)?\b|\bIV\b", re.IGNORECASE),
    "subcutaneous": re.compile(r"\bsubcutaneous(?:ly)?\b", re.IGNORECASE),
    "parenteral": re.compile(r"\bparenteral(?:ly)?\b", re.IGNORECASE),
}
_FREQUENCY = re.compile(
    r"^(?:daily|weekly|monthly|once|twice|every|per|three times|four times|(?:one|two|three|four) times|each)\b",
    re.IGNORECASE,
)
_IMPERATIVES = {
    "check",
    "monitor",
    "measure",
    "repeat",
    "recheck",
    "test",
    "screen",
    "reassess",
    "assess",
    "review",
}
_CONDITION = re.compile(
    r"\b(?:[\w-]+\s+){0,3}(?:deficiency|disease|syndrome|infection|disorder|anaemia|anemia|failure)\b(?:\s+in\s+[\w-]+)?",
    re.IGNORECASE,
)
_LAB_VERB = re.compile(
    r"(?P<subj>[A-Za-z][\w\s-]*?)\s+(?:levels?\s+)?(?:was|were)\s+(?:\w+ly\s+)?"
    r"(?:decreased|elevated|increased|reduced|low|high|raised|measured|found)\s+(?:at|to|of)\s+$",
    re.IGNORECASE,
)
_PAREN_LABEL = re.compile(r"[(;,]\s*(?P<ana>[A-Za-z][\w\s\-\[\]]*?)\s*:\s*$")
_TREATMENT_WORDS = re.compile(
    r"\b(?:treatment|therapy|therapeutic|initiation|injection|response|supplementation|dose|dosing|administration|"
    r"monitoring|follow-up|untreated)\b",
    re.IGNORECASE,
)


@dataclass
class Stem:
    """A stem and how it asks: ``key`` is the amount as the options will show it."""

    text: str
    key: Amount
    category: str  # dose | threshold | timing | lab | case | other
    natural: bool = True


@dataclass
class StemContext:
    """What every writer may use besides the sentence: the topic's condition ("vitamin B12 deficiency")."""

    condition: str | None

    @property
    def substance(self) -> str | None:
        """ "vitamin B12" for "vitamin B12 deficiency ..."."""
        if self.condition:
            m = re.match(r"^(.+?)\s+deficiency\b", self.condition, re.IGNORECASE)
            if m:
                return m.group(1)
        return None


def condition_of(topic: str) -> str | None:
    """The condition the topic names ("vitamin B12 deficiency in infants"), or None."""
    topic = re.sub(
        r"^\s*(?:the\s+)?(?:diagnosis|treatment|management|dosing|screening|prevention|monitoring|causes?|signs?|symptoms?)"
        r"\s+(?:of|for|in)\s+",
        "",
        topic,
        flags=re.IGNORECASE,
    )
    m = _CONDITION.search(topic)
    return lc_first(m.group(0).strip()) if m else None


def source_phrase(s: Sentence) -> str:
    """How a stem refers to its source ("In the case report," / "According to the guideline,")."""
    if s.case_specific:
        return "In the case report,"
    if s.doc.kind in {"case report", "guideline", "review"}:
        return f"According to the {s.doc.kind},"
    name = s.doc.title or re.sub(r"\.[a-z]+$", "", s.doc.source.rsplit("/", 1)[-1])
    return f"According to “{name}”,"


def _route(*texts: str | None) -> str | None:
    for text in texts:
        if not text:
            continue
        for name, pattern in _ROUTES.items():
            if pattern.search(text):
                return name
    return None


def _strip_comparator(a: Amount) -> Amount:
    if not a.comparator:
        return a
    surface = a.surface[len(a.comparator) :].lstrip()
    return replace(a, comparator="", surface=surface)


# ------------------------------------------------------------------ writers


def bullet_dose(s: Sentence, a: Amount, ctx: StemContext) -> Stem | None:
    """``Infants up to 12 months: 0.3 μg/kg/day of cobalamin`` / ``Initial dosing: 1000-2000 μg intramuscularly``."""
    if not s.label or not a.is_mass_based or not s.body.startswith(a.surface):
        return None
    tail = s.body[len(a.surface) :].strip()
    src = source_phrase(s)
    route = _route(tail, s.label, s.section)
    drug_m = re.match(r"^of\s+([\w-]+(?:\s+[\w-]+)?)", tail)
    drug = drug_m.group(1) if drug_m else ctx.substance
    of_drug = f" of {drug}" if drug else ""
    label = s.label
    if _POPULATION.match(label):
        route_text = f"{route} " if route and route != "parenteral" else ""
        return Stem(f"{src} what {route_text}dose{of_drug} is recommended for {lc_first(label)}?", a, "dose")
    m = re.match(
        r"^(?P<adj>[\w-]+\s+)?(?P<noun>dosing|dose|dosage)(?P<rest>\s+regimen)?(?P<qual>\s+for\s+.+)?$",
        label,
        re.IGNORECASE,
    )
    if not m:
        return None
    adj = (m.group("adj") or "").strip().lower()
    qual = (m.group("qual") or "").strip()
    route_text = f"{route} " if route else ""
    if m.group("rest"):  # a regimen: ask for the opening dose, keep its schedule in the stem
        first = tail.split(",")[0].strip()
        if not _FREQUENCY.match(first):
            return None
        regimen = f"the {route_text}dosing regimen {qual}".strip()
        return Stem(f"{src} in {regimen}, what dose is given {first}?", a, "dose")
    adj_text = f"{adj} " if adj else ""
    qual_text = f" {qual}" if qual else ""
    return Stem(f"{src} what is the {adj_text}{route_text}dose{of_drug}{qual_text}?", a, "dose")


def lab_value(s: Sentence, a: Amount, ctx: StemContext) -> Stem | None:
    """A case report's laboratory value: ``vitamin B12 was severely decreased at 53 pg/mL``, ``(haemoglobin: 8.8 g/dL``."""
    if not s.case_specific or a.is_time or a.comparator:
        return None
    before = s.clean[: s.clean.find(a.surface)]
    if re.search(r"normal(?: range)?\s*:?\s*$|normal\s*[<>]\s*$", before, re.IGNORECASE):
        return None  # a reference range, not the patient's value
    analyte = None
    m = _PAREN_LABEL.search(before)
    if m:
        analyte = m.group("ana").strip()
        analyte = re.sub(r"\s*\[(\w+)\]", r" (\1)", analyte)
    else:
        m2 = _LAB_VERB.search(before)
        if m2:
            subj = strip_discourse(m2.group("subj").strip())
            subj = re.split(r",\s*(?:while|and|but|whereas)\s+|\s+(?:while|and|but|whereas)\s+", subj)[-1]
            subj = re.sub(r"^(?:while|and|but|whereas|however)\s+", "", subj, flags=re.IGNORECASE)
            analyte = re.sub(r"\s+levels?$", "", subj, flags=re.IGNORECASE)
    if not analyte or len(analyte.split()) > 6:
        return None
    analyte = lc_first(analyte)
    per_volume = "/" in a.unit and a.unit.lower().endswith(("/ml", "/l", "/dl"))
    if (
        per_volume
        and not re.match(r"(?:serum|plasma|urinary|blood|csf)\b", analyte, re.IGNORECASE)
        and "g/dl" not in a.unit.lower()
    ):
        analyte = f"serum {analyte}"
    if per_volume and not re.search(
        r"\b(?:volume|count|haemoglobin|hemoglobin|ratio)\b", analyte, re.IGNORECASE
    ):
        analyte = f"{analyte} level"
    if s.scope == "mother":
        whose = "the mother's"
        when = ""
    else:
        if s.phase != "presentation":
            return None  # a value during treatment needs the moment it was taken; not stated reliably
        whose = f"the {s.doc.patient}'s"
        when = " at presentation"
    return Stem(f"In the case report, what was {whose} {analyte}{when}?", a, "lab")


def threshold(s: Sentence, a: Amount, ctx: StemContext) -> Stem | None:
    """``macrocytic anaemia (MCV >100 fL)`` / ``For ileal resection >20 cm: Lifelong ... is mandatory``."""
    if not a.comparator:
        return None
    src = source_phrase(s)
    if s.label and a.surface in s.label:
        m = re.match(r"^For\s+(?P<np>.+?)\s+" + re.escape(a.surface) + r"$", s.label)
        body = re.match(
            r"^(?P<subj>.+?)\s+(?P<be>is|are)\s+(?P<pred>mandatory|required|recommended|indicated|needed|necessary)$",
            s.body,
        )
        if m and body:
            noun = {"[length]": "length", "[mass]": "dose", "[time]": "duration"}.get(_dim_name(a), "value")
            subj = lc_first(body.group("subj"))
            return Stem(
                f"{src} beyond what {noun} of {m.group('np')} is {subj} {body.group('pred')}?",
                _strip_comparator(a),
                "threshold",
            )
        return None
    before = s.clean[: s.clean.find(a.surface)]
    m = re.search(r"(?P<np>[A-Za-z][\w\s-]*?)\s*\((?:(?P<ana>[A-Za-z][\w-]*)\s*)?$", before)
    if not m:
        return None
    np_ = re.split(r",\s*|\b(?:and|with|combining|of the)\s+", m.group("np").strip())[-1].strip()
    if not np_:
        return None
    context = (
        "the diagnostic triad"
        if re.search(r"\btriad\b", s.clean, re.IGNORECASE)
        else ("the diagnostic criteria" if re.search(r"\bdiagnos", s.clean, re.IGNORECASE) else None)
    )
    if context is None:
        return None
    where = f"in {context} for {ctx.condition}" if ctx.condition else f"in {context}"
    if m.group("ana"):
        return Stem(
            f"{src} {where}, which {m.group('ana')} threshold defines {lc_first(np_)}?", a, "threshold"
        )
    analyte = re.sub(r"^.*?\bof\s+", "", np_)
    return Stem(
        f"{src} which {lc_first(analyte)} threshold is part of {context}{' for ' + ctx.condition if ctx.condition else ''}?",
        a,
        "threshold",
    )


def _dim_name(a: Amount) -> str:
    from qa_service.quiz.quantities import dimension

    return dimension(a) or ""


def paren_dose(s: Sentence, a: Amount, ctx: StemContext) -> Stem | None:
    """``(hydroxocobalamin 1 mg three times weekly)`` / ``therapy was initiated (1 mg three times per week)``."""
    if not a.is_mass_based:
        return None
    i = s.clean.find(a.surface)
    m = re.search(r"\((?P<drug>[a-z][\w-]*\s+)?$", s.clean[:i])
    after = s.clean[i + len(a.surface) :]
    freq = re.match(r"^\s*(?P<freq>[^()]*?)\)", after)
    if not m or not freq or not _FREQUENCY.match(freq.group("freq").strip()):
        return None
    frequency = freq.group("freq").strip()
    before = s.clean[: m.start()].rstrip()
    route = _route(before)
    src = source_phrase(s)
    drug = (m.group("drug") or "").strip()
    if drug:
        route_text = f"{route} " if route else ""
        return Stem(f"{src} what dose of {route_text}{drug} is given {frequency}?", a, "dose")
    t = re.search(
        r"(?P<what>[\w\s-]+?)\s+(?:therapy|treatment|supplementation)\s+was\s+(?:initiated|started|begun|given)$",
        before,
    )
    if t and s.case_specific:
        what = strip_discourse(t.group("what").strip())
        return Stem(
            f"In the case report, what dose of {lc_first(what)} was the {s.doc.patient} given {frequency}?",
            a,
            "dose",
        )
    return None


def _clause_with(text: str, a: Amount) -> str | None:
    """The clause of ``text`` that holds the amount (split at ';', ', while', ', and' ... and '. ')."""
    pos = text.find(a.surface)
    if pos < 0:
        return None
    parts = re.split(r";\s+|,\s+(?:while|whereas|but|and)\s+(?=[a-z])|:\s+(?=[a-z])", text)
    offset = 0
    for part in parts:
        start = text.find(part, offset)
        if start <= pos < start + len(part):
            return strip_discourse(part.strip().rstrip("."))
        offset = start + len(part)
    return None


def _after_phrase(rest: str) -> str:
    """'of treatment initiation' / 'after injection' -> 'after treatment initiation' / 'after injection'."""
    m = re.match(r"^(?:of|after|following)\s+(?P<x>[^,;()]+)", rest.strip())
    return f"after {m.group('x').strip()}" if m else ""


def timing(s: Sentence, a: Amount, ctx: StemContext) -> Stem | None:
    """Timings and durations stated by a clause: ``X may resolve within 1-2 days of ...``, ``These ... can last 2-6 weeks``."""
    if not a.is_time:
        return None
    body = s.body if a.surface in s.body else s.clean
    clause = _clause_with(body, a)
    if not clause:
        return None
    src = source_phrase(s)
    category = (
        "timing"
        if _TREATMENT_WORDS.search(s.clean) or (s.label and _TREATMENT_WORDS.search(s.label))
        else "case"
        if s.case_specific
        else "other"
    )
    lead = ""
    pos = clause.find(a.surface)
    pre, rest = clause[:pos].rstrip(), clause[pos + len(a.surface) :].strip()
    key = _strip_comparator(a) if a.comparator in {"more than", "over", "longer than"} else a
    if a.comparator and key is a:
        return None
    pre_wo_cmp = (
        pre[: len(pre) - len(a.comparator)].rstrip() if a.comparator and pre.endswith(a.comparator) else pre
    )
    # imperative: "Check vitamin B12 levels at 1 month and 3 months after treatment initiation"
    words = clause.split()
    if words and words[0].lower() in _IMPERATIVES:
        m = re.match(
            rf"^(?P<v>\w+)\s+(?P<obj>.+?)\s+at\s+{re.escape(a.surface)}(?:\s+and\s+(?P<second>[^,;]+?))?\s*(?P<rest>(?:after|following|of)\s+.+)?$",
            clause,
        )
        if m:
            after = _after_phrase(m.group("rest") or "")
            return Stem(
                f"{src} when should {lc_first(m.group('obj'))} be {participle(m.group('v'))}{' ' + after if after else ''}?",
                a,
                category,
            )
        return None
    nominal = _nominal_timing(s, a, clause, pre_wo_cmp, rest, src, category)
    if nominal is not None:
        return nominal
    if re.search(rf"\b(?:{'|'.join(AUXILIARIES)})\b", re.split(r",|\band\b|\bbut\b", rest)[0]):
        return None  # the amount sits in the subject ("X left untreated for 3 months may cause ...")
    subj, aux, vp = _split_subject(pre_wo_cmp)
    if subj is None:
        return None
    if re.match(r"^(?:the|this)\s+(?:condition|disease|disorder|deficiency)$|^it$", subj, re.IGNORECASE):
        if not ctx.condition:
            return None
        subj = ctx.condition
    elif ANAPHORS.match(subj):
        if s.prev is None or s.prev.section != s.section:
            return None
        prev = s.prev.body.rstrip(".")
        lead = f"{uc_first(prev)}. "
        subj = re.sub(r"^(?:these|this|those|such)\b", "these", subj, flags=re.IGNORECASE)
    prep_m = re.search(r"\b(?P<p>within|in|after|for|at|around|by|over|between|during|last(?:s|ed)?)$", vp)
    prep = prep_m.group("p").lower() if prep_m else ""
    verb_phrase = vp[: prep_m.start()].rstrip() if prep_m else vp
    if prep.startswith("last"):
        verb_phrase = (verb_phrase + " last").strip()
    if a.style == "between" and not prep:
        verb_phrase, prep = vp, "between"
    question = _time_question(prep, rest, key)
    if question is None:
        return None
    wh, trailing = question
    subj_lc = lc_first(subj)
    if aux:
        adv, verb_phrase = _split_adverb(verb_phrase)
        text = f"{wh} {aux} {subj_lc} {adv}{verb_phrase}{trailing}".replace("  ", " ")
    else:
        verb, _, remainder = verb_phrase.partition(" ")
        adv = ""
        if verb.endswith("ly") and remainder:
            adv, (verb, _, remainder) = verb + " ", remainder.partition(" ")
        do, base = do_support(verb)
        if prep in {"last", "lasts", "lasted"}:
            base = "last"
        text = f"{wh} {do} {subj_lc} {adv}{base}{' ' + remainder if remainder else ''}{trailing}".replace(
            "  ", " "
        )
    if s.case_specific and s.phase == "follow-up" and "after" not in text and category != "other":
        text = text.replace(wh, f"{wh} after the start of treatment", 1) if wh.startswith("how") else text
    return Stem(f"{lead}{src} {text.strip()}?", key, category)


def _split_subject(pre: str) -> tuple[str | None, str | None, str]:
    """(subject, auxiliary or None, verb phrase) of the clause text before the amount."""
    m = re.match(rf"^(?P<subj>.+?)\s+(?P<aux>{'|'.join(AUXILIARIES)})\s+(?P<vp>.+)$", pre)
    if m and not re.search(r"\b(?:with|of)$", m.group("subj")):
        return m.group("subj"), m.group("aux"), m.group("vp")
    m = re.match(
        r"^(?P<subj>(?:The|A|An|This|These|Its|His|Her)?\s*[\w-]+(?:\s+[\w-]+){0,4}?)\s+(?P<vp>(?:\w+ly\s+)?[a-z]+(?:ed|es|s)\b.*)$",
        pre,
    )
    if m:
        verb = re.sub(r"^\w+ly\s+", "", m.group("vp")).split()[0]
        from qa_service.quiz.language import lemma

        if lemma(verb) != verb.lower() and not m.group("subj").lower().endswith(("of", "with", "and")):
            return m.group("subj").strip(), None, m.group("vp")
    return None, None, pre


def _split_adverb(vp: str) -> tuple[str, str]:
    m = re.match(r"^(\w+ly)\s+(.+)$", vp)
    if m and m.group(1).lower() not in {"apply", "rely", "supply", "reply"}:
        return m.group(1) + " ", m.group(2)
    return "", vp


def _time_question(prep: str, rest: str, key: Amount) -> tuple[str, str] | None:
    """(question words, trailing words) for a time after ``prep``; None when it has no clear question."""
    after = _after_phrase(rest)
    age = bool(re.match(r"^(?:of\s+age|old)\b", rest))
    if prep in {"within", "in"}:
        return (f"how soon {after}".strip() if after else "how soon", "")
    if prep == "after":
        of = re.match(r"^of\s+(?P<x>[^,;()]+)", rest)
        if of:
            return (f"how long after starting {of.group('x').strip()}", "")
        return ("how long after treatment" if not rest else "how long", "")
    if prep in {"last", "lasts", "lasted"}:
        return ("how long", "")
    if prep == "for":
        return ("for how long", "")
    if prep in {"between", "at", "around", "by"} and (age or key.style == "between"):
        return ("at what age", "")
    return None


def _nominal_timing(
    s: Sentence, a: Amount, clause: str, pre: str, rest: str, src: str, category: str
) -> Stem | None:
    """``reticulocyte crisis in 3-7 days`` / ``peak plasma levels within 1 hour after injection`` / ``a total duration of four months``."""
    m = re.search(
        r"(?:^|\bwith\s+|\band\s+|,\s*)(?P<np>(?:[a-z][\w-]*\s+){0,3}[a-z][\w-]*)\s+(?P<p>in|within)$", pre
    )
    if m and category == "timing" and not _ends_with_verb(m.group("np")):
        np_ = m.group("np")
        np_ = re.sub(r"^(?:rapid|rapidly|a|an|the)\s+", "", np_)
        after = _after_phrase(rest)
        route = _route(s.section, s.label)
        if after and route and route != "parenteral" and "injection" in after:
            after = after.replace("injection", f"{route} injection")
        when = after or "after the start of treatment"
        verb = "reached" if re.search(r"\b(?:levels?|concentrations?)\b", np_) else "expected"
        return Stem(f"{src} how soon {when} {be_for(np_)} {np_} {verb}?", a, category)
    d = re.search(r"\b(?:a\s+)?(?P<adj>total\s+)?duration\s+of$", pre)
    if d:
        subj_m = re.match(
            r"^(?P<subj>(?:The|This|His|Her)\s+[\w\s-]+?)\s+(?:was|were|is|are|lasted)\b", clause
        )
        if subj_m:
            tense = "was" if s.case_specific else "is"
            return Stem(
                f"{src} what {tense} the {(d.group('adj') or '').strip()} duration of {lc_first(subj_m.group('subj'))}?".replace(
                    "the  ", "the "
                ),
                a,
                category,
            )
    return None


def _ends_with_verb(phrase: str) -> bool:
    """'anaemia resolved' ends with a verb; 'reticulocyte crisis' does not."""
    from qa_service.quiz.language import lemma

    last = phrase.split()[-1].lower()
    return last.endswith(("ed", "es")) and lemma(last) != last


def cloze(s: Sentence, a: Amount, ctx: StemContext) -> Stem | None:
    """The last resort: the cited sentence with the quantity blanked out."""
    body = s.body if a.surface in s.body else s.clean
    if ANAPHORS.match(body) or len(body) > 260 or body.count(a.surface) != 1:
        return None
    key = _strip_comparator(a)
    blanked = body.replace(key.surface, "_____", 1).rstrip(".")
    src = source_phrase(s)
    lead = f"{src} which value completes the statement"
    if s.label:
        lead += f" on {lc_first(s.label)}"
    category = (
        "dose"
        if a.is_mass_based and _TREATMENT_WORDS.search(s.clean)
        else "timing"
        if a.is_time and _TREATMENT_WORDS.search(s.clean)
        else "case"
        if s.case_specific
        else "other"
    )
    return Stem(f"{lead}: “{blanked}”?", key, category, natural=False)


WRITERS = (bullet_dose, lab_value, threshold, paren_dose, timing)


def write_stem(s: Sentence, a: Amount, ctx: StemContext, allow_cloze: bool = True) -> Stem | None:
    """The first writer that recognises the sentence's shape, else the cloze form (or None)."""
    for writer in WRITERS:
        stem = writer(s, a, ctx)
        if stem is not None:
            return stem
    return cloze(s, a, ctx) if allow_cloze else None
