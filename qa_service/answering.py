"""Extractive answer composition: every word of the answer is a source sentence.

Steps (``ExtractiveComposer.compose``):
1. Candidates: the sentences of the retrieved chunks, cut from the *document* text
   so a sentence split by a chunk boundary is still whole.
2. Ranking: a small learned model (:mod:`qa_service.ranker`) gives each candidate
   its probability of holding the answer, from generic features of the question and
   the sentence (dense similarity in context, sentence BM25, term coverage with
   spelling variants, the chunk's retrieval scores, the heading, answer type,
   position, length).
3. Selection: the best sentence is the bottom line; further sentences follow while
   they are likely enough and add something new (near-duplicates from two documents
   become one statement citing both, but only when each supports the statement);
   a multi-part question gets its best sentence for every part; at most
   ``max_statements``.
4. Abstention: a second small model turns the best candidates' probabilities, the
   question terms the corpus never uses (any spelling) and how specific they are
   into a confidence in [0, 1], compared with a threshold calibrated on dev data.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ingest.chunking import split_sentences
from qa_service.quantities import dimension, find_quantities, numbers_in
from qa_service.question import QuestionAnalysis, analyse_question, normalised_stems, word_stems
from qa_service.ranker import ANSWER_FEATURES, SentenceFacts, answer_features, featurize, load_ranker
from qa_service.ranker import Candidate as RankInput
from qa_service.retrieval import Candidate
from qa_service.text import function_words as function_words_lower
from qa_service.text import stopword_stems
from qa_service.verify import check_support

# ----------------------------------------------------------------- text helpers

# Reference markers of the source: [14], [15,16], [5–7], (3), (1,2), (Author et al., 2020); and
# the bare trailing numbers some web pages put on bullet lines ("... of cobalamin 1").
_BRACKET_REF = re.compile(r"\s*\[\d+(?:\s*[-–,]\s*\d+)*\]")
_PAREN_REF = re.compile(r"\s*\((?:\d{1,3}(?:\s*[-–,]\s*\d{1,3})*)\)(?=\s*[.,;:]?\s*$|\s*[.,;])")
_AUTHOR_REF = re.compile(r"\s*\((?:[A-Z][\w'’-]+(?: et al\.?| and [A-Z][\w'’-]+)?,? \d{4}[a-z]?;?\s*)+\)")
_TRAILING_REF = re.compile(r"(?<=[A-Za-z\)])\s+\d{1,2}(?:\s*,\s*\d{1,2})*\s*$")
_BULLET = re.compile(r"^\s*(?:[-•*▪◦·]|\d{1,2}[.)])\s+")


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
    chunk_dense: float = 0.0
    chunk_lexical: float = 0.0
    chunk_rank: int = 0
    dense: float = 0.0
    score: float = 0.0  # the ranker's probability that this sentence holds the answer
    context: str = ""
    position: float = 0.0
    index: int = 0  # the sentence's number in its document
    first_in_section: bool = False
    facts: SentenceFacts | None = field(default=None, repr=False)
    merged: list[Sentence] = field(default_factory=list)
    stored_vector: np.ndarray | None = field(default=None, repr=False)  # pooled at ingest
    vector: np.ndarray | None = field(default=None, repr=False)

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.doc_id, self.start, self.end)

    @property
    def stems(self) -> frozenset[str]:
        return self.facts.stems if self.facts is not None else frozenset()


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
    # designated names of the question ("vitamin D") that no retrieved sentence states: the evidence is
    # about a sibling ("vitamin B12"), however close, so the answer abstains whatever the confidence
    unsaid_names: list[str] = field(default_factory=list)


class LexicalSnapshot(Protocol):
    """The store's lexical index as one answer sees it (``ingest.lexical.BM25Index``)."""

    generation: int  # the store's change counter the index reflects

    @property
    def size(self) -> int: ...
    def term_stats(self, text: str) -> dict[str, int]: ...
    def has_relative(self, stem: str) -> bool: ...


class TextSource(Protocol):
    """Where the composer reads documents from (``ingest.docstore.DocumentStore``)."""

    def evidence(self, doc_ids: Sequence[str]) -> dict[str, Any]:
        """``{doc_id: DocEvidence}``: text, sections and sentence vectors pooled at ingest."""
        ...


_WORDS = re.compile(r"[A-Za-zÀ-ÿ][\w'’-]*")
_ENUMERATION = re.compile(r"[,;].*[,;]|:\s*\S")
# reference markers and years in citations carry no answer
_REFS_ANY = re.compile(r"\[[\d,\s–-]+\]|\(\d{4}\)")


