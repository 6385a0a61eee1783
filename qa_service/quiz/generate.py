"""Quiz items from evidence: sentences -> targets -> stems -> options -> checks -> ``QuizItem``.

Steps (``build_quiz``):

1. **Coverage.** ``engine.ask(topic)``: when the engine abstains, the corpus does not cover the
   topic and :class:`QuizError` is raised (no item is invented).
2. **Evidence.** :func:`qa_service.quiz.evidence.gather`: the sentences of the retrieved documents
   with their retrieval score and their coverage of the topic's words. Only sentences that are
   relevant *and* on the topic are used; sentences whose quantities the corpus contradicts by an
   order of magnitude (``verify.find_conflicts``) are not used as keys.
3. **Drafts.** Each usable sentence is parsed (spaCy); its targets (:mod:`.targets`: quantities and
   named things in a role) become question stems (:mod:`.stems`) or, failing that, a cloze. Every
   stem passes the grammar check (:mod:`.grammar`).
4. **Options.** Quantity distractors (:mod:`.distractors`: values stated elsewhere, unit slips,
   tenfold errors, steps) and named things of the same kind (phrase and source sentence close to the
   key's in embedding space, same role a bonus), guarded against the corpus: nothing that any
   passage states with the stem's nouns (a search per named candidate reaches pages the topic did not
   retrieve), nothing impossible. Chosen with a ``random.Random`` seeded by the seed and the fact.
5. **Checks.** :mod:`.checks`; a failing item is rewritten with other distractors or dropped. At
   most one item per sentence. Every rejected candidate is recorded with the check that failed
   (``medcite quiz --explain``).
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ingest.errors import UsageError
from ingest.lexical import stem_terms
from qa_service.models import Citation, QuizItem
from qa_service.quiz import MAX_ITEMS, MIN_ITEMS
from qa_service.quiz.checks import normalise, passed, run_checks, text_contains
from qa_service.quiz.distractors import Candidate, numeric_candidates, stated_in_evidence
from qa_service.quiz.errors import QuizError
from qa_service.quiz.evidence import (
    MIN_COVERAGE,
    DocContext,
    Evidence,
    Sentence,
    content_terms,
    display_title,
    gather,
)
from qa_service.quiz.grammar import BLANK, anaphor, check_stem
from qa_service.quiz.nlp import parse, parse_all
from qa_service.quiz.quantities import Amount, base_range, find_amounts, possible, same_value
from qa_service.quiz.stems import cloze, quantity_wh, question, target_tokens
from qa_service.quiz.targets import Target, entity_targets
from qa_service.verify import find_conflicts

logger = logging.getLogger(__name__)

DISTRACTORS = 3
REWRITE_TRIES = 12
STEM_EVIDENCE_K = 8
MAX_NEIGHBOUR_RATIO = 30.0
CLOZE_PENALTY = 0.7
ENTITY_WEIGHT = 0.9
DOC_DIVERSITY = 0.9
# A named thing is "of the same kind" as the key when this score (phrase and source-sentence similarity,
# plus the same-role bonus) reaches the floor.
MIN_KIND_SIMILARITY = 0.3
MIN_PHRASE_SIMILARITY = 0.15
PHRASE_SHARE = 0.5
SAME_FRAME_BONUS = 0.15
# Of the stem's subject words, the share a sentence must use to state something about the same subject.
SAME_SUBJECT_SHARE = 0.6
MAX_ENTITY_CANDIDATES = 6
# Sentences whose named things make the distractor pool (the closest to the topic).
MAX_FILLER_SENTENCES = 300
# Passages searched (lexically and by the key sentence's vector) for each named distractor across the corpus.
GUARD_PASSAGES = 20
# Passages that use a named candidate, found by the lexical index alone (its every use, in most corpora).
GUARD_NAME_PASSAGES = 50
STEM_BATCH_EXTRA = 8
# A named key that (all its words) this share of the retrieved documents use is a generic word, not a fact.
GENERIC_KEY_SHARE = 0.75
# A named key with at least this share of its words from the topic names the topic itself.
TOPIC_KEY_SHARE = 0.5
# Two sentences sharing this share of their content words (Jaccard) state one fact.
SAME_SENTENCE_OVERLAP = 0.7
# ... and two sentences giving the same value with this share of their words in common state one fact.
SAME_VALUE_OVERLAP = 0.25


@dataclass
class Rejection:
    """A candidate sentence that gave no item, and the check that stopped it."""

    sentence: str
    source: str
    check: str


@dataclass
class Draft:
    """A fact ready to become an item."""

    sentence: Sentence
    target: Target
    stem: str
    natural: bool
    score: float

    @property
    def numeric(self) -> bool:
        return self.target.amount is not None

    @property
    def key_text(self) -> str:
        return self.target.key_text


@dataclass
class QuizReport:
    """Items and what was rejected on the way (for ``--explain``)."""

    items: list[QuizItem]
    rejected: list[Rejection] = field(default_factory=list)
    candidates: int = 0


def validate_request(topic: str, n: int) -> str:
    """The trimmed topic, or a usage error (topic 1-2,000 characters; ``n`` within 1..50)."""
    from qa_service.engine import validate_question

    if not isinstance(n, int) or isinstance(n, bool) or not MIN_ITEMS <= n <= MAX_ITEMS:
        raise UsageError(f"n must be an integer from {MIN_ITEMS} to {MAX_ITEMS} (got {n!r})")
    try:
        return validate_question(topic)
    except UsageError as exc:
        raise UsageError(str(exc).replace("question", "topic")) from exc


def build_quiz(engine: Any, topic: str, n: int = 5, seed: int = 0) -> list[QuizItem]:
    """Up to ``n`` multiple-choice items on ``topic``, each key cited to its source sentence.

    Raises:
        UsageError: ``topic`` empty or too long, ``n`` out of range.
        QuizError: the corpus does not cover the topic, or no item passes the checks.
    """
    return build_report(engine, topic, n=n, seed=seed).items


def build_report(engine: Any, topic: str, n: int = 5, seed: int = 0) -> QuizReport:
    """:func:`build_quiz` with the rejected candidates and the checks that rejected them."""
    topic = validate_request(topic, n)
    answer = engine.ask(topic)
    if answer.abstained:
        reason = (answer.abstain_reason or "no passage addresses it.").rstrip(".")
        raise QuizError(
            f"the ingested documents do not cover the topic “{topic}” ({reason}); no quiz items were written"
        )
    evidence = gather(engine, topic)
    report = QuizReport([])
    if not evidence.usable:
        raise QuizError(
            f"the ingested documents do not cover the topic “{topic}”: no retrieved sentence is about it; "
            "no quiz items were written"
        )
    drafts = collect_drafts(evidence, report)
    report.items = realise_all(engine, evidence, drafts, n, seed, report)
    if not report.items:
        reasons = sorted({r.check for r in report.rejected})
        raise QuizError(
            f"no quiz item on “{topic}” passed the item-writing checks (rejected by: {', '.join(reasons) or 'none'}); "
            "try a broader topic or run with --explain",
            report,
        )
    logger.info("quiz built", extra={"items": len(report.items), "drafts": len(drafts)})
    return report


# ------------------------------------------------------------------ drafts


def source_phrase(s: Sentence) -> str:
    """How a stem names its source: by title, never by file name."""
    return f"According to “{s.doc.title}”," if s.doc.title else ""


def collect_drafts(evidence: Evidence, report: QuizReport) -> list[Draft]:
    """Every item the evidence supports, best first."""
    relevant = [s for s in evidence.sentences if s.relevance > 0]
    evidence.disputed = _disputed_sentences(evidence.sentences)
    usable = []
    for s in relevant:
        if s.coverage < MIN_COVERAGE:
            report.rejected.append(
                Rejection(s.clean, _name(s), f"off_topic (covers {s.coverage:.0%} of the topic)")
            )
        else:
            usable.append(s)
    offsets = [_body_offset(s.clean) for s in usable]
    docs = parse_all([s.clean[o:] for s, o in zip(usable, offsets)])
    best_rel = max((s.relevance for s in usable), default=1.0) or 1.0
    topic = set(stem_terms(evidence.topic))
    drafts: list[Draft] = []
    for s, doc, off in zip(usable, docs, offsets):
        quantities = [t for t in _quantity_targets(s) if t.start >= off]
        kept = [t for t in quantities if t.amount is None or not _disputed(evidence.disputed, s, t.amount)]
        targets = [_shift(t, -off) for t in kept] + entity_targets(doc)
        if not targets:
            why = "disputed_quantity" if len(kept) < len(quantities) else "no_testable_fact"
            report.rejected.append(Rejection(s.clean, _name(s), why))
            continue
        failures: list[str] = []
        made = 0
        for t in targets:
            if t.kind == "entity" and _names_topic(t.key_text, topic):
                failures.append("key_is_the_topic")
                continue
            if t.kind == "entity" and evidence.doc_share(t.key_text) >= GENERIC_KEY_SHARE:
                failures.append("generic_key")  # "symptoms", "a health care provider": every page says it
                continue
            stem, natural, why = _write_stem(s, doc, t, s.clean[off:])
            if stem is None:
                failures.append(why)
                continue
            score = (0.4 + 0.6 * s.relevance / best_rel) * s.coverage
            score *= (1.0 if natural else CLOZE_PENALTY) * (1.0 if t.kind == "quantity" else ENTITY_WEIGHT)
            drafts.append(Draft(s, t, stem, natural, round(score, 6)))
            made += 1
        if not made:
            report.rejected.append(Rejection(s.clean, _name(s), "stem: " + ", ".join(sorted(set(failures)))))
    report.candidates = len({d.sentence.key for d in drafts})
    drafts.sort(key=lambda d: (-d.score, d.sentence.doc.doc_id, d.sentence.start, d.key_text))
    return drafts


def _names_topic(key: str, topic: set[str]) -> bool:
    """Whether a key is mostly the topic's own words ("severe B12 deficiency" in a quiz on B12
    deficiency): the stem then asks for what the quiz is about, and the reader needs no knowledge."""
    words = set(stem_terms(key))
    return bool(words) and len(words & topic) >= TOPIC_KEY_SHARE * len(words)


def _body_offset(text: str) -> int:
    """Where the statement starts after a short "Label: " lead ("Response to treatment: X can be ...")."""
    m = re.match(r"^[^:.;!?()]{2,60}:\s+(?=\S)", text)
    return m.end() if m and len(m.group(0).split()) <= 8 else 0


def _shift(t: Target, by: int) -> Target:
    from dataclasses import replace

    return replace(t, start=t.start + by, end=t.end + by)


def _name(s: Sentence) -> str:
    return s.doc.title or s.doc.source


def _quantity_targets(s: Sentence) -> list[Target]:
    out = []
    for a in s.amounts:
        if a.comparator.lower() in {"under", "up to"} or a.style == "pair":
            continue  # population descriptors ("children under 2 years"), two times of one schedule
        if re.search(r"\bnormal(?: range)?\s*:?\s*[<>]?\s*$", s.clean[: a.span[0]], re.IGNORECASE):
            continue  # a reference range
        if a.words and not (a.is_time or a.pint_unit in {"percent", "permille"}):
            continue  # "one hand", "two feet": a count of things that pint also knows as a unit
        key = _without_comparator(a)
        out.append(Target(key.span[0], key.span[1], key.surface, "quantity", str(_dim(a)), amount=key))
    return out


def _dim(a: Amount) -> str | None:
    from qa_service.quiz.quantities import dimension

    return dimension(a)


def _without_comparator(a: Amount) -> Amount:
    from dataclasses import replace

    if not a.comparator:
        return a
    cut = a.surface.find(a.comparator) + len(a.comparator)
    rest = a.surface[cut:]
    lead = len(rest) - len(rest.lstrip())
    start = a.span[0] + cut + lead
    return replace(a, comparator="", span=(start, a.span[1]), surface=a.surface[cut + lead :])


def _write_stem(s: Sentence, doc: Any, t: Target, text: str) -> tuple[str | None, bool, str]:
    """(stem with its source phrase, whether a question, failure reason).

    The sentence is tried whole, then as the clause that holds the target (a clause with its own
    subject states a fact on its own: "..., while vitamin B12 was decreased at 53 pg/mL"), then
    without a leading phrase that points back to an earlier sentence ("In this context, ...").
    A question from the first view that gives one; else a cloze from the first that gives one.
    """
    src = source_phrase(s)
    if t.amount is not None and _comparator_before(text, t.start):
        return None, False, "comparator"
    if t.amount is not None and t.amount.words and t.amount.low == 1 and _adverbial(doc, t):
        return None, False, "idiom"  # "may one day make ...": not a time the sentence states
    why = "no_question_form"
    views = _views(doc, t.start, t.end, text)
    for lo, hi in views:
        vdoc = doc if (lo, hi) == (0, len(text)) else parse(text[lo:hi])
        tokens = target_tokens(vdoc, t.start - lo, t.end - lo)
        if tokens is None:
            continue
        wh = t.wh
        if t.amount is not None:
            governs_of = any(c.dep_ == "prep" and c.lower_ == "of" for tok in tokens for c in tok.children)
            wh = quantity_wh(t.amount, governs_of) or ""
        body = question(vdoc, tokens, wh) if wh and not t.cloze_only else None
        if body is None:
            continue
        stem = f"{src} {body[:1].lower() + body[1:] if not _keeps_case(body) else body}" if src else body
        why = check_stem(stem) or _dropped(vdoc, tokens, body)
        if not why:
            return stem, True, ""
    what = "value" if t.amount is not None else "term"
    for lo, hi in views:
        vdoc = doc if (lo, hi) == (0, len(text)) else parse(text[lo:hi])
        statement = cloze(vdoc, t.start - lo, t.end - lo, text[lo:hi])
        if statement is None and (lo, hi) == (0, len(text)) and s.clean != text:
            # a labelled entry ("Initial dosing: 1000 μg intramuscularly")
            off = len(s.clean) - len(text)
            statement = s.clean[: off + t.start] + BLANK + s.clean[off + t.end :].rstrip(" .")
        if statement is None:
            continue
        statement = _uc(statement)
        stem = (
            f"{src} which {what} completes the statement: “{statement}”?"
            if src
            else (f"Which {what} completes the statement: “{statement}”?")
        )
        cloze_why = check_stem(stem)
        if cloze_why is None:
            return stem, False, ""
        why = cloze_why
    return None, False, why


def _adverbial(doc: Any, t: Target) -> bool:
    """A bare noun phrase modifying the verb, with no preposition ("one day")."""
    span = doc.char_span(t.start, t.end, alignment_mode="expand")
    return span is not None and span.root.dep_ == "npadvmod"


def _dropped(doc: Any, target: list[Any], body: str) -> str:
    """ "words_dropped" when the question lost a content word of its statement (other than the target's,
    a parenthesis or a leading adverb): the inversion then changed what the sentence says."""
    inside = {t.i for t in target}
    aside: set[int] = set()
    depth = 0
    for t in doc:
        depth += t.text in {"(", "["}
        if depth:
            aside.add(t.i)
        depth -= t.text in {")", "]"} and depth > 0
    subject = next((t for t in doc if t.dep_ in {"nsubj", "nsubjpass"}), None)
    lead = subject.left_edge.i if subject is not None else 0
    need = {
        t.lemma_.lower()
        for t in doc
        if t.is_alpha and not t.is_stop and t.i not in inside | aside and not (t.i < lead and t.pos_ == "ADV")
    }
    have = {t.lemma_.lower() for t in parse(body)} | {t.lower_ for t in parse(body)}
    return "words_dropped" if need - have else ""


def _views(doc: Any, start: int, end: int, text: str) -> list[tuple[int, int]]:
    """Character spans of ``text`` that state the target's fact: the whole sentence, the clause with
    its own subject that holds the target, the sentence without a leading phrase pointing back."""
    views = [(0, len(text))]
    span = doc.char_span(start, end, alignment_mode="expand")
    if span is None:
        return views
    t = span.root
    while t.head.i != t.i:
        if (
            t.dep_ in {"advcl", "conj", "ccomp"}
            and t.pos_ in {"VERB", "AUX"}
            and any(c.dep_ in {"nsubj", "nsubjpass"} for c in t.children)
        ):
            words = [w for w in t.subtree if not (w.i == t.left_edge.i and w.dep_ in {"mark", "cc"})]
            words = [w for w in words if not (w.is_punct and w.i in {words[0].i, words[-1].i})]
            lo, hi = words[0].idx, words[-1].idx + len(words[-1].text)
            if lo <= start and end <= hi and (lo, hi) != (0, len(text)):
                views.append((lo, hi))
            break
        t = t.head
    root = span.root.sent.root
    tail = [c for c in root.children if c.dep_ == "conj" and c.pos_ in {"VERB", "AUX"} and c.i > root.i]
    if tail and not any(start >= c.left_edge.idx for c in tail):
        # the first of two coordinated clauses ("X becomes apparent at ... and is characterised by ...")
        cut = min(c.left_edge.i for c in tail)
        while cut > 0 and (doc[cut - 1].dep_ == "cc" or doc[cut - 1].is_punct):
            cut -= 1
        if cut > 0 and doc[cut - 1].idx + len(doc[cut - 1].text) >= end:
            views.append((0, doc[cut - 1].idx + len(doc[cut - 1].text)))
    comma = next((w for w in doc if w.text == "," and w.idx >= end and w.i + 1 < len(doc)), None)
    if comma is not None:
        rest = doc[comma.i + 1 :]
        if rest.root.dep_ in {"prep", "advcl", "relcl", "acl"} and rest.root.head.i < comma.i:
            # a trailing modifier after the fact (", with oral supplementation being effective ..."): optional
            views.append((0, comma.idx))
    lead = next((w for w in doc if w.text == "," and w.head.i != w.i), None)
    if lead is not None and lead.i < len(doc) - 1 and doc[lead.i + 1].idx <= start:
        before = doc[: lead.i]
        if anaphor(before) or all(w.pos_ in {"ADV", "PUNCT"} for w in before):
            views.append((doc[lead.i + 1].idx, len(text)))
    return views


def _keeps_case(body: str) -> bool:
    first = body.split()[0] if body.split() else ""
    return len(first) > 1 and first[1:2].isupper()


def _comparator_before(text: str, start: int) -> str:
    m = re.search(
        r"(>|<|≥|≤|more than|less than|greater than|at least|at most|over|above|below)\s*$", text[:start]
    )
    return m.group(1) if m else ""


def _disputed_sentences(sentences: list[Sentence]) -> set[tuple[tuple[str, int, int], str]]:
    """(sentence, amount as written) of each amount another sentence contradicts by an order of magnitude
    (a unit error in one source): neither is a key nor a distractor; the sentences' other facts are."""
    with_amounts = [s for s in sentences if s.amounts]
    out: set[tuple[tuple[str, int, int], str]] = set()
    for f in find_conflicts([(i, s.clean) for i, s in enumerate(with_amounts)]):
        if _tenfold(f.description):
            surfaces = re.findall(r'"([^"]+)"', f.description)[:2]
            for idx, surface in zip((f.a, f.b), surfaces):
                out.add((with_amounts[idx].key, normalise(surface)))
    return out


