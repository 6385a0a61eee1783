"""Quiz items from evidence: facts -> stems -> options -> checks -> ``QuizItem``.

Steps (``build_quiz``):

1. **Coverage.** ``engine.ask(topic)``: when the engine abstains, the corpus does not
   cover the topic and :class:`QuizError` is raised (no item is invented).
2. **Evidence.** :func:`qa_service.quiz.evidence.gather`: the sentences of the
   retrieved documents, scored for relevance to the topic. Sentences whose
   quantities the corpus contradicts (``verify.find_conflicts``: 25-30 μg vs 25 mg)
   are not used as keys: their key would be disputed.
3. **Drafts.** One per (sentence, quantity) whose sentence a stem writer recognises
   (:mod:`qa_service.quiz.stems`), plus case-report findings
   (:mod:`qa_service.quiz.findings`). Ranked by what matters to a clinician (doses,
   thresholds, timings of response before case trivia), by relevance, and whether
   the stem is a real question (a completion item ranks lower); near-duplicates merged.
4. **Options.** Distractors from :mod:`qa_service.quiz.distractors`, guarded against
   the evidence *and* the passages retrieved for the stem itself; chosen with a
   ``random.Random`` seeded from the seed and the fact, so the same seed and corpus
   give identical items. Numeric options are in ascending order (item-writing rule);
   others in seeded order.
5. **Checks.** :mod:`qa_service.quiz.checks`; a failing item is rewritten with other
   distractors (up to ``REWRITE_TRIES`` times) or dropped.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
from dataclasses import dataclass, field
from typing import Any

from ingest.errors import UsageError
from qa_service.models import Citation, QuizItem
from qa_service.quiz import MAX_ITEMS, MIN_ITEMS
from qa_service.quiz import findings as findings_mod
from qa_service.quiz.checks import passed, run_checks
from qa_service.quiz.distractors import Candidate, numeric_candidates, quantity_context, stated_in_evidence
from qa_service.quiz.errors import QuizError
from qa_service.quiz.evidence import DocContext, Evidence, Sentence, gather
from qa_service.quiz.language import uc_first
from qa_service.quiz.quantities import Amount, base_range, find_amounts, same_value
from qa_service.quiz.stems import Stem, StemContext, condition_of, write_stem
from qa_service.verify import find_conflicts

logger = logging.getLogger(__name__)

DISTRACTORS = 3
REWRITE_TRIES = 24
STEM_EVIDENCE_K = 8
# A neighbour value more than this many times larger or smaller than the key is not plausible.
MAX_NEIGHBOUR_RATIO = 30.0
IMPORTANCE = {
    "dose": 1.0,
    "threshold": 0.95,
    "timing": 0.85,
    "finding": 0.8,
    "lab": 0.6,
    "other": 0.6,
    "case": 0.4,
}
# What one patient received teaches less than what the literature states: case-specific doses and timings rank lower.
CASE_DETAIL = 0.85
COMPLETION_PENALTY = 0.7
CATEGORY_DIVERSITY = 0.85
# Relevance to the topic scales a draft's score from this floor (least relevant usable) to 1 (most relevant);
# the evidence cut-off already left out what is off the topic, so what matters most stays what matters most.
RELEVANCE_FLOOR = 0.4
DOC_DIVERSITY = 0.93
SAME_SENTENCE_DISCOUNT = 0.6
# Which facts' values may serve as neighbour distractors for a key of each category.
NEIGHBOUR_FAMILY = {
    "dose": {"dose"},
    "timing": {"timing"},
    "threshold": {"threshold", "lab"},
    "lab": {"lab", "threshold"},
    "other": {"other", "timing"},
    "case": {"case"},
}


@dataclass
class Draft:
    """A fact ready to become an item: its sentence, stem, key and wrong-option candidates."""

    sentence: Sentence
    stem: str
    key_text: str
    category: str
    natural: bool
    score: float
    key: Amount | None = None
    candidates: list[Candidate] = field(default_factory=list)  # findings bring their own
    negative_marked: bool = False

    @property
    def numeric(self) -> bool:
        return self.key is not None


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

    Args:
        engine: An open :class:`qa_service.engine.Engine`.
        topic: What the quiz is about ("vitamin B12 deficiency in infants").
        n: How many items (1 to 50). Fewer are returned when the evidence supports fewer.
        seed: Same seed and corpus give identical items.

    Returns:
        The items, in the order of their sources.

    Raises:
        UsageError: ``topic`` empty or too long, ``n`` out of range.
        QuizError: the corpus does not cover the topic (the engine abstains), or
            no item passes the item-writing checks. Never an item made up.
    """
    topic = validate_request(topic, n)
    answer = engine.ask(topic)
    if answer.abstained:
        reason = (answer.abstain_reason or "no passage addresses it.").rstrip(".")
        raise QuizError(
            f"the ingested documents do not cover the topic “{topic}” ({reason}); no quiz items were written"
        )
    evidence = gather(engine, topic)
    drafts = collect_drafts(evidence)
    items = realise_all(engine, evidence, drafts, n, seed)
    if not items:
        raise QuizError(f"no quiz item on “{topic}” passed the item-writing checks; try a broader topic")
    logger.info("quiz built", extra={"items": len(items), "drafts": len(drafts)})
    return items


