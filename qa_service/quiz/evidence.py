"""Evidence for a quiz topic: the sentences of the retrieved documents, with the context a stem needs.

Retrieval is the engine's (``Engine.candidates``); sentences are cut from the
*document* text with :func:`ingest.chunking.split_sentences`, so a citation's
``start``/``end`` index the stored document (``Document.text[start:end] == text``).
Every sentence of a retrieved document is kept as context (what came before,
whose values a case report gives, which section a bullet sits in); only those
in the retrieved chunks are used for items (``relevance > 0``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ingest.chunking import split_sentences
from ingest.lexical import stem_terms
from qa_service.answering import clean_statement_text
from qa_service.models import Citation
from qa_service.quiz.quantities import Amount, find_amounts

logger = logging.getLogger(__name__)

CANDIDATE_CHUNKS = 40
# A document whose best chunk is less similar to the topic than this share of the best chunk is left out.
RELATIVE_DOC_CUTOFF = 0.5
# Sentences (in context) less similar to the topic than this share of the best one, or than the floor, are not used.
RELATIVE_SENTENCE_CUTOFF = 0.55
# Share of a sentence's relevance that comes from its document being about the topic (the rest is its own).
DOC_WEIGHT = 0.25
MIN_SENTENCE_RELEVANCE = 0.2

_CASE_DOC = re.compile(r"\bcase report\b|\bwe (?:present|report|describe) (?:the |a )?case\b", re.IGNORECASE)
_GUIDELINE_DOC = re.compile(r"\bguidelines?\b|\brecommended (?:treatment|dose|dosing)\b", re.IGNORECASE)
_REVIEW_DOC = re.compile(r"\b(?:this|our) (?:\w+ )?review\b|\bsystematic review\b", re.IGNORECASE)
_CASE_SECTION = re.compile(
    r"\b(?:case|patient|observation|presentation|history|clinical course)\b", re.IGNORECASE
)
_MOTHER = re.compile(r"\b(?:mother|mother's|maternal)\b", re.IGNORECASE)
_PATIENT_WORD = re.compile(
    r"\b(?:\d+-(?:day|week|month|year)-old\s+(?:male\s+|female\s+)?)?(?P<noun>infant|child|boy|girl|neonate|newborn|toddler|patient)\b",
    re.IGNORECASE,
)
_PATIENT_MENTION = re.compile(
    r"\b(?:the (?:infant|child|boy|girl|patient|neonate)|our patient|he|his|she)\b", re.IGNORECASE
)
_TREATMENT_START = re.compile(
    r"\b(?:therapy|treatment|supplementation|replacement)\b[^.]{0,60}?\b(?:was|were)\s+(?:\w+\s+)?(?:initiated|started|begun|commenced)\b",
    re.IGNORECASE,
)
_LABEL = re.compile(r"^(?P<label>[A-Z][^:.!?]{1,70}?):\s+(?P<body>\S.*)$", re.DOTALL)
_BULLET_START = re.compile(r"^\s*(?:[-•*▪◦·]|\d{1,2}[.)])\s+")


@dataclass
class DocContext:
    """What a stem needs to know about a whole document."""

    doc_id: str
    source: str
    title: str | None
    kind: str  # "case report" | "guideline" | "review" | "source"
    heading: (
        str | None
    )  # the title, or the first title-like line ("Treatment of Vitamin B12 Deficiency in ...")
    patient: str  # "infant", "child", ... (case reports)
    treatment_start: int | None  # offset of the sentence saying treatment began (case reports)


@dataclass
class Sentence:
    """A sentence of a stored document with its context."""

    doc: DocContext
    start: int
    end: int
    text: str  # verbatim document text[start:end]
    clean: str  # reference markers and bullet glyphs dropped
    section: str | None
    index: int  # position in the document's sentence list
    parent_section: str | None = None  # an empty heading right before the section ("Dosing Recommendations")
    relevance: float = 0.0
    label: str | None = None
    body: str = ""
    case_specific: bool = False
    scope: str | None = None  # "patient" | "mother" (case reports)
    phase: str | None = None  # "presentation" | "follow-up" (case reports)
    prev: Sentence | None = None
    amounts: list[Amount] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.doc.doc_id, self.start, self.end)

    def citation(self, cid: int) -> Citation:
        """This sentence as a contract ``Citation`` numbered ``cid``."""
        return Citation(
            id=cid,
            doc_id=self.doc.doc_id,
            source=self.doc.source,
            title=self.doc.title,
            section=self.section,
            start=self.start,
            end=self.end,
            text=self.text,
            score=round(self.relevance, 6),
        )


@dataclass
class Evidence:
    """The topic's evidence: sentences of the retrieved documents, best documents first."""

    topic: str
    sentences: list[Sentence]
    topic_vector: Any = None
    # filled by the generator: the item category of each askable quantity, and contradicted sentences
    categories: dict[tuple[str, int, int, int], str] = field(default_factory=dict)
    disputed: set[tuple[str, int, int]] = field(default_factory=set)
    stem_vectors: dict[str, Any] = field(default_factory=dict)

    @property
    def usable(self) -> list[Sentence]:
        """Sentences inside retrieved chunks (those items may be written from)."""
        return [s for s in self.sentences if s.relevance > 0]