def _disputed(disputed: set[tuple[tuple[str, int, int], str]], s: Sentence, a: Amount) -> bool:
    surface = normalise(a.surface)
    return any(key == s.key and (surface in d or d in surface) for key, d in disputed)


def _tenfold(description: str) -> bool:
    surfaces = re.findall(r'"([^"]+)"', description)
    amounts = [find_amounts(x) for x in surfaces[:2]]
    if len(amounts) != 2 or not all(amounts):
        return False
    a, b = amounts[0][0], amounts[1][0]
    ra, rb = base_range(a), base_range(b)
    if a.is_time or b.is_time or not ra or not rb or min(ra[0], rb[0]) <= 0:
        return False
    return max(ra[0], rb[0]) / min(ra[1], rb[1]) >= 10


# ------------------------------------------------------------------ items


def realise_all(
    engine: Any, evidence: Evidence, drafts: list[Draft], n: int, seed: int, report: QuizReport
) -> list[QuizItem]:
    """The best drafts that pass every check: at most one item per sentence, documents taken in turn."""
    chosen: list[tuple[Draft, QuizItem]] = []
    per_doc: dict[str, int] = {}
    used: set[tuple[str, int, int]] = set()
    failed: dict[tuple[str, int, int], str] = {}
    remaining = list(drafts)
    head = drafts[: n + STEM_BATCH_EXTRA]
    # every text the quiz embeds, in one model call (a call costs far more than a text): named things
    # of the retrieved documents, the named keys, and the stems whose sentence has no stored vector
    _fillers(
        engine,
        evidence,
        [d.key_text for d in drafts if not d.numeric]
        + [_stem_query(d) for d in head if d.sentence.vector is None],
    )
    while remaining and len(chosen) < n:
        best = max(
            remaining,
            key=lambda d: (
                d.score * DOC_DIVERSITY ** per_doc.get(d.sentence.doc.doc_id, 0),
                -remaining.index(d),
            ),
        )
        remaining.remove(best)
        if best.sentence.key in used or _restates(best.sentence, [d.sentence for d, _ in chosen]):
            continue
        if any(_same_key(best, d) for d, _ in chosen):
            continue  # one fact, two sentences (a dose stated in the text and again in a list)
        item, why = realise(engine, evidence, best, seed)
        if item is None:
            failed.setdefault(best.sentence.key, why)
            continue
        chosen.append((best, item))
        used.add(best.sentence.key)
        per_doc[best.sentence.doc.doc_id] = per_doc.get(best.sentence.doc.doc_id, 0) + 1
    for d in drafts:
        if d.sentence.key in failed and d.sentence.key not in used:
            report.rejected.append(Rejection(d.sentence.clean, _name(d.sentence), failed.pop(d.sentence.key)))
    doc_rank = {doc: i for i, doc in enumerate(dict.fromkeys(s.doc.doc_id for s in evidence.sentences))}
    chosen.sort(
        key=lambda p: (doc_rank.get(p[0].sentence.doc.doc_id, 99), p[0].sentence.start, p[0].key_text)
    )
    return [item for _, item in chosen]