def sentence_facts(text: str) -> SentenceFacts:
    """What a sentence carries, whatever the question: its words, a quantity, a time, a list."""
    cleaned = clean_statement_text(text)
    stems = normalised_stems(cleaned)
    stop = stopword_stems()
    content = [s for s in _stem_sequence(cleaned) if s not in stop]
    quantities = find_quantities(cleaned)
    return SentenceFacts(
        stems=frozenset(s for s in stems if s not in stop),
        tf=dict(Counter(content)),
        length=max(len(content), 1),
        has_quantity=bool(quantities),
        has_number=bool(numbers_in(_REFS_ANY.sub(" ", cleaned))),
        has_time=any(dimension(q) == "[time]" for q in quantities),
        enumeration=bool(_ENUMERATION.search(cleaned)),
        bullet=bool(_BULLET.match(text)),
    )


def _stem_sequence(text: str) -> list[str]:
    from qa_service.question import word_stems

    out: list[str] = []
    for w in re.findall(r"[A-Za-zÀ-ÿ][\w'’-]*", text):
        for part in w.split("-"):
            stems = word_stems(part) if part else frozenset()
            if stems:
                out.append(min(stems))  # one token per word: the variant stems are one term
    return out


@dataclass
class _DocView:
    """A document's text, sentence spans, sections and stored sentence vectors, cached per document."""

    text: str
    spans: list[tuple[int, int]]
    sections: list[Any]
    vectors: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    facts: dict[tuple[int, int], SentenceFacts] = field(default_factory=dict)

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

    def section_start(self, offset: int) -> int:
        """Where the section holding ``offset`` starts (0 when the document has none)."""
        start = 0
        for sec in self.sections:
            if sec.start > offset:
                break
            start = sec.start
        return start

    def is_heading(self, start: int, end: int) -> bool:
        """Whether the span is exactly a section heading line."""
        line = self.text[start:end].strip()
        return any(
            sec.title and sec.start <= start < sec.start + len(sec.title) + 4 and line == sec.title.strip()
            for sec in self.sections
        )

    def sentence_facts(self, start: int, end: int) -> SentenceFacts:
        got = self.facts.get((start, end))
        if got is None:
            got = self.facts[(start, end)] = sentence_facts(self.text[start:end])
        return got


# Documents (text, sentence spans, sections, vectors) and ask-time vectors kept between asks.
DOC_CACHE_SIZE = 256
VECTOR_CACHE_SIZE = 20000


@dataclass
class Scored:
    """A question's analysis and its ranked candidates (what training and composition share)."""

    question: QuestionAnalysis
    query_vector: np.ndarray
    sentences: list[Sentence]  # in candidate order
    inputs: list[RankInput]  # what the features are computed from, per sentence
    features: np.ndarray
    probabilities: np.ndarray


