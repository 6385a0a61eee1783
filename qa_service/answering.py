"""Extractive answer composition: every word of the answer is a source sentence.

Steps (``ExtractiveComposer.compose``):
1. Sentence candidates: the sentences of the retrieved chunks, cut from the
   *document* text so a sentence split by a chunk boundary is still whole.
2. Scoring: lexical overlap with the (synonym-expanded) question, weighted by
   IDF, with the section heading as context (a bullet under "Dosing" answers a
   dose question); dense similarity to the question for the best few; the
   chunk's retrieval score; and whether the sentence carries what the question
   asks for (a quantity for "what dose", a time for "when", an enumeration for
   "which are").
3. Selection: near-duplicates merged (one statement citing both sources), at
   most ``max_statements``, the best one first as the bottom line, the rest
   grouped by what they say when there are enough of them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ingest.chunking import split_sentences
from ingest.lexical import stem_terms
from qa_service.retrieval import Candidate, synonym_groups
from qa_service.text import stopword_stems

# ----------------------------------------------------------------- text helpers

# Reference markers of the source: [14], [15,16], [5–7], (3), (1,2); and the bare
# trailing numbers the guideline page uses on bullet lines ("... of cobalamin 1").
_BRACKET_REF = re.compile(r"\s*\[\d+(?:\s*[-–,]\s*\d+)*\]")
_PAREN_REF = re.compile(r"\s*\((?:\d{1,3}(?:\s*[-–,]\s*\d{1,3})*)\)(?=\s*[.,;:]?\s*$|\s*[.,;])")
_AUTHOR_REF = re.compile(r"\s*\((?:[A-Z][\w'’-]+(?: et al\.?| and [A-Z][\w'’-]+)?,? \d{4}[a-z]?;?\s*)+\)")
_TRAILING_REF = re.compile(r"(?<=[A-Za-z\)])\s+\d{1,2}(?:\s*,\s*\d{1,2})*\s*$")
_BULLET = re.compile(r"^\s*(?:[-•*▪◦·]|\d{1,2}[.)])\s+")

_QUANTITY = re.compile(
    r"\d(?:[\d.,]*\d)?\s*(?:[-–]\s*\d(?:[\d.,]*\d)?\s*)?"
    r"(?:μg|µg|mcg|ug|mg|g/dl|g/l|g|kg|fl|pg/ml|ng/ml|µmol/l|μmol/l|mmol/l|nmol/l|pmol/l|iu|units?|%|"
    r"days?|weeks?|months?|years?|hours?|minutes?|times|doses?|g/l)\b",
    re.IGNORECASE,
)
_TIME = re.compile(
    r"\b(?:at|after|within|before|by|around|until|from|between|during|over|for)\s+(?:the\s+)?(?:first\s+)?"
    r"(?:\d+(?:\s*[-–]\s*\d+)?|one|two|three|four|five|six|several|a few)\s*"
    r"(?:days?|weeks?|months?|years?|hours?)\b|\bage\b|\bbirth\b",
    re.IGNORECASE,
)
_TREATMENT = re.compile(
    r"\b(?:dos(?:e|es|ing|age)|\d+(?:\.\d+)?\s*(?:μg|µg|mcg|mg)|oral(?:ly)?|intramuscular(?:ly)?|parenteral|"
    r"supplementation|administ\w+|regimen|(?:hydroxo|cyano|methyl|adenosyl)cobalamin)\b",
    re.IGNORECASE,
)
_META = re.compile(
    r"^\s*(?:this|the present|our)\s+(?:comprehensive\s+)?(?:review|article|study|paper|report|case report)\s+"
    r"(?:aims|reports|describes|presents|discusses|summari[sz]es)",
    re.IGNORECASE,
)
_QUALITATIVE_RESULT = re.compile(
    r"\b(?:was|were|is|are|remained)\s+(?:\w+\s+)?(?:normal|abnormal|elevated|raised|decreased|reduced|increased|"
    r"low|high|negative|positive|undetectable)\b",
    re.IGNORECASE,
)
_LIST_CUE = re.compile(r"\b(?:include|includes|including|such as|e\.g\.|:)\s|,.*,", re.IGNORECASE)

_INTENTS: dict[str, re.Pattern[str]] = {
    "quantity": re.compile(
        r"\b(?:dose|doses|dosing|dosage|how much|how many|amount|levels?|values?|threshold|cut-?off|range|"
        r"concentration|stores?|mg|μg|mcg|count|percent|prevalence|allowance|intake|requirements?)\b",
        re.IGNORECASE,
    ),
    "duration": re.compile(r"\b(?:how long|duration|for how many|how many (?:days|weeks|months))\b", re.IGNORECASE),
    "time": re.compile(r"^\s*when\b|\bat what age\b|\bhow (?:soon|quickly|fast)\b|\bonset\b|\btiming\b", re.IGNORECASE),
    "treatment": re.compile(r"\b(?:treat|treated|treatment|therapy|manage|management|regimen)\b", re.IGNORECASE),
    "list": re.compile(
        r"^\s*(?:which|what)\s+(?:\w+\s+){0,3}(?:are|were)\b|\b(?:causes|symptoms|signs|risk factors|"
        r"indications|manifestations|features|findings|groups)\b|\bwho (?:is|are)\b",
        re.IGNORECASE,
    ),
}

# Words of the question that say what *kind* of answer is wanted rather than
# what it is about; they do not count for coverage (abstention).
GENERIC_TERMS = set(
    stem_terms(
        "what which who whom whose when where why how is are was were do does did can could should would will "
        "recommended recommend recommendation treatment treat treated therapy manage management patient patients "
        "person people use used effective best usual typical common commonly first line standard approach "
        "cause causes risk risks sign signs symptom symptoms dose dosing dosage level levels value values "
        "much many long often time times duration normal range test tests diagnosis diagnose diagnosed "
        "adult adults child children year years old age large small big size amount high low mean means "
        "know known say says state states describe described explain role important lab laboratory threshold "
        "cutoff define defines defined definition seen typical typically finding findings prompt given receive "
        "used happen happens happened occur occurs "
        # where the answer is to be found, not what it is about ("in the case report", "this study")
        "case cases report reports reported patient study article review paper according "
        # verbs of question phrasing ("what did the work-up show", "how long did it take")
        "take takes took taken make made start started starting show shows showed shown "
        "find finds found give gave given name named notice noticed see saw seen reach reached soon quickly "
        "change changes changed"
    )
)

_GROUPS: list[tuple[str, re.Pattern[str]]] = [
    ("Stores and supply", re.compile(r"\b(?:stores?|reserves?|placenta\w*|breast milk|hepatic|transfer)\b", re.I)),
    ("Dosing", re.compile(r"\b(?:dose|dosing|dosage|\d+(?:\.\d+)?\s*(?:μg|µg|mcg|mg)|daily|weekly|times (?:per|a) week|once|twice)\b", re.I)),
    ("Route", re.compile(r"\b(?:oral(?:ly)?|intramuscular(?:ly)?|parenteral|injections?|route|subcutaneous)\b", re.I)),
    ("Monitoring and response", re.compile(r"\b(?:monitor\w*|follow-up|re-?check|reticulocyte\w*|normali[sz]\w*|response|resol\w*|improvement)\b", re.I)),
    ("Who is at risk", re.compile(r"\b(?:risk|vegans?|vegetarians?|breastfed|at-risk|mothers?)\b", re.I)),
    ("Diagnosis", re.compile(r"\b(?:diagnos\w*|MCV|serum|homocysteine|methylmalonic|screening|tests?)\b", re.I)),
    ("Signs and symptoms", re.compile(r"\b(?:symptoms?|hypotonia|lethargy|regression|failure to thrive|vomiting|manifestations?|anaemia|anemia)\b", re.I)),
    ("Prognosis", re.compile(r"\b(?:prognosis|irreversible|permanent|sequelae|long-term|outcomes?|damage)\b", re.I)),
    ("Causes", re.compile(r"\b(?:causes?|results? from|due to|malabsorption|aetiology|etiology|secondary to)\b", re.I)),
    ("Prevention", re.compile(r"\b(?:prevent\w*|supplementation|fortification)\b", re.I)),
]


def clean_statement_text(text: str) -> str:
    """A source sentence as shown in an answer: reference markers and bullet glyphs dropped."""
    out = _BULLET.sub("", text.strip())
    out = _BRACKET_REF.sub("", out)
    out = _PAREN_REF.sub("", out)
    out = _AUTHOR_REF.sub("", out)
    if not re.search(r"[.!?]\s*$", out):  # bullet-style line: trailing reference numbers
        out = _TRAILING_REF.sub("", out)
    out = re.sub(r"\s+([.,;:])", r"\1", out)
    return re.sub(r"\s{2,}", " ", out).strip()


def question_intents(question: str) -> set[str]:
    """What the question asks for: quantity, duration, time, list."""
    return {name for name, pattern in _INTENTS.items() if pattern.search(question)}


@dataclass
class Sentence:
    """A sentence of a stored document that may be cited."""

    doc_id: str
    source: str
    title: str | None
    section: str | None
    start: int
    end: int
    text: str
    chunk_score: float
    lexical: float = 0.0
    dense: float = 0.0
    intent: float = 0.0
    score: float = 0.0
    context: str = ""
    stems: set[str] = field(default_factory=set)
    merged: list["Sentence"] = field(default_factory=list)
    stored_vector: np.ndarray | None = field(default=None, repr=False)  # pooled at ingest
    vector: np.ndarray | None = field(default=None, repr=False)  # set for the sentences scored densely

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.doc_id, self.start, self.end)


@dataclass
class Draft:
    """The composer's output: chosen sentences in answer order, with their group labels."""

    bottom_line: Sentence | None
    groups: list[tuple[str | None, list[Sentence]]]
    pool: list[Sentence]
    coverage: float
    missing_terms: list[str]
    confidence: float
    signals: dict[str, float] = field(default_factory=dict)