def _same_key(a: Draft, b: Draft) -> bool:
    """The same key for the same thing: the same name, or the same value stated in much the same words."""
    if a.target.amount is not None and b.target.amount is not None:
        if not same_value(a.target.amount, b.target.amount):
            return False
        ta, tb = content_terms(a.sentence.clean), content_terms(b.sentence.clean)
        return bool(ta and tb) and len(ta & tb) / len(ta | tb) >= SAME_VALUE_OVERLAP
    return normalise(a.key_text) == normalise(b.key_text)


def _restates(s: Sentence, chosen: list[Sentence]) -> bool:
    """Whether a chosen item's sentence states the same (the same page copied into two documents, or
    "spine"/"spinal" in two versions of one sentence): two items would test one fact."""
    terms = content_terms(s.clean)
    for c in chosen:
        other = content_terms(c.clean)
        if terms and other and len(terms & other) / len(terms | other) >= SAME_SENTENCE_OVERLAP:
            return True
    return False


def realise(engine: Any, evidence: Evidence, d: Draft, seed: int) -> tuple[QuizItem | None, str]:
    """One item for a draft, or None and the check that stopped it."""
    rng = random.Random(f"{seed}|{d.sentence.doc.doc_id}|{d.sentence.start}|{d.key_text}")
    pool = evidence.sentences + _stem_evidence(engine, d, evidence)
    if d.numeric:
        candidates = _numeric_options(d, pool, evidence.disputed)
    else:
        candidates = _entity_options(engine, evidence, d, pool)
    if len(candidates) < DISTRACTORS:
        return None, "too_few_distractors"
    last = "item_checks"
    for _ in range(REWRITE_TRIES):
        picked = _pick(candidates, rng, d.numeric)
        if picked is None:
            return None, "too_few_distractors"
        item = _assemble(d, picked, rng)
        if passed(item.checks):
            return item, ""
        last = "item_check: " + ", ".join(k for k, v in item.checks.items() if not v)
    return None, last