def gather(engine: Any, topic: str) -> Evidence:
    """Retrieve the topic's documents and return their sentences, scored for relevance to the topic.

    Documents come from the engine's hybrid retrieval (those whose best chunk is
    at least ``RELATIVE_DOC_CUTOFF`` as similar to the topic as the best chunk).
    A sentence's relevance mixes how much its document is about the topic with how
    much its own chunk is (stored chunk vectors: no new model call) or, whichever
    is higher, how many of the topic's words the sentence *in its context*
    (document heading, section, bullet label) uses: "Initial dosing: 1000-2000 μg
    intramuscularly" is about B12 deficiency in children because of where it stands.

    Args:
        engine: An open :class:`qa_service.engine.Engine`.
        topic: The quiz topic (already validated).

    Returns:
        Evidence whose ``usable`` sentences score at least ``RELATIVE_SENTENCE_CUTOFF``
        of the best sentence (and ``MIN_SENTENCE_RELEVANCE``).
    """
    vector, cands = engine.candidates(topic, max(engine.settings.retrieval.candidates, CANDIDATE_CHUNKS))
    if not cands:
        return Evidence(topic, [], vector)
    best_doc: dict[str, float] = {}
    for c in cands:
        best_doc[c.row.doc_id] = max(best_doc.get(c.row.doc_id, -1.0), c.dense)
    top = max(best_doc.values())
    doc_order = [
        d for d in dict.fromkeys(c.row.doc_id for c in cands) if best_doc[d] >= RELATIVE_DOC_CUTOFF * top
    ]
    sentences: list[Sentence] = []
    for doc_id in doc_order:
        doc_sentences = _document_sentences(engine, doc_id)
        _score_relevance(
            engine, vector, topic, doc_id, best_doc[doc_id] / top if top > 0 else 0.0, top, doc_sentences
        )
        sentences.extend(doc_sentences)
    best = max((s.relevance for s in sentences), default=0.0)
    cut = max(MIN_SENTENCE_RELEVANCE, RELATIVE_SENTENCE_CUTOFF * best)
    for s in sentences:
        if s.relevance < cut:
            s.relevance = 0.0
    return Evidence(topic, sentences, vector)


def _document_sentences(engine: Any, doc_id: str) -> list[Sentence]:
    doc = engine.store.docs.get_document(doc_id)
    if doc is None or not doc.text:
        return []
    text = doc.text
    sections = [s for s in engine.store.docs.sections(doc_id) if s.title]
    ctx = _doc_context(doc, text, sections)
    out: list[Sentence] = []
    prev: Sentence | None = None
    for i, (s, e) in enumerate(split_sentences(text)):
        raw = text[s:e]
        here = next((k for k in range(len(sections) - 1, -1, -1) if sections[k].start <= s), None)
        section = sections[here].title if here is not None else None
        parent = _parent_heading(text, sections, here)
        clean = clean_statement_text(raw)
        sent = Sentence(ctx, s, e, raw, clean, section, i, parent_section=parent, relevance=1.0, prev=prev)
        _add_label(sent, text)
        _add_case_context(sent, text, ctx)
        sent.amounts = find_amounts(sent.clean)
        if (
            clean.endswith("?")
            or len(clean) < 12
            or (section is not None and clean == section.strip())
            or _looks_like_title(clean)
        ):
            sent.relevance = 0.0  # questions and headings state nothing
        out.append(sent)
        prev = sent
    _carry_scope(out, text)
    return out


def _parent_heading(text: str, sections: list[Any], here: int | None) -> str | None:
    """The title of an empty section just before this one: a flat outline's parent heading."""
    if here is None or here == 0:
        return None
    before = sections[here - 1]
    body = text[before.start : sections[here].start].strip()
    return before.title if before.title and body == before.title.strip() else None


def _doc_context(doc: Any, text: str, sections: list[Any]) -> DocContext:
    head = text[:4000]
    if _CASE_DOC.search(head):
        kind = "case report"
    elif _GUIDELINE_DOC.search(text):
        kind = "guideline"
    elif _REVIEW_DOC.search(head):
        kind = "review"
    else:
        kind = "source"
    patient = "patient"
    treatment_start = None
    if kind == "case report":
        case_text = " ".join(
            text[sec.start : sec.start + 3000] for sec in sections if _CASE_SECTION.search(sec.title or "")
        )
        m = _PATIENT_WORD.search(case_text or text)
        if m:
            patient = m.group("noun").lower()
        t = _TREATMENT_START.search(text)
        treatment_start = t.start() if t else None
    return DocContext(
        doc.doc_id,
        doc.source,
        doc.title,
        kind,
        doc.title or _heading(text, sections),
        patient,
        treatment_start,
    )