class LexicalSnapshot(Protocol):
    """The store's lexical index as one answer sees it (``ingest.lexical.BM25Index``)."""

    generation: int  # the store's change counter the index reflects

    @property
    def size(self) -> int: ...
    def term_stats(self, text: str) -> dict[str, int]: ...


class TextSource(Protocol):
    """Where the composer reads documents from (``ingest.docstore.DocumentStore``)."""

    def evidence(self, doc_ids: Sequence[str]) -> dict[str, Any]:
        """``{doc_id: DocEvidence}``: text, sections and sentence vectors pooled at ingest."""
        ...


@dataclass
class _DocView:
    """A document's text, sentence spans, sections and stored sentence vectors, cached per document."""

    text: str
    spans: list[tuple[int, int]]
    sections: list[Any]
    vectors: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)

    def heading_path(self, offset: int) -> list[str]:
        """Titles of the section containing ``offset`` and its ancestors, outermost first."""
        stack: list[Any] = []
        for sec in self.sections:
            if sec.start > offset:
                break
            while stack and stack[-1].level >= sec.level:
                stack.pop()
            if sec.title:
                stack.append(sec)
        return [sec.title for sec in stack]

    def is_heading(self, start: int, end: int) -> bool:
        """Whether the span is exactly a section heading line."""
        line = self.text[start:end].strip()
        return any(sec.title and sec.start <= start < sec.start + len(sec.title) + 4 and line == sec.title.strip() for sec in self.sections)