def _numeric_options(
    d: Draft, pool: list[Sentence], disputed: set[tuple[tuple[str, int, int], str]]
) -> list[Candidate]:
    key = d.target.amount
    assert key is not None

    def neighbour_ok(s: Sentence, a: Amount) -> bool:
        return not _disputed(disputed, s, a) and (not key.is_time or _unit(a) == _unit(key))

    candidates = numeric_candidates(key, d.sentence, pool, d.key_text, neighbour_ok)
    out = []
    for c in candidates:
        if c.amount is None or not possible(c.amount, key) or not _plausible(c, key):
            continue
        if key.is_time and d.natural and _unit(c.amount) != _unit(key):
            continue  # "how many days" is answered in days
        if stated_in_evidence(c.amount, key, d.sentence, pool) is not None:
            continue
        out.append(c)
    return out


def _unit(a: Amount) -> str:
    return a.unit.lower().rstrip("s")


def _plausible(c: Candidate, key: Amount) -> bool:
    """Values far from the key's magnitude fool nobody (unit slips are kept on purpose)."""
    if c.origin != "neighbour" or c.amount is None:
        return True
    ra, rb = base_range(key), base_range(c.amount)
    if not ra or not rb or ra[0] <= 0 or rb[0] <= 0:
        return False
    return max(ra[0], rb[0]) / min(ra[0], rb[0]) <= MAX_NEIGHBOUR_RATIO