def _heading(text: str, sections: list[Any]) -> str | None:
    """The first title-like line near the top (documents without a title)."""
    candidates = [sec.title for sec in sections if sec.start < 1500] + text[:1500].splitlines()
    for line in candidates:
        line = (line or "").strip()
        if len(line.split()) >= 4 and _looks_like_title(line):
            return line
    return None


def _add_label(sent: Sentence, text: str) -> None:
    """'Label: body' bullet lines (guideline pages): the label names what the body states."""
    m = _LABEL.match(sent.clean)
    line_start = text.rfind("\n", 0, sent.start) + 1
    whole_line = text[line_start : sent.start].strip() == "" or bool(
        _BULLET_START.match(text[line_start : sent.end])
    )
    if (
        m
        and whole_line
        and m.group("label").count("(") == m.group("label").count(")")
        and len(m.group("label").split()) <= 8
    ):
        sent.label = m.group("label").strip()
        sent.body = m.group("body").strip()
    else:
        sent.body = sent.clean


def _add_case_context(sent: Sentence, text: str, ctx: DocContext) -> None:
    if ctx.kind != "case report":
        return
    sent.case_specific = (
        bool(sent.section and _CASE_SECTION.search(sent.section)) and sent.section != "Case report"
    )
    if not sent.case_specific:
        return
    sent.scope = "mother" if _MOTHER.search(sent.clean) else None
    if ctx.treatment_start is not None:
        sent.phase = "presentation" if sent.end <= ctx.treatment_start else "follow-up"


def _carry_scope(sentences: list[Sentence], text: str) -> None:
    """Whose values a case-report sentence gives: the mother's work-up runs on until the patient is named again."""
    mother = False
    for s in sentences:
        if not s.case_specific:
            mother = False
            continue
        if s.scope == "mother":
            # "The etiological workup performed in the mother ..." opens a stretch about her;
            # "His mother followed a normal diet" is one remark.
            opener = re.search(
                r"\b(?:in|of) the mother\b|\bmaternal (?:work-?up|testing|history)\b", s.clean, re.IGNORECASE
            )
            mother = mother or bool(opener)
            continue
        if mother and not _PATIENT_MENTION.search(s.clean):
            s.scope = "mother"
        else:
            mother = False
            s.scope = "patient"


def _score_relevance(
    engine: Any,
    vector: Any,
    topic: str,
    doc_id: str,
    doc_rel: float,
    top_chunk: float,
    sentences: list[Sentence],
) -> None:
    """relevance = ¼ document relevance + ¾ max(chunk similarity, share of the topic's words the sentence's context uses)."""
    rows = engine.store.docs.document_chunks(doc_id)
    stored = engine.store.vectors.get_vectors([r.chunk_id for r in rows])
    q = np.asarray(vector)
    spans = [(r.start, r.end, float(np.dot(stored[r.chunk_id], q))) for r in rows if r.chunk_id in stored]
    top_terms = [t for t in dict.fromkeys(stem_terms(topic)) if t not in _GENERIC]
    for s in sentences:
        if s.relevance <= 0:
            continue
        if not (s.amounts or s.case_specific):
            s.relevance = 0.0  # nothing a quiz item is written from
            continue
        chunk = max((sim for a, b, sim in spans if min(b, s.end) - max(a, s.start) > 0), default=0.0)
        chunk = chunk / top_chunk if top_chunk > 0 else 0.0
        context = " ".join(p for p in (s.doc.heading, s.parent_section, s.section, s.clean) if p)
        words = set(stem_terms(context))
        lexical = sum(t in words for t in top_terms) / len(top_terms) if top_terms else 0.0
        s.relevance = round(DOC_WEIGHT * doc_rel + (1 - DOC_WEIGHT) * max(chunk, lexical), 6)


_GENERIC = set(stem_terms("what which who how the of in on for and or to a an with about after before"))


def _looks_like_title(text: str) -> bool:
    """A heading line ("Vitamin B12 Deficiency in Infants: Clinical Manifestations") rather than a statement."""
    if re.search(r"[.!?]$", text):
        return False
    words = [w for w in re.findall(r"[A-Za-z][\w'-]*", text) if len(w) > 3]
    return len(words) >= 3 and sum(w[0].isupper() for w in words) / len(words) >= 0.7


def content_terms(text: str) -> set[str]:
    """Stemmed content words of a text, numbers left out."""
    return {t for t in stem_terms(text) if not any(ch.isdigit() for ch in t)}