# Weights of (dense, lexical, chunk retrieval score, intent match) in a sentence's score.
SCORE_WEIGHTS: tuple[float, float, float, float] = (0.45, 0.35, 0.30, 0.10)
# A sentence scoring below this share of the best one is not worth a statement.
RELATIVE_CUTOFF = 0.7
# Confidence = this weight × the best sentences' similarity to the question + the rest × the
# share of the question's specific terms that one of them covers. Chosen on dev questions only
# (benchmarks/calibrate_abstention.py, eval/gold/dev*.jsonl) together with the threshold
# (settings.answer.abstain_threshold = 0.50): answers 0.962 of answerable dev questions and abstains
# on 0.808 of unanswerable ones; the previous 0.35 / 0.55 gave 0.923 / 0.808. Sentence vectors
# pooled at ingest score a little lower against the question than sentences encoded alone, so
# the dense share weighs less than before.
CONFIDENCE_DENSE_WEIGHT = 0.2
# Confidence is scaled by this floor + the rest × how well the best sentences match the question's intent.
INTENT_FLOOR = 0.6


@dataclass
class _Scored:
    """What scoring learnt about the question, for one answer."""

    coverage: float  # share of the question's specific terms the evidence mentions (IDF-weighted)
    missing: list[str]  # specific terms the corpus never uses, when they carry the question
    focus: list[str]
    weights: dict[str, float]
    synonyms: dict[str, set[str]]

    def local_coverage(self, s: Sentence) -> float:
        """Share of the question's specific terms (IDF-weighted) that this one sentence and its headings mention."""
        total = sum(self.weights[t] for t in self.focus)
        if not total:
            return 1.0
        words = s.stems | set(stem_terms(s.context or ""))
        return sum(self.weights[t] for t in self.focus if _covers(words, self.synonyms.get(t, {t}))) / total