def _entity_options(engine: Any, evidence: Evidence, d: Draft, pool: list[Sentence]) -> list[Candidate]:
    """Named things of the key's kind from other sentences of the retrieved documents.

    Kind is read from two signals of the one embedding model: the phrases' own similarity, and the
    similarity of the sentences they come from (a cause is stated in sentences like the key's, an
    insurer is not), plus a bonus for filling the same role of the same verb.
    """
    key = d.target
    topic = content_terms(evidence.topic)
    key_terms = content_terms(key.key_text)
    banned = {normalise(x) for x in [key.key_text, *key.siblings]}
    own = normalise(d.sentence.clean)
    occurrences: dict[str, list[tuple[Sentence, Target]]] = {}
    for s, t in _fillers(engine, evidence):
        if normalise(s.clean) == own:
            continue
        name = normalise(t.key_text)
        terms = content_terms(t.key_text)
        if name in banned or not terms or terms & (key_terms | topic):
            continue
        if key.ent_type and t.ent_type and key.ent_type != t.ent_type:
            continue
        if text_contains(d.sentence.clean, t.key_text) or evidence.doc_share(t.key_text) >= GENERIC_KEY_SHARE:
            continue  # a word every page uses ("medication") is no distractor either
        occurrences.setdefault(name, []).append((s, t))
    if not occurrences:
        return []
    _prepare_vectors(engine, evidence, [], [key.key_text, *(o[0][1].key_text for o in occurrences.values())])
    key_vec = evidence.vectors[key.key_text]
    own_vec = d.sentence.vector

    def kind(s: Sentence, t: Target) -> float:
        sim = float(evidence.vectors[t.key_text] @ key_vec)
        if sim < MIN_PHRASE_SIMILARITY:
            return 0.0  # nothing alike in the names themselves ("pathophysiology" for "vegetarian diet")
        if own_vec is not None and s.vector is not None:
            sim = PHRASE_SHARE * sim + (1 - PHRASE_SHARE) * float(s.vector @ own_vec)
        same_verb = (
            t.frame.split(":")[-1] == key.frame.split(":")[-1]
        )  # "treat ... with X", "treat ... X or Y"
        return sim + (SAME_FRAME_BONUS if same_verb else 0.0)

    # each name where it reads most like the key (the sentence that treats with it, not one that lists it)
    seen: dict[str, tuple[Sentence, Target]] = {}
    scores: dict[str, float] = {}
    for name, found in occurrences.items():
        best = max(found, key=lambda o: kind(*o))
        seen[name], scores[name] = best, kind(*best)
    anchor = _anchor_terms(d)
    out: list[Candidate] = []
    for name in sorted(scores, key=lambda n: (-scores[n], n)):
        if scores[name] < MIN_KIND_SIMILARITY or len(out) >= MAX_ENTITY_CANDIDATES:
            break
        s, t = seen[name]
        if _stated_for_stem(t.key_text, anchor, pool) or _stated_in_corpus(
            engine, evidence, d, t.key_text, anchor
        ):
            continue
        length_ratio = max(len(t.key_text), len(key.key_text)) / max(
            1, min(len(t.key_text), len(key.key_text))
        )
        if length_ratio > 2.5:
            continue
        out.append(
            Candidate(t.key_text, None, "same_kind", f"Stated in another context: “{_clip(s.clean)}”", s)
        )
    return out


