"""Evidence for a quiz topic: the sentences of the retrieved documents, scored for the topic.

Retrieval is the engine's (``Engine.candidates``); documents come through ``Engine.documents``
(text, sections and the sentence vectors stored at ingest), so no model runs on sentences here.
Sentences are cut from the *document* text with :func:`ingest.chunking.split_sentences`, so a
citation's ``start``/``end`` index the stored document (``Document.text[start:end] == text``).

Two scores decide whether a sentence may give an item:

- ``relevance``: how close the sentence (its stored vector, else its chunk's) and its document
  are to the topic, relative to the best sentence (the retrieval score);
- ``coverage``: the share of the topic's words, weighted by how rare each is among the retrieved
  documents, that the sentence *in its context* uses (document title and first line, or for an
  untitled document the words it uses most, section heading, the sentence): "pernicious anemia" is not covered by a
  sentence of the iron-deficiency page that only says "anemia" (the entity overlap with the topic),
  while every sentence of a case report that is about the topic throughout is.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ingest.chunking import split_sentences
from ingest.lexical import stem_terms
from qa_service.answering import clean_statement_text
from qa_service.models import Citation
from qa_service.quiz.quantities import Amount, find_amounts
from qa_service.text import function_words

logger = logging.getLogger(__name__)

CANDIDATE_CHUNKS = 40
# A document whose best chunk is less similar to the topic than this share of the best chunk is left out.
RELATIVE_DOC_CUTOFF = 0.5
# Sentences less similar to the topic than this share of the best one, or than the floor, are not used.
RELATIVE_SENTENCE_CUTOFF = 0.5
MIN_SENTENCE_RELEVANCE = 0.2
DOC_WEIGHT = 0.3
# Share of the topic's (rarity-weighted) words a sentence's context must use to be on the topic.
MIN_COVERAGE = 0.5
MIN_CHARS, MAX_CHARS = 25, 400
LEAD_CHARS = 200
# A document's own subject: the content words it uses most (a case report whose title line says nothing).
DOC_KEY_TERMS = 12
MIN_DOCS_FOR_SHARE = 4


@dataclass
class DocContext:
    """What an item needs to know about a whole document."""

    doc_id: str
    source: str
    title: str | None  # the document's title; never the file name
    lead: str = ""  # the document's opening lines: what the whole document is about
    key_terms: str = ""  # the content words the document uses most (stemmed, space-separated)


@dataclass
class Sentence:
    """A sentence of a stored document with its context."""

    doc: DocContext
    start: int
    end: int
    text: str  # verbatim document text[start:end]
    clean: str  # reference markers and bullet glyphs dropped
    section: str | None
    index: int
    relevance: float = 0.0
    coverage: float = 0.0
    amounts: list[Amount] = field(default_factory=list)
    prev: Sentence | None = None
    vector: Any = None  # the unit-length sentence vector stored at ingest, when there is one

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.doc.doc_id, self.start, self.end)

    @property
    def context(self) -> str:
        """Title, section and sentence: what the sentence is about, read in place."""
        return " ".join(p for p in (self.doc.title, self.doc.lead, self.section, self.clean) if p)

    @property
    def context_terms(self) -> set[str]:
        """Stemmed words of the context and the document's most used words."""
        return set(stem_terms(self.context)) | set(self.doc.key_terms.split())

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
    topic_weights: dict[str, float] = field(default_factory=dict)
    disputed: set[tuple[tuple[str, int, int], str]] = field(default_factory=set)  # (sentence, amount)
    vectors: dict[str, Any] = field(default_factory=dict)  # unit-length embeddings of stems and phrases
    fillers: list[Any] | None = None  # (sentence, target) of every named thing in a role (distractor pool)
    guard: dict[tuple[str, str], bool] = field(default_factory=dict)  # (query, name) -> stated in the corpus

    _doc_terms: dict[str, set[str]] | None = None

    def doc_share(self, text: str) -> float:
        """Share of the retrieved documents that use every content word of ``text`` (0 with fewer than
        ``MIN_DOCS_FOR_SHARE`` documents: a share of two documents says nothing)."""
        if self._doc_terms is None:
            self._doc_terms = {}
            for s in self.sentences:
                self._doc_terms.setdefault(s.doc.doc_id, set()).update(stem_terms(s.clean))
        words = set(stem_terms(text))
        if not words or len(self._doc_terms) < MIN_DOCS_FOR_SHARE:
            return 0.0
        return sum(words <= terms for terms in self._doc_terms.values()) / len(self._doc_terms)

    @property
    def usable(self) -> list[Sentence]:
        """Sentences items may be written from: relevant to the topic and on it."""
        return [s for s in self.sentences if s.relevance > 0 and s.coverage >= MIN_COVERAGE]


def topic_terms(text: str) -> list[str]:
    """The topic's content words, stemmed (function words and numbers left out)."""
    generic = set(stem_terms(" ".join(function_words())))
    return [t for t in dict.fromkeys(stem_terms(text)) if t not in generic and not t.isdigit()]


def coverage(weights: dict[str, float], words: set[str]) -> float:
    """Rarity-weighted share of the topic's words that the (stemmed) context ``words`` use."""
    if not weights:
        return 1.0
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in words) / total if total else 0.0