class ExtractiveComposer:
    """Builds answers from retrieved sentences; see the module docstring."""

    name = "extractive"

    def __init__(self, embedder: Any, settings: Any, docs: TextSource) -> None:
        self.embedder = embedder
        self.settings = settings
        self.docs = docs
        # None only before the first training run (benchmarks/train_ranker.py needs features, not a model)
        self.ranker = load_ranker(settings.answer.ranker_path)
        configured = settings.answer.abstain_threshold
        default = self.ranker.spec.get("abstain_threshold", 0.5) if self.ranker is not None else 0.5
        self.abstain_threshold = float(configured if configured is not None else default)
        self._docs: dict[str, _DocView] = {}
        self._vector_cache: dict[Any, np.ndarray] = {}
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
        for rank, cand in enumerate(cands):
            row = cand.row
            view = views[row.doc_id]
            n_spans = max(len(view.spans), 1)
            for i, (s, e) in enumerate(view.spans):
                if e <= row.start or s >= row.end:
                    continue
                # a sentence cut by the chunk edge is kept whole when most of it is inside
                inside = min(e, row.end) - max(s, row.start)
                if inside < 0.5 * (e - s) and inside < 80:
                    continue
                key = (row.doc_id, s, e)
                if key in out:
                    prev = out[key]
                    if cand.fused > prev.chunk_score:
                        prev.chunk_score, prev.chunk_dense, prev.chunk_lexical = (
                            cand.fused, cand.dense, cand.lexical
                        )
                    prev.chunk_rank = min(prev.chunk_rank, rank)
                    continue
                sent_text = view.text[s:e]
                cleaned = clean_statement_text(sent_text)
                if (
                    len(cleaned) < 12
                    or cleaned.endswith("?")
                    or view.is_heading(s, e)
                    or _looks_like_title(cleaned)
                ):
                    continue  # questions and headings are not evidence
                path = view.heading_path(s)
                section_start = view.section_start(s)
                out[key] = Sentence(
                    doc_id=row.doc_id, source=row.source, title=row.title,
                    section=path[-1] if path else row.section,
                    start=s, end=e, text=sent_text, chunk_score=cand.fused, chunk_dense=cand.dense,
                    chunk_lexical=cand.lexical, chunk_rank=rank, context=" ".join(path),
                    position=i / n_spans, index=i,
                    first_in_section=not any(
                        section_start <= ps < s for ps, _ in view.spans[max(0, i - 1) : i]
                    ),
                    facts=view.sentence_facts(s, e), stored_vector=view.vectors.get((s, e)),
                )
        return list(out.values())

    # -- scoring
    def _vectors(self, sents: Sequence[Sentence]) -> None:
        """Each sentence's vector: pooled at ingest, or (stores written before that) encoded and cached."""
        for s in sents:
            s.vector = s.stored_vector if s.stored_vector is not None else self._vector_cache.get(s.key)
        todo = [s for s in sents if s.vector is None]
        if todo:
            if len(self._vector_cache) + len(todo) > VECTOR_CACHE_SIZE:
                self._vector_cache = {}
            for s, v in zip(
                todo, self.embedder.encode([clean_statement_text(s.text) for s in todo]), strict=True
            ):
                s.vector = self._vector_cache[s.key] = v

    def _heading_vectors(self, headings: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors of section heading paths (few and repeated across asks: encoded once, cached)."""
        out: dict[str, np.ndarray] = {}
        todo = []
        for h in dict.fromkeys(headings):
            v = self._vector_cache.get(("heading", h))
            if v is None:
                todo.append(h)
            else:
                out[h] = v
        if todo:
            if len(self._vector_cache) + len(todo) > VECTOR_CACHE_SIZE:
                self._vector_cache = {}
            for h, v in zip(todo, self.embedder.encode(todo), strict=True):
                out[h] = self._vector_cache[("heading", h)] = v
        return out

    def score(
        self, question: str, query_vector: np.ndarray, cands: Sequence[Candidate], index: LexicalSnapshot
    ) -> Scored:
        """Analyse the question, gather candidate sentences and give each its ranker probability."""
        if index.generation != self._generation:
            self._docs, self._vector_cache = {}, {}
            self._generation = index.generation
        q = analyse_question(question)
        q.weigh(_term_stats(index, q), index.size)
        sents = self.sentences(cands)
        self._neighbour_terms(q, sents, index)
        for t in q.terms:  # a word the corpus never uses, but of a family it does ("centile" / "percentile")
            if t.df == 0:
                t.related = any(index.has_relative(st) for st in t.stems)
        # after neighbours: a designated name is matched as written, never by a word close in meaning
        for name in q.names:
            said = re.compile(
                r"(?<![\w-])" + r"\s+".join(map(re.escape, name.split())) + r"(?![\w-])", re.IGNORECASE
            )
            if not any(said.search(s.text) or (s.context and said.search(s.context)) for s in sents):
                q.add_missing_name(name, index.size)
        self._vectors(sents)
        headings = self._heading_vectors([s.context for s in sents if s.context])
        title_stems: dict[str | None, frozenset[str]] = {}
        inputs = []
        for s in sents:
            assert s.vector is not None and s.facts is not None
            s.dense = float(np.dot(s.vector, query_vector))
            if s.title not in title_stems:
                title_stems[s.title] = frozenset(normalised_stems(s.title or ""))
            hv = headings.get(s.context)
            inputs.append(
                RankInput(
                    facts=s.facts,
                    context_stems=frozenset(normalised_stems(s.context)) if s.context else frozenset(),
                    title_stems=title_stems[s.title],
                    dense=s.dense,
                    chunk_dense=s.chunk_dense,
                    chunk_lex=s.chunk_lexical,
                    chunk_fused=s.chunk_score,
                    chunk_rank=s.chunk_rank,
                    heading_dense=float(np.dot(hv, query_vector)) if hv is not None else 0.0,
                    position=s.position,
                    first_in_section=s.first_in_section,
                    chars=len(s.text),
                    text=s.text,
                )
            )
        self._neighbours(sents, inputs, query_vector)
        features = featurize(q, inputs)
        probs = self.ranker.predict(features) if self.ranker is not None else np.zeros(len(sents))
        for s, p in zip(sents, probs, strict=True):
            s.score = float(p)
        return Scored(q, query_vector, sents, inputs, features, probs)

    def _neighbour_terms(
        self, q: QuestionAnalysis, sents: Sequence[Sentence], index: LexicalSnapshot
    ) -> None:
        """A question word the corpus never uses ("baby", "labs", "mum") also matches the words of the
        retrieved sentences closest to it in meaning ("infant", "laboratory", "mother"): the embedding
        model's word vectors are the thesaurus, the corpus the vocabulary."""
        missing = [t for t in q.terms if t.df == 0]
        a = self.settings.answer
        if not missing or not sents or a.neighbour_similarity >= 1.0:
            return
        stop = function_words_lower()
        vocab: dict[str, None] = {}
        for s in sents:
            if s.chunk_rank < a.neighbour_chunks:
                for w in _WORDS.findall(f"{clean_statement_text(s.text)} {s.context}"):
                    lw = w.lower()
                    if len(lw) >= 3 and lw not in stop and not lw.isdigit():
                        vocab[lw] = None
        words = list(vocab)
        if not words:
            return
        vectors = self._word_vectors([t.word.lower() for t in missing] + words)
        word_matrix = np.stack([vectors[w] for w in words])
        found: list[str] = []
        for t in missing:
            sims = word_matrix @ vectors[t.word.lower()]
            best = [int(i) for i in np.argsort(-sims)[:2] if sims[i] >= a.neighbour_similarity]
            if best:
                t.neighbours = tuple(words[i] for i in best)
                t.stems = t.stems | frozenset(st for i in best for st in word_stems(words[i]))
                found.extend(t.neighbours)
        if found:
            q.weigh(_term_stats(index, q, [t for t in missing if t.neighbours]), index.size)

    def _word_vectors(self, words: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors of single words (cached across asks: a corpus's vocabulary is finite)."""
        out: dict[str, np.ndarray] = {}
        todo = []
        for w in dict.fromkeys(words):
            v = self._vector_cache.get(("word", w))
            if v is None:
                todo.append(w)
            else:
                out[w] = v
        if todo:
            if len(self._vector_cache) + len(todo) > VECTOR_CACHE_SIZE:
                self._vector_cache = {}
            for w, v in zip(todo, self.embedder.encode(todo), strict=True):
                out[w] = self._vector_cache[("word", w)] = v
        return out

    def _neighbours(
        self, sents: Sequence[Sentence], inputs: Sequence[RankInput], query_vector: np.ndarray
    ) -> None:
        """Each candidate's neighbours in the document: their similarity to the question and their words
        (an answer often follows the sentence that names what the question is about)."""
        views = self._views([s.doc_id for s in sents])
        for s, inp in zip(sents, inputs, strict=True):
            view = views[s.doc_id]
            window: set[str] = set()
            for j, attr in ((s.index - 1, "prev_dense"), (s.index + 1, "next_dense")):
                if not 0 <= j < len(view.spans):
                    continue
                span = view.spans[j]
                vec = view.vectors.get(span)
                if vec is not None:
                    setattr(inp, attr, float(np.dot(vec, query_vector)))
                window |= view.sentence_facts(*span).stems
            inp.window_stems = frozenset(window)

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
        scored = self.score(question, query_vector, cands, index)
        q = scored.question
        ranked = sorted(scored.sentences, key=lambda s: (-s.score, s.doc_id, s.start))
        confidence, signals = self._confidence(q, ranked)
        missing = [t.word for t in q.missing() if t.specific]
        unsaid = [t.word for t in q.terms if t.name and t.df == 0]
        if not ranked:
            return Draft(None, [], ranked, 0.0, missing, confidence, signals, unsaid)
        chosen = self._select(q, ranked)
        bottom, rest = chosen[0], chosen[1:]
        return Draft(bottom, _group(rest), ranked, signals["coverage"], missing, confidence, signals, unsaid)

    def _select(self, q: QuestionAnalysis, ranked: list[Sentence]) -> list[Sentence]:
        """Best first; then likely sentences that add something; the best of every part of the question."""
        a = self.settings.answer
        best = ranked[0].score
        floor = max(a.min_sentence_score, a.relative_cutoff * best)
        chosen: list[Sentence] = [ranked[0]]
        if len(q.parts) > 1:
            for part in q.parts:
                if any(_part_coverage(q, part, c) >= 0.5 for c in chosen):
                    continue
                pick = max(ranked, key=lambda s: s.score * _part_coverage(q, part, s))
                if (
                    pick.score >= a.min_sentence_score
                    and _part_coverage(q, part, pick) > 0
                    and pick not in chosen
                ):
                    chosen.append(pick)
        for s in ranked[1:]:
            if len(chosen) >= a.max_statements:
                break
            if s.score < floor:
                break
            if s in chosen:
                continue
            dup = next((c for c in chosen if _near_duplicate(c, s)), None)
            if dup is not None:
                if (
                    dup.doc_id != s.doc_id
                    and all(m.doc_id != s.doc_id for m in dup.merged)
                    and check_support(clean_statement_text(dup.text), [s.text]).supported
                ):
                    dup.merged.append(s)  # the same statement in another source: cite both
                continue
            chosen.append(s)
        return chosen[: a.max_statements]

    def _confidence(self, q: QuestionAnalysis, ranked: list[Sentence]) -> tuple[float, dict[str, float]]:
        """Probability in [0, 1] that the evidence answers the question (the abstention model),
        and its inputs."""
        x = answer_features(
            q, [s.score for s in ranked], [s.dense for s in ranked], [s.chunk_dense for s in ranked],
            [s.stems | (normalised_stems(s.context) if s.context else frozenset()) for s in ranked],
        )
        signals = dict(zip(ANSWER_FEATURES, (float(v) for v in x), strict=True))
        if self.ranker is None:
            raise RuntimeError(
                "no sentence ranker: run `python -m benchmarks.train_ranker` (qa_service/data/ranker.json)"
            )
        value = self.ranker.answerable(x)
        return round(max(0.0, min(1.0, value)), 4), signals


def _term_stats(
    index: LexicalSnapshot, q: QuestionAnalysis, terms: Sequence[Any] | None = None
) -> dict[str, int]:
    """Document frequency of every stem of the question's terms (any spelling, any neighbour)."""
    words = q.lookup_words(terms)
    return dict(index.term_stats(words)) if words else {}


def _part_coverage(q: QuestionAnalysis, part: Sequence[int], s: Sentence) -> float:
    total = sum(q.terms[i].idf for i in part) or 1.0
    words = s.stems | normalised_stems(s.context) if s.context else s.stems
    return sum(q.terms[i].idf for i in part if q.terms[i].stems & words) / total


def _looks_like_title(text: str) -> bool:
    """A title line ("Vitamin B12 Deficiency in Infants: Clinical Manifestations, ...") states nothing."""
    if re.search(r"[.!?]$", text):
        return False
    words: list[str] = re.findall(r"[A-Za-z][\w'-]*", text)
    long_words = [w for w in words if len(w) > 3]
    if len(long_words) < 3:
        return False
    return sum(w[0].isupper() for w in long_words) / len(long_words) >= 0.7


def _near_duplicate(a: Sentence, b: Sentence) -> bool:
    """Overlapping spans, or two sentences saying the same thing (same words or vectors)
    with the same numbers."""
    if a.doc_id == b.doc_id and not (a.end <= b.start or b.end <= a.start):
        return True
    same = False
    if (a.stems and b.stems and len(a.stems & b.stems) / len(a.stems | b.stems) >= 0.6) or (
        a.vector is not None and b.vector is not None and float(np.dot(a.vector, b.vector)) >= 0.92
    ):
        same = True
    if not same:
        return False
    from qa_service.quantities import numbers_in

    return numbers_in(clean_statement_text(a.text)) == numbers_in(clean_statement_text(b.text))


def group_label(s: Sentence) -> str:
    """The heading a statement goes under: its section's title in the source (numbering dropped)."""
    title = (s.section or "").strip()
    title = re.sub(r"^\s*(?:\d+(?:\.\d+)*\.?|[IVX]+\.)\s+", "", title)
    return title if 0 < len(title) <= 60 else "Also relevant"


def _group(statements: list[Sentence]) -> list[tuple[str | None, list[Sentence]]]:
    """Group by source section when there are enough statements and several sections; else one list."""
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
    if len(labelled) == 1 or len(labelled) == len(statements):
        return [(None, statements)]
    return [(label, labelled[label]) for label in order]


def idf(df: int, n_docs: int) -> float:
    return math.log(1 + (n_docs + 1) / (df + 0.5))