def _fillers(
    engine: Any, evidence: Evidence, extra: list[str] | None = None
) -> list[tuple[Sentence, Target]]:
    """Named things in a role in the sentences of the retrieved documents closest to the topic (at most
    ``MAX_FILLER_SENTENCES``: parsing and embedding every sentence of twenty pages costs more than the rest
    of the quiz), embedded in one model call."""
    if evidence.fillers is None:
        q = np.asarray(evidence.topic_vector, dtype=np.float32)
        q = q / (float(np.linalg.norm(q)) or 1.0)

        def closeness(s: Sentence) -> float:
            return float(s.vector @ q) if s.vector is not None and q.shape == s.vector.shape else 0.0

        pool = [s for s in evidence.sentences if 25 <= len(s.clean) <= 400]
        ranked = sorted(pool, key=lambda s: (-closeness(s), s.doc.doc_id, s.start))[:MAX_FILLER_SENTENCES]
        sents = sorted(ranked, key=lambda s: (s.doc.doc_id, s.start))
        evidence.fillers = [
            (s, t) for s, doc in zip(sents, parse_all([s.clean for s in sents])) for t in entity_targets(doc)
        ]
        _prepare_vectors(engine, evidence, [], [t.key_text for _, t in evidence.fillers] + (extra or []))
    return evidence.fillers