def gather(engine: Any, topic: str) -> Evidence:
    """Retrieve the topic's documents and return their sentences, scored for the topic.

    Args:
        engine: An open :class:`qa_service.engine.Engine`.
        topic: The quiz topic (already validated).
    """
    vector, cands = engine.candidates(topic, max(engine.settings.retrieval.candidates, CANDIDATE_CHUNKS))
    if not cands:
        return Evidence(topic, [], vector)
    best_doc: dict[str, float] = {}
    for c in cands:
        best_doc[c.row.doc_id] = max(best_doc.get(c.row.doc_id, -1.0), c.dense)
    top = max(best_doc.values())
    # every retrieved document is read (its sentences are the distractor pool and the evidence guard);
    # items come only from those about as close to the topic as the best one
    doc_order = list(dict.fromkeys(c.row.doc_id for c in cands))
    stored = engine.documents(doc_order)
    chunk_sims: dict[str, list[tuple[int, int, float]]] = {}
    for c in cands:
        chunk_sims.setdefault(c.row.doc_id, []).append((c.row.start, c.row.end, c.dense))
    sources = {c.row.doc_id: (c.row.source, c.row.title) for c in cands}
    q = np.asarray(vector, dtype=np.float32)
    sentences: list[Sentence] = []
    for doc_id in doc_order:
        ev = stored.get(doc_id)
        if ev is None or not ev.text:
            continue
        source, title = sources[doc_id]
        shown = display_title(title, ev.sections, source)
        # a page with a title says what it is about; one without (a case report as plain text) says it by
        # the words it uses most
        doc = DocContext(doc_id, source, shown, _lead(ev.text), "" if shown else _key_terms(ev.text))
        doc_rel = best_doc[doc_id] / top if top > 0 else 0.0
        found = _sentences(doc, ev, q, doc_rel, chunk_sims.get(doc_id, []))
        if best_doc[doc_id] < RELATIVE_DOC_CUTOFF * top:
            for sent in found:
                sent.relevance = 0.0
        sentences.extend(found)
    best = max((s.relevance for s in sentences), default=0.0)
    cut = max(MIN_SENTENCE_RELEVANCE, RELATIVE_SENTENCE_CUTOFF * best)
    for s in sentences:
        if s.relevance < cut:
            s.relevance = 0.0
    weights = _topic_weights(topic, sentences)
    for s in sentences:
        s.coverage = coverage(weights, s.context_terms)
    return Evidence(topic, sentences, vector, weights)


def _lead(text: str) -> str:
    """The first line of a document (its title line or opening question, where the title field is empty)."""
    for line in text[:LEAD_CHARS].splitlines():
        if len(line.split()) >= 2:
            return line.strip()[:LEAD_CHARS]
    return ""


def _key_terms(text: str) -> str:
    """The document's most frequent content words (stemmed): what it is about when no title says so."""
    generic = set(stem_terms(" ".join(function_words())))
    counts = Counter(t for t in stem_terms(text) if t not in generic and not any(ch.isdigit() for ch in t))
    return " ".join(t for t, _ in counts.most_common(DOC_KEY_TERMS))


def display_title(title: str | None, sections: list[Any], source: str) -> str | None:
    """How a stem names a document: its title, else its first heading; never the file name."""
    stem = re.sub(r"\.[A-Za-z0-9]+$", "", source.rsplit("/", 1)[-1])
    for candidate in [title]:
        if candidate and candidate.strip() and candidate.strip() not in {stem, source}:
            return candidate.strip()
    return None


def _sentences(
    doc: DocContext, ev: Any, q: np.ndarray, doc_rel: float, chunks: list[tuple[int, int, float]]
) -> list[Sentence]:
    text = ev.text
    sections = [s for s in ev.sections if s.title]
    out: list[Sentence] = []
    prev: Sentence | None = None
    for i, (a, b) in enumerate(split_sentences(text)):
        raw = text[a:b]
        here = next((s for s in reversed(sections) if s.start <= a), None)
        section = here.title if here is not None else None
        clean = clean_statement_text(raw)
        sent = Sentence(doc, a, b, raw, clean, section, i, prev=prev)
        sent.amounts = find_amounts(clean)
        if _statement(clean, section):
            vec = ev.sentence_vectors.get((a, b))
            if vec is not None:
                vec = np.asarray(vec, dtype=np.float32)
                sent.vector = vec / (float(np.linalg.norm(vec)) or 1.0)
                sim = float(np.dot(sent.vector, q) / (float(np.linalg.norm(q)) or 1.0))
            else:
                sim = max((s for lo, hi, s in chunks if min(hi, b) > max(lo, a)), default=0.0)
            sent.relevance = round(DOC_WEIGHT * doc_rel + (1 - DOC_WEIGHT) * max(sim, 0.0), 6)
        out.append(sent)
        prev = sent
    return out


def _statement(clean: str, section: str | None) -> bool:
    """A sentence that states something: not a heading, a question or a fragment."""
    if clean.endswith("?") or not MIN_CHARS <= len(clean) <= MAX_CHARS:
        return False
    if section is not None and clean.strip() == section.strip():
        return False
    return bool(re.search(r"[.!:;)]$|\w$", clean)) and len(clean.split()) >= 5


def _topic_weights(topic: str, sentences: list[Sentence]) -> dict[str, float]:
    """Each topic word's weight: its rarity (inverse document frequency) among the retrieved documents."""
    terms = topic_terms(topic)
    docs: dict[str, set[str]] = {}
    for s in sentences:
        docs.setdefault(s.doc.doc_id, set()).update(s.context_terms)
    n = max(len(docs), 1)
    return {t: math.log(1 + n / (1 + sum(t in words for words in docs.values()))) + 0.1 for t in terms}


def content_terms(text: str) -> set[str]:
    """Stemmed content words of a text, numbers left out."""
    return {t for t in stem_terms(text) if not any(ch.isdigit() for ch in t)}