# Documents (text, sentence spans, sections, vectors) and ask-time sentence vectors kept between asks.
DOC_CACHE_SIZE = 256
VECTOR_CACHE_SIZE = 20000


class ExtractiveComposer:
    """Builds answers from retrieved sentences; see the module docstring."""

    name = "extractive"

    def __init__(self, embedder: Any, settings: Any, docs: TextSource, dense_top: int = 10) -> None:
        self.embedder = embedder
        self.settings = settings
        self.docs = docs
        self.dense_top = dense_top
        self._docs: dict[str, _DocView] = {}
        self._vector_cache: dict[tuple[str, int, int], np.ndarray] = {}
        self._generation: int | None = None

    # -- sentence candidates
    # Several requests may compose at once (the API serves asks from a thread pool):
    # the caches are only read with .get and written whole, and everything one
    # answer depends on lives in locals, never in attributes.
    def _views(self, doc_ids: Sequence[str]) -> dict[str, _DocView]:
        """The documents' views, reading those not cached yet in one query."""
        views: dict[str, _DocView] = {}
        missing: list[str] = []
        for doc_id in dict.fromkeys(doc_ids):
            view = self._docs.get(doc_id)
            if view is None:
                missing.append(doc_id)
            else:
                views[doc_id] = view
        if missing:
            found = self.docs.evidence(missing)
            if len(self._docs) + len(missing) > DOC_CACHE_SIZE:
                self._docs = {}
            for doc_id in missing:
                ev = found.get(doc_id)
                if ev is None or not ev.text:
                    view = _DocView("", [], [])
                else:
                    view = _DocView(ev.text, split_sentences(ev.text, 0), ev.sections, ev.sentence_vectors)
                views[doc_id] = self._docs[doc_id] = view
        return views

    def sentences(self, cands: Sequence[Candidate]) -> list[Sentence]:
        """Whole sentences overlapping the given chunks (deduplicated across overlapping chunks)."""
        out: dict[tuple[str, int, int], Sentence] = {}
        views = self._views([c.row.doc_id for c in cands])
        for cand in cands:
            row = cand.row
            view = views[row.doc_id]
            for s, e in view.spans:
                if e <= row.start or s >= row.end:
                    continue
                # a sentence cut by the chunk edge is kept whole when most of it is inside
                inside = min(e, row.end) - max(s, row.start)
                if inside < 0.5 * (e - s) and inside < 80:
                    continue
                key = (row.doc_id, s, e)
                if key in out:
                    out[key].chunk_score = max(out[key].chunk_score, cand.fused)
                    continue
                sent_text = view.text[s:e]
                cleaned = clean_statement_text(sent_text)
                if len(cleaned) < 12 or cleaned.endswith("?") or view.is_heading(s, e) or _looks_like_title(cleaned):
                    continue  # questions and headings are not evidence
                path = view.heading_path(s)
                out[key] = Sentence(
                    doc_id=row.doc_id, source=row.source, title=row.title, section=path[-1] if path else row.section,
                    start=s, end=e, text=sent_text, chunk_score=cand.fused, context=" ".join(path),
                    stored_vector=view.vectors.get((s, e)),
                )
        return list(out.values())

    # -- scoring
    def score(self, question: str, query_vector: np.ndarray, sents: list[Sentence], index: LexicalSnapshot) -> _Scored:
        """Score sentences in place; returns the coverage of the question's terms and the terms the corpus lacks."""
        stop = stopword_stems()
        q_terms = [t for t in dict.fromkeys(stem_terms(question)) if t not in stop]
        syn = _with_joined_forms(question, _synonym_stems())
        n_docs = index.size
        df = index.term_stats(" ".join(sorted({a for t in q_terms for a in syn.get(t, {t})})))
        weights: dict[str, float] = {}
        for t in q_terms:
            d = df.get(t, 0)
            weights[t] = math.log(1 + (n_docs + 1) / (d + 0.5))
        focus = [t for t in q_terms if t not in GENERIC_TERMS]
        intents = question_intents(question)
        for s in sents:
            s.stems = set(stem_terms(clean_statement_text(s.text)))
            heading = set(stem_terms(s.context or s.section or ""))
            got = 0.0
            for t in q_terms:
                alts = syn.get(t, {t})
                if s.stems & alts:
                    got += weights[t]
                elif heading & alts:
                    got += 0.6 * weights[t]
            total = sum(weights.values()) or 1.0
            # long sentences match more words by chance: damp them (BM25-style length normalisation)
            length = max(len(s.stems), 1)
            s.lexical = (got / total) * min(1.0, (14 / length) ** 0.3)
            s.intent = _intent_score(intents, s.text, s.context)
            if _META.search(s.text):
                s.lexical *= 0.5  # "This review aims to ..." describes the document, it answers nothing
        # dense similarity for the most promising sentences only (each encode costs time)
        pre = sorted(sents, key=lambda s: -(0.6 * s.lexical + 0.4 * s.chunk_score))[: self.dense_top]
        # Vectors pooled at ingest; a store written before they existed has none, and
        # those sentences are encoded here (and cached until the store changes).
        for s in pre:
            s.vector = s.stored_vector if s.stored_vector is not None else self._vector_cache.get(s.key)
        todo = [s for s in pre if s.vector is None]
        if todo:
            if len(self._vector_cache) + len(todo) > VECTOR_CACHE_SIZE:
                self._vector_cache = {}
            for s, v in zip(todo, self.embedder.encode([clean_statement_text(s.text) for s in todo])):
                s.vector = self._vector_cache[s.key] = v
        for s in pre:
            s.dense = float(np.dot(s.vector, query_vector))
        for s in sents:
            dense = s.dense if s in pre else 0.0
            wd, wl, wc, wi = SCORE_WEIGHTS
            s.score = wd * max(dense, 0.0) + wl * s.lexical + wc * s.chunk_score + wi * s.intent
        # coverage: the share of the question's specific terms the evidence mentions
        evidence = set().union(*(s.stems | set(stem_terms(s.context or "")) for s in sents)) if sents else set()
        missing: list[str] = []
        fw = cw = mw = 0.0
        for t in focus:
            fw += weights[t]
            alts = syn.get(t, {t})
            if _covers(evidence, alts):
                cw += weights[t]
            elif all(df.get(a, 0) == 0 for a in alts):
                missing.append(t)
                mw += weights[t]
        coverage = cw / fw if fw else 1.0
        # Words the corpus never uses make the question unanswerable only when they carry
        # most of what it is about ("antibiotics for pneumonia"), not for one odd word.
        if not fw or mw / fw < 0.5:
            missing = []
        missing.extend(_missing_vitamins(question, sents))
        return _Scored(coverage, missing, focus, weights, syn)

    # -- composition
    def compose(
        self,
        question: str,
        query_vector: np.ndarray,
        cands: Sequence[Candidate],
        index: LexicalSnapshot,
    ) -> Draft:
        """Choose, merge, order and group sentences for ``question``.

        ``index`` is the store's lexical index as this answer sees it (term statistics).
        When its generation moved, a document may have been re-ingested, and the
        cached texts and vectors are dropped.
        """
        if index.generation != self._generation:
            self._docs, self._vector_cache = {}, {}
            self._generation = index.generation
        a = self.settings.answer
        sents = self.sentences(cands)
        scored = self.score(question, query_vector, sents, index)
        coverage, missing = scored.coverage, scored.missing
        ranked = sorted(sents, key=lambda s: (-s.score, s.doc_id, s.start))
        best = ranked[0].score if ranked else 0.0
        top_dense = max((s.dense for s in ranked[:3]), default=0.0)
        local = max((scored.local_coverage(s) for s in ranked[:3]), default=0.0)
        intent = max((s.intent for s in ranked[:3]), default=0.0) if question_intents(question) else 1.0
        confidence = _confidence(top_dense, local, intent, bool(missing))
        signals = {"dense": top_dense, "local_coverage": local, "intent": intent, "coverage": coverage, "missing": float(bool(missing))}
        chosen: list[Sentence] = []
        for s in ranked:
            if len(chosen) >= a.max_statements:
                break
            if s.score < max(a.min_sentence_score, RELATIVE_CUTOFF * best):
                break
            dup = next((c for c in chosen if _near_duplicate(c, s)), None)
            if dup is not None:
                if dup.doc_id != s.doc_id and all(m.doc_id != s.doc_id for m in dup.merged):
                    dup.merged.append(s)
                continue
            chosen.append(s)
        if not chosen:
            return Draft(None, [], ranked, coverage, missing, confidence, signals)
        bottom, rest = chosen[0], chosen[1:]
        return Draft(bottom, _group(rest), ranked, coverage, missing, confidence, signals)