def _anchor_terms(d: Draft) -> set[str]:
    """What the stem is about: stemmed nouns, names and adjectives of the stem other than the wh-phrase and
    the source (verbs such as "can", "include", "become" say nothing of the subject)."""
    return subject_terms(stem_body(d.stem))


def stem_body(stem: str) -> str:
    """A stem without its source phrase, wh-phrase and blank."""
    body = re.sub(r"^According to (?:“[^”]+”|the source),\s*", "", stem)
    body = re.sub(
        r"which (?:of the following|term|value) completes the statement:|which of the following|what",
        " ",
        body,
        flags=re.IGNORECASE,
    )
    return body.replace(BLANK, " ")


def subject_terms(text: str) -> set[str]:
    """Stemmed nouns, proper nouns and adjectives of ``text`` (numbers left out)."""
    words = [t.text for t in parse(text) if t.pos_ in {"NOUN", "PROPN", "ADJ"}]
    return content_terms(" ".join(words))


def _stated_for_stem(name: str, anchor: set[str], pool: list[Sentence]) -> bool:
    """Whether a sentence of the evidence (every sentence of the retrieved documents and of the passages
    retrieved for the stem) states ``name`` together with most of the stem's words, read in its context
    (a page on glaucoma that lists eyedrops among treatments states them as a treatment of glaucoma)."""
    if not anchor:
        return True
    need = max(1, round(SAME_SUBJECT_SHARE * len(anchor)))
    for s in pool:
        if (
            text_contains(s.clean, name)
            and len(anchor & (_terms_besides(s.clean, name) | s.context_terms)) >= need
        ):
            return True
    return False


def _terms_besides(sentence: str, name: str) -> set[str]:
    """Content words of a sentence other than those of ``name`` where it occurs (the name's own words say
    nothing about what the sentence states of it: "medical history" is not about "medical problems")."""
    return content_terms(re.sub(re.escape(name), " ", sentence, flags=re.IGNORECASE))


def _stated_in_corpus(engine: Any, evidence: Evidence, d: Draft, name: str, anchor: set[str]) -> bool:
    """Whether any passage of the whole corpus states ``name`` with most of the stem's words (read with its
    document's title): one search per candidate, by its name, so that a page the topic did not retrieve is
    checked too."""
    from ingest.chunking import split_sentences

    if not anchor:
        return True
    need = max(1, round(SAME_SUBJECT_SHARE * len(anchor)))
    key = (_stem_query(d), name)
    if key in evidence.guard:
        return evidence.guard[key]
    vector = d.sentence.vector if d.sentence.vector is not None else evidence.vectors.get(_stem_query(d))
    # by the name alone (the passages that use it), and by the name with the stem (those that use both)
    cands = list(engine.candidates(name, GUARD_NAME_PASSAGES, vector=vector, dense_weight=0.0)[1])
    cands += engine.candidates(f"{name} {stem_body(d.stem)}"[:2000], GUARD_PASSAGES, vector=vector)[1]
    found = False
    for c in cands:
        r = c.row
        if not text_contains(r.text, name):
            continue
        about = content_terms(" ".join(x for x in (r.title, r.section) if x))
        for a, b in split_sentences(r.text, r.start):
            sentence = r.text[a - r.start : b - r.start]
            if (
                text_contains(sentence, name)
                and len(anchor & (_terms_besides(sentence, name) | about)) >= need
            ):
                found = True
                break
        if found:
            break
    evidence.guard[key] = found
    return found


def _clip(text: str, width: int = 160) -> str:
    return text if len(text) <= width else text[: width - 1].rsplit(" ", 1)[0] + "…"