# ------------------------------------------------------------------ drafts


def collect_drafts(evidence: Evidence) -> list[Draft]:
    """Every item the evidence supports, best first, near-duplicates merged."""
    ctx = StemContext(condition_of(evidence.topic))
    disputed = _disputed_sentences(evidence.sentences)
    best_rel = max((s.relevance for s in evidence.usable), default=1.0) or 1.0
    drafts: list[Draft] = []
    categories: dict[tuple[str, int, int, int], str] = {}
    for s in evidence.sentences:
        for a in s.amounts:
            if _not_askable(s, a):
                continue
            stem = write_stem(s, a, ctx)
            if stem is None:
                continue
            categories[(*s.key, a.span[0])] = stem.category
            if s.relevance > 0 and s.key not in disputed:
                drafts.append(_numeric_draft(s, stem, best_rel))
    evidence.categories = categories
    evidence.disputed = disputed
    for f in findings_mod.find_items(evidence, ctx):
        score = IMPORTANCE["finding"] * _relevance_factor(f.sentence.relevance, best_rel)
        drafts.append(Draft(f.sentence, f.stem, f.key_text, "finding", True, score, candidates=f.candidates))
    drafts.sort(key=lambda d: (-d.score, d.sentence.doc.doc_id, d.sentence.start, d.key_text))
    return _merge_duplicates(drafts)


def _numeric_draft(s: Sentence, stem: Stem, best_rel: float) -> Draft:
    score = IMPORTANCE.get(stem.category, 0.5) * (1.0 if stem.natural else COMPLETION_PENALTY)
    if s.case_specific and stem.category in {"dose", "timing"}:
        score *= CASE_DETAIL
    score *= _relevance_factor(s.relevance, best_rel)
    return Draft(s, stem.text, stem.key.surface, stem.category, stem.natural, round(score, 6), key=stem.key)


def _relevance_factor(relevance: float, best: float) -> float:
    return RELEVANCE_FLOOR + (1 - RELEVANCE_FLOOR) * relevance / best


def _not_askable(s: Sentence, a: Amount) -> bool:
    """Reference ranges ("normal range: 200–900 pg/mL") and population descriptors ("children under 2 years")."""
    before = s.clean[: a.span[0]]
    if re.search(
        r"normal(?: range)?\s*:?\s*[<>]?\s*$|\bnormal\s*$|\bnormal range:\s*$", before, re.IGNORECASE
    ):
        return True
    if a.comparator.lower() in {"under", "up to", "below", "above"}:
        return True
    if s.label and a.surface in s.label and not a.comparator:
        return True
    return re.search(r"\b(?:aged?|children|infants|adults)\s*$", before, re.IGNORECASE) is not None


def _disputed_sentences(sentences: list[Sentence]) -> set[tuple[str, int, int]]:
    """Sentences one of whose amounts another sentence contradicts by an order of magnitude or more.

    ``verify.find_conflicts`` also pairs values that are about different things
    ("children under 2 years" and "at 1 month"; an infant's and a mother's level);
    only a tenfold-or-more gap between non-time amounts (25-30 μg vs 25 mg: a unit
    error in one source) makes a key disputed.
    """
    with_amounts = [s for s in sentences if s.amounts]
    found = [
        f
        for f in find_conflicts([(i, s.clean) for i, s in enumerate(with_amounts)])
        if _order_of_magnitude(f.description)
    ]
    disputed = {with_amounts[f.a].key for f in found} | {with_amounts[f.b].key for f in found}
    if disputed:
        logger.info("sentences with contradicted quantities left out", extra={"count": len(disputed)})
    return disputed