def _covers(words: set[str], alternatives: set[str]) -> bool:
    """A term is covered by an equal stem, inside a compound ("antibodi" in "autoantibodi"), or by
    a longer or shorter form of one word ("infant" / "infantil": the stemmer keeps them apart), or a
    word of the same root (seven letters alike)."""
    if words & alternatives:
        return True
    return any(
        (len(a) >= 5 and any(a in w for w in words if len(w) > len(a)))
        or (len(a) >= 6 and any(len(w) >= 6 and a.startswith(w) for w in words))
        or (len(a) >= 7 and any(w[:7] == a[:7] for w in words))  # one root: "neutrophil" / "neutropenia"
        for a in alternatives
    )


_HYPHENATED = re.compile(r"\b([A-Za-z]{2,})-([A-Za-z]{2,})\b")


def _with_joined_forms(question: str, synonyms: dict[str, set[str]]) -> dict[str, set[str]]:
    """A hyphenated word of the question also matches its joined spelling ("work-up" / "workup")."""
    extra: dict[str, set[str]] = {}
    for m in _HYPHENATED.finditer(question):
        first, joined = stem_terms(m.group(1)), stem_terms(m.group(1) + m.group(2))
        if first and joined:
            extra.setdefault(first[0], set(synonyms.get(first[0], {first[0]}))).add(joined[0])
    return {**synonyms, **extra} if extra else synonyms