def _prepare_vectors(
    engine: Any, evidence: Evidence, drafts: list[Draft], names: list[str] | None = None
) -> None:
    """Embed stems (and phrases) not embedded yet, in one model call: a call costs far more than a text."""
    todo = list(dict.fromkeys([_stem_query(d) for d in drafts] + (names or [])))
    todo = [t for t in todo if t not in evidence.vectors]
    if todo:
        vectors = engine.embed(todo)
        norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        evidence.vectors.update(zip(todo, vectors / norms))


def _stem_query(d: Draft) -> str:
    return re.sub(r"^According to (?:“[^”]+”|the source),\s*", "", d.stem)[:2000]


def _stem_evidence(engine: Any, d: Draft, evidence: Evidence) -> list[Sentence]:
    """Sentences of passages retrieved for the stem itself that are not already in the evidence."""
    from ingest.chunking import split_sentences
    from qa_service.answering import clean_statement_text

    known = {s.doc.doc_id for s in evidence.sentences}
    query = _stem_query(d)
    # the key sentence's stored vector stands for the stem (they state one fact): no model call
    vector = d.sentence.vector
    if vector is None:
        if query not in evidence.vectors:
            _prepare_vectors(engine, evidence, [d])
        vector = evidence.vectors[query]
    _, cands = engine.candidates(
        query, max(engine.settings.retrieval.candidates, STEM_EVIDENCE_K), vector=vector
    )
    out: list[Sentence] = []
    for c in cands[:STEM_EVIDENCE_K]:
        r = c.row
        if r.doc_id in known:
            continue
        doc = DocContext(r.doc_id, r.source, display_title(r.title, [], r.source))
        for i, (a, b) in enumerate(split_sentences(r.text, r.start)):
            text = r.text[a - r.start : b - r.start]
            clean = clean_statement_text(text)
            out.append(Sentence(doc, a, b, text, clean, r.section, i, amounts=find_amounts(clean)))
    return out


def _pick(candidates: list[Candidate], rng: random.Random, numeric: bool) -> list[Candidate] | None:
    """Three distractors: at most one unit slip, neighbours preferred, the rest in seeded order."""
    if not numeric:
        head = candidates[: DISTRACTORS + 3]
        rng.shuffle(head)
        return head[:DISTRACTORS] if len(head) >= DISTRACTORS else None
    groups: dict[str, list[Candidate]] = {}
    for c in candidates:
        groups.setdefault(c.origin, []).append(c)
    for g in groups.values():
        rng.shuffle(g)
    picked: list[Candidate] = []
    if groups.get("unit_slip") and rng.random() < 0.85:
        picked.append(groups["unit_slip"][0])
    picked.extend(groups.get("neighbour", [])[: 2 if rng.random() < 0.6 else 1])
    rest = [c for origin in ("tenfold_up", "tenfold_down", "step") for c in groups.get(origin, [])]
    rng.shuffle(rest)
    leftovers = [c for c in candidates if c not in picked and c not in rest]
    rng.shuffle(leftovers)
    for c in rest + leftovers:
        if len(picked) >= DISTRACTORS:
            break
        if c not in picked:
            picked.append(c)
    return picked[:DISTRACTORS] if len(picked) >= DISTRACTORS else None


def _uc(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _assemble(d: Draft, picked: list[Candidate], rng: random.Random) -> QuizItem:
    s = d.sentence
    citations: list[Citation] = [s.citation(1)]
    cite_ids: dict[tuple[str, int, int], int] = {s.key: 1}

    def cite(sent: Sentence | None) -> int:
        if sent is None:
            return 1
        if sent.key not in cite_ids:
            cite_ids[sent.key] = len(citations) + 1
            citations.append(sent.citation(cite_ids[sent.key]))
        return cite_ids[sent.key]

    states = f"“{s.doc.title}” states" if s.doc.title else "the source states"
    key_option = _uc(d.key_text)
    entries: list[tuple[str, str, Any]] = [
        (key_option, f"Correct: {states} “{s.clean.rstrip('.')}” [1].", d.target.amount)
    ]
    for c in picked:
        entries.append((_uc(c.text), f"{c.rationale.rstrip('.')} [{cite(c.cite)}].", c.amount))
    if d.numeric:
        entries.sort(key=lambda e: (base_range(e[2]) or (0.0, 0.0), e[0]))
    else:
        rng.shuffle(entries)
    options = [e[0] for e in entries]
    answer_index = options.index(key_option)
    checks = run_checks(d.stem, options, answer_index, s.text, numeric=d.numeric)
    return QuizItem(
        id=_item_id(d),
        stem=d.stem,
        options=options,
        answer_index=answer_index,
        rationale=f"{states[:1].upper() + states[1:]} “{s.clean.rstrip('.')}” [1].",
        citations=citations,
        option_rationales=[e[1] for e in entries],
        checks=checks,
    )


def _item_id(d: Draft) -> str:
    raw = f"{d.sentence.doc.doc_id}|{d.sentence.start}|{d.sentence.end}|{d.key_text}|{d.stem}"
    return "q-" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:12]


__all__ = ["QuizReport", "Rejection", "build_quiz", "build_report", "same_value", "validate_request"]