def _order_of_magnitude(description: str) -> bool:
    surfaces = re.findall(r'"([^"]+)"', description)
    amounts = [find_amounts(x) for x in surfaces[:2]]
    if len(amounts) != 2 or not all(amounts):
        return False
    a, b = amounts[0][0], amounts[1][0]
    ra, rb = base_range(a), base_range(b)
    if a.is_time or b.is_time or not ra or not rb or min(ra[0], rb[0]) <= 0:
        return False
    return max(ra[0], rb[0]) / min(ra[1], rb[1]) >= 10


def _merge_duplicates(drafts: list[Draft]) -> list[Draft]:
    """Keep the best of drafts asking for the same value about the same thing (a guideline and a case report)."""
    kept: list[Draft] = []
    for d in drafts:
        dup = False
        for k in kept:
            if d.key is None or k.key is None or not same_value(d.key, k.key):
                continue
            a_ctx = quantity_context(d.sentence.clean, _locate(d.sentence, d.key))
            b_ctx = quantity_context(k.sentence.clean, _locate(k.sentence, k.key))
            if len(a_ctx & b_ctx) >= 2 or d.sentence.key == k.sentence.key:
                dup = True
                break
        if not dup:
            kept.append(d)
    return kept


def _locate(s: Sentence, key: Amount) -> Amount:
    for a in s.amounts:
        if key.surface in a.surface:
            return a
    return key


# ------------------------------------------------------------------ items


def realise_all(engine: Any, evidence: Evidence, drafts: list[Draft], n: int, seed: int) -> list[QuizItem]:
    """Turn the best drafts into items that pass every check.

    Greedy: each step takes the draft with the best score, discounted by
    ``CATEGORY_DIVERSITY`` for every item of its category already chosen (a quiz of
    ten dose questions is a poor quiz), by ``DOC_DIVERSITY`` for every item from its
    document, and by ``SAME_SENTENCE_DISCOUNT`` when its sentence already gave an item.
    """
    chosen: list[tuple[Draft, QuizItem]] = []
    per_category: dict[str, int] = {}
    per_doc: dict[str, int] = {}
    used_sentences: set[tuple[str, int, int]] = set()
    remaining = list(drafts)
    prepare_stem_vectors(engine, evidence, drafts[: n + 4])
    while remaining and len(chosen) < n:

        def value(d: Draft) -> float:
            v = d.score * CATEGORY_DIVERSITY ** per_category.get(d.category, 0)
            v *= DOC_DIVERSITY ** per_doc.get(d.sentence.doc.doc_id, 0)
            return v * (SAME_SENTENCE_DISCOUNT if d.sentence.key in used_sentences else 1.0)

        best = max(remaining, key=lambda d: (value(d), -remaining.index(d)))
        remaining.remove(best)
        item = realise(engine, evidence, best, seed)
        if item is None:
            continue
        chosen.append((best, item))
        per_category[best.category] = per_category.get(best.category, 0) + 1
        per_doc[best.sentence.doc.doc_id] = per_doc.get(best.sentence.doc.doc_id, 0) + 1
        used_sentences.add(best.sentence.key)
    doc_rank = {doc: i for i, doc in enumerate(dict.fromkeys(s.doc.doc_id for s in evidence.sentences))}
    chosen.sort(
        key=lambda pair: (
            doc_rank.get(pair[0].sentence.doc.doc_id, 99),
            pair[0].sentence.start,
            pair[0].key_text,
        )
    )
    return [item for _, item in chosen]


def realise(engine: Any, evidence: Evidence, d: Draft, seed: int) -> QuizItem | None:
    """One item for a draft, or None when no set of options passes the checks."""
    rng = random.Random(f"{seed}|{d.sentence.doc.doc_id}|{d.sentence.start}|{d.key_text}")
    if d.numeric:
        pool = evidence.sentences + _stem_evidence(engine, d, evidence)
        family = NEIGHBOUR_FAMILY.get(d.category, {d.category})

        def neighbour_ok(s: Sentence, a: Amount) -> bool:
            if s.key in evidence.disputed:
                return False  # a contradicted value is no fact to contrast with
            return evidence.categories.get((*s.key, a.span[0])) in family

        candidates = numeric_candidates(d.key, d.sentence, pool, d.key_text, neighbour_ok)
        candidates = [c for c in candidates if _plausible(c, d.key)]
        candidates = [c for c in candidates if stated_in_evidence(c.amount, d.key, d.sentence, pool) is None]
    else:
        candidates = list(d.candidates)
    if len(candidates) < DISTRACTORS:
        logger.debug("too few distractors", extra={"stem": d.stem[:60]})
        return None
    for _ in range(REWRITE_TRIES):
        picked = _pick(candidates, rng, d.numeric)
        if picked is None:
            return None
        item = _assemble(d, picked, rng)
        if passed(item.checks):
            return item
    logger.debug("item dropped after rewrites", extra={"stem": d.stem[:60]})
    return None