def _looks_like_title(text: str) -> bool:
    """A title line ("Vitamin B12 Deficiency in Infants: Clinical Manifestations, ...") states nothing."""
    if re.search(r"[.!?]$", text):
        return False
    words = re.findall(r"[A-Za-z][\w'-]*", text)
    long_words = [w for w in words if len(w) > 3]
    if len(long_words) < 3:
        return False
    return sum(w[0].isupper() for w in long_words) / len(long_words) >= 0.7


def _intent_score(intents: set[str], text: str, section: str | None) -> float:
    if not intents:
        return 0.0
    hits = 0.0
    if "quantity" in intents:
        if _QUANTITY.search(text):
            hits += 1
        elif _QUALITATIVE_RESULT.search(text):  # "Platelet counts were normal." answers "what was the count?"
            hits += 0.5
    if "duration" in intents and re.search(r"\b\d+(?:\s*[-–]\s*\d+)?\s*(?:days?|weeks?|months?|years?)\b|\bfor (?:one|two|three|four|six) (?:days|weeks|months)\b", text, re.I):
        hits += 1
    if "time" in intents and _TIME.search(text):
        hits += 1
    if "list" in intents and (_LIST_CUE.search(text) or _BULLET.match(text)):
        hits += 1
    if "treatment" in intents and _TREATMENT.search(f"{text} {section or ''}"):
        hits += 1
    return hits / len(intents)