def _stem_query(d: Draft) -> str:
    return re.sub(r"^(?:.*\.\s+)?(?:In|According to) [^,]+,\s*", "", d.stem)[:2000]


def prepare_stem_vectors(engine: Any, evidence: Evidence, drafts: list[Draft]) -> None:
    """Encode the stems of drafts in one batch (one model call instead of one per item)."""
    todo = [d for d in drafts if d.numeric and _stem_query(d) not in evidence.stem_vectors]
    if not todo:
        return
    queries = list(dict.fromkeys(_stem_query(d) for d in todo))
    vectors = engine.store.embedder.encode(queries)
    evidence.stem_vectors.update(zip(queries, vectors))


def _stem_evidence(engine: Any, d: Draft, evidence: Evidence) -> list[Sentence]:
    """Sentences of passages retrieved (hybrid search) for the stem that are not already in the evidence."""
    from ingest.chunking import split_sentences
    from qa_service.answering import clean_statement_text
    from qa_service.retrieval import to_passage

    known = {s.doc.doc_id for s in evidence.sentences}
    query = _stem_query(d)
    vector = evidence.stem_vectors.get(query)
    if vector is None:
        prepare_stem_vectors(engine, evidence, [d])
        vector = evidence.stem_vectors[query]
    cands = engine.searcher.candidates(
        query, vector, max(engine.settings.retrieval.candidates, STEM_EVIDENCE_K)
    )
    out: list[Sentence] = []
    for p in (to_passage(c) for c in cands[:STEM_EVIDENCE_K]):
        if p.doc_id in known:
            continue
        doc = DocContext(p.doc_id, p.source, p.title, "source", p.title, "patient", None)
        for i, (a, b) in enumerate(split_sentences(p.text, p.start)):
            text = p.text[a - p.start : b - p.start]
            clean = clean_statement_text(text)
            out.append(Sentence(doc, a, b, text, clean, p.section, i, amounts=find_amounts(clean)))
    return out


def _plausible(c: Candidate, key: Amount) -> bool:
    """Neighbours far from the key's magnitude fool nobody (unit slips are kept on purpose)."""
    if c.origin != "neighbour" or c.amount is None:
        return True
    ra, rb = base_range(key), base_range(c.amount)
    if not ra or not rb or ra[0] <= 0 or rb[0] <= 0:
        return False
    ratio = max(ra[0], rb[0]) / min(ra[0], rb[0])
    return ratio <= MAX_NEIGHBOUR_RATIO


def _pick(candidates: list[Candidate], rng: random.Random, numeric: bool) -> list[Candidate] | None:
    """Three distractors: at most one unit slip, neighbours preferred, the rest in seeded order."""
    if not numeric:
        pool = candidates[:]
        rng.shuffle(pool)
        return pool[:DISTRACTORS] if len(pool) >= DISTRACTORS else None
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

    entries: list[tuple[str, str, Any]] = [
        (uc_first(d.key_text), f"Correct: {_states(s)} “{s.clean.rstrip('.')}” [1].", d.key)
    ]
    for c in picked:
        entries.append((uc_first(c.text), f"{c.rationale.rstrip('.')} [{cite(c.cite)}].", c.amount))
    if d.numeric:
        entries.sort(key=lambda e: (base_range(e[2]) or (0.0, 0.0), e[0]))
    else:
        rng.shuffle(entries)
    options = [e[0] for e in entries]
    answer_index = options.index(uc_first(d.key_text))
    checks = run_checks(
        d.stem, options, answer_index, s.text, negative_marked=d.negative_marked, numeric=d.numeric
    )
    return QuizItem(
        id=_item_id(d),
        stem=d.stem,
        options=options,
        answer_index=answer_index,
        rationale=f"{_states(s).capitalize()} “{s.clean.rstrip('.')}” [1].",
        citations=citations,
        option_rationales=[e[1] for e in entries],
        checks=checks,
    )


def _states(s: Sentence) -> str:
    kind = s.doc.kind
    return f"the {kind} states" if kind != "source" else f"“{s.doc.title or s.doc.source}” states"


def _item_id(d: Draft) -> str:
    raw = f"{d.sentence.doc.doc_id}|{d.sentence.start}|{d.sentence.end}|{d.key_text}|{d.stem}"
    return "q-" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:12]