def _near_duplicate(a: Sentence, b: Sentence) -> bool:
    if a.doc_id == b.doc_id and not (a.end <= b.start or b.end <= a.start):
        return True
    if a.stems and b.stems:
        jac = len(a.stems & b.stems) / len(a.stems | b.stems)
        if jac >= 0.6:
            return True
    return a.vector is not None and b.vector is not None and float(np.dot(a.vector, b.vector)) >= 0.92


def group_label(s: Sentence) -> str:
    """The heading a statement goes under: what it is about, else "Also relevant"."""
    return next((name for name, pat in _GROUPS if pat.search(s.text) or (s.section and pat.search(s.section))), "Also relevant")


def _group(statements: list[Sentence]) -> list[tuple[str | None, list[Sentence]]]:
    """Group by what statements say when there are enough of them; otherwise one flat list."""
    if len(statements) < 3:
        return [(None, statements)] if statements else []
    labelled: dict[str, list[Sentence]] = {}
    order: list[str] = []
    for s in statements:
        label = group_label(s)
        if label not in labelled:
            labelled[label] = []
            order.append(label)
        labelled[label].append(s)
    if len(labelled) == 1:
        return [(None, statements)]
    return [(label, labelled[label]) for label in order]


def _confidence(top_dense: float, local_coverage: float, intent: float, has_missing: bool) -> float:
    """Evidence score in [0, 1] used for abstention (weights calibrated on dev questions).

    A question asking for a quantity, a time or a treatment is only answered with
    confidence when one of the best sentences carries that kind of content.
    """
    value = CONFIDENCE_DENSE_WEIGHT * max(0.0, min(1.0, (top_dense - 0.15) / 0.55)) + (1 - CONFIDENCE_DENSE_WEIGHT) * local_coverage
    value *= INTENT_FLOOR + (1 - INTENT_FLOOR) * intent
    if has_missing:
        value = 0.0
    return round(max(0.0, min(1.0, value)), 4)


@lru_cache(maxsize=1)
def _synonym_stems() -> dict[str, set[str]]:
    """Stem -> the stems of its one-word synonyms (itself included)."""
    table: dict[str, set[str]] = {}
    for group in synonym_groups():
        # only one-word entries: a phrase's words ("vitamin", "much") are not synonyms alone
        single = {stem_terms(term)[0] for term in group if len(stem_terms(term)) == 1}
        for st in single:
            table.setdefault(st, {st}).update(single)
    return table

_VITAMIN = re.compile(r"\bvitamin\s+([a-z]\d{0,2})\b", re.IGNORECASE)


def _missing_vitamins(question: str, sents: Sequence[Sentence]) -> list[str]:
    """'vitamin D' is not 'vitamin B12': one-letter names are lost by tokenisation, so check the phrase."""
    missing = []
    for m in _VITAMIN.finditer(question):
        name = m.group(1).lower()
        pattern = re.compile(rf"\bvitamin\s+{re.escape(name)}\b", re.IGNORECASE)
        if name == "b12":
            pattern = re.compile(r"\bvitamin\s+b12\b|\bcobalamin|\bb12\b", re.IGNORECASE)
        if not any(pattern.search(s.text) or (s.section and pattern.search(s.section)) for s in sents):
            missing.append(f"vitamin {name.upper()}")
    return missing
