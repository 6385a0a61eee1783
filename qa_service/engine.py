"""The one entry point for answering: ``Engine.search`` and ``Engine.ask``.

The CLI, the HTTP service, the eval harness and the quiz builder all call this;
none re-implements it. Clients (embedding model, Chroma, SQLite) are built once
in ``Engine.open`` and reused.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np

from ingest.errors import EmptyStoreError, UsageError
from ingest.settings import Settings
from ingest.store import Store
from qa_service.answering import Draft, ExtractiveComposer, Sentence, clean_statement_text, group_label
from qa_service.batching import QueryBatcher
from qa_service.generation import ExtractiveGenerator, Generator
from qa_service.models import Answer, Citation, Conflict, DroppedStatement, SearchResult, Statement
from qa_service.retrieval import Candidate, HybridSearcher, to_passage
from qa_service.verify import check_support, find_conflicts

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
MAX_K = 50
ABSTAIN_PREFIX = "Not enough evidence"
ASK_ATTEMPTS = 3  # compositions of one answer when the shared store keeps changing under it


def validate_question(question: str) -> str:
    """The trimmed question, or a usage error (1 to 2,000 characters)."""
    if not isinstance(question, str):
        raise UsageError("the question must be text")
    q = question.strip()
    if not q:
        raise UsageError("the question is empty")
    if len(q) > MAX_QUESTION_CHARS:
        raise UsageError(f"the question is {len(q)} characters long; the limit is {MAX_QUESTION_CHARS}")
    return q


def validate_k(k: int | None, default: int) -> int:
    """``-k`` within 1..50."""
    if k is None:
        return default
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise UsageError(f"k must be an integer from 1 to {MAX_K} (got {k!r})")
    return k


class Engine:
    """Search and answer over one store."""

    def __init__(self, settings: Settings, store: Store, generator: Any | None = None) -> None:
        self.settings = settings
        self.store = store
        self.searcher = HybridSearcher(store, settings)
        self.composer = ExtractiveComposer(store.embedder, settings, store.docs)
        self.extractive = ExtractiveGenerator()
        self.generator = generator  # the LLM answerer (qa_service.generation.LLMGenerator) or None
        # concurrent asks share model calls for their query embeddings (qa_service.batching)
        self.query_encoder = QueryBatcher(store.embedder)

    @classmethod
    def open(
        cls, settings: Settings, *, owner: dict[str, Any] | None = None, embedder: Any | None = None
    ) -> Engine:
        """Build the store, model and (optionally) the LLM answerer; slow, call once."""
        store = Store(settings, owner=owner, embedder=embedder)
        try:
            generator = None
            if settings.llm:
                from qa_service.llm import build_generator

                generator = build_generator(settings)
            engine = cls(settings, store, generator)
            store.embedder  # load the model now, not on the first request  # noqa: B018
            return engine
        except Exception:
            store.close()
            raise

    def close(self) -> None:
        """Release the data dir."""
        self.query_encoder.close()
        self.store.close()

    # ---------------------------------------------------------------- search
    def _embed_query(self, text: str) -> np.ndarray:
        return self.query_encoder.encode(text)

    def _index(self) -> Any:
        """The lexical index of the store as it is now (one generation check), or the empty-store error."""
        index = self.store.lexical()
        if index.size == 0:
            raise EmptyStoreError()
        return index

    def candidates(
        self,
        query: str,
        n: int | None = None,
        index: Any | None = None,
        vector: np.ndarray | None = None,
        dense_weight: float | None = None,
    ) -> tuple[np.ndarray, list[Candidate]]:
        """Query vector and fused candidates (for callers that need more than passages; ``vector``: already
        embedded; ``dense_weight`` 0: ranked by the lexical index, as the quiz's check of a name needs)."""
        index = index if index is not None else self._index()
        vector = self._embed_query(query) if vector is None else vector
        return vector, self.searcher.candidates(query, vector, n, dense_weight=dense_weight, index=index)

    def search(self, query: str, k: int | None = None) -> SearchResult:
        """The ``k`` best passages for ``query``."""
        query = validate_question(query)
        k = validate_k(k, self.settings.retrieval.top_k)
        _, cands = self.candidates(query, max(self.settings.retrieval.candidates, k))
        return SearchResult(query=query, passages=[to_passage(c) for c in cands[:k]])

    # ---------------------------------------------------------------- for the quiz builder
    def documents(self, doc_ids: Sequence[str]) -> dict[str, Any]:
        """Text, sections and stored sentence vectors (``DocEvidence``) of documents, in one store read."""
        return self.store.docs.evidence(doc_ids)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embedding vectors of short texts (the quiz compares phrases and stems with the same model)."""
        return np.asarray(self.store.embedder.encode(list(texts)))

    # ---------------------------------------------------------------- ask
    def ask(
        self,
        question: str,
        k: int | None = None,
        question_id: str | None = None,
        generator: str | None = None,
    ) -> Answer:
        """Answer ``question`` from the store: cited statements, or an abstention with the nearest evidence.

        ``generator``: "extractive" or "llm" (None: the LLM when one is configured).
        """
        started = time.perf_counter()
        question = validate_question(question)
        k = validate_k(k, self.settings.answer.evidence_chunks)
        writer = self.generator_for(generator)
        for _ in range(ASK_ATTEMPTS):
            with self.query_encoder.active():
                index = self._index()  # one snapshot of the store for the whole answer
                vector, cands = self.candidates(question, max(self.settings.retrieval.candidates, k), index)
            draft = self.composer.compose(question, vector, cands[:k], index)
            if draft.bottom_line is not None:
                answer = writer.answer(question, draft, self)
            else:
                answer = self._build_answer(question, draft)
            # On shared services another process may commit while this answer is composed (embedded, the
            # API's gate keeps writers out): chunk rows of one version of a document and the text of the
            # next would misplace citations, so an answer that saw the store change is composed again.
            if not self.store.services or self.store.docs.generation() == index.generation:
                break
        answer.question_id = question_id
        answer.latency_ms = round((time.perf_counter() - started) * 1000, 2)
        return answer

    def _abstain(self, question: str, draft: Draft, reason: str) -> Answer:
        nearest = draft.pool[:2]
        citations = [_citation(i + 1, s) for i, s in enumerate(nearest)]
        where = "; ".join(
            f"[{c.id}] {c.source}" + (f" · {c.section}" if c.section else "") for c in citations
        )
        text = f"{ABSTAIN_PREFIX}: {reason}"
        if citations:
            text += f" Nearest evidence: {where}."
        return Answer(
            id=uuid.uuid4().hex,
            question=question,
            answer=text,
            abstained=True,
            abstain_reason=reason,
            statements=[],
            citations=citations,
            conflicts=[],
            config_hash=self.settings.config_hash,
            generator=ExtractiveGenerator.name,
            latency_ms=0.0,
            confidence=draft.confidence,
        )

    @property
    def generator_name(self) -> str:
        """What writes answers by default: "llm:<model>" when an LLM is configured, else "extractive"."""
        return self.generator.name if self.generator is not None else ExtractiveGenerator.name

    def generator_for(self, choice: str | None) -> Generator:
        """The generator a request asks for ("extractive", "llm", or None for the default)."""
        if choice is None:
            return self.generator if self.generator is not None else self.extractive
        if choice == "extractive":
            return self.extractive
        if choice == "llm":
            if self.generator is None:
                raise UsageError("no LLM is configured (set MEDCITE_LLM); ask with the extractive generator")
            return self.generator  # type: ignore[no-any-return]
        raise UsageError(f"unknown generator {choice!r}: use 'extractive' or 'llm'")

    def abstain_reason(self, draft: Draft) -> str | None:
        """Why this draft must not be answered, or None."""
        if draft.bottom_line is None:
            return "no passage in the ingested documents addresses this question."
        if draft.unsaid_names:
            names = ", ".join(dict.fromkeys(draft.unsaid_names))
            return f"the passages found never mention {names}."
        if draft.confidence >= self.composer.abstain_threshold:
            return None
        if draft.missing_terms:
            terms = ", ".join(dict.fromkeys(draft.missing_terms))
            return f"the ingested documents do not mention {terms}."
        return "no passage in the ingested documents addresses this question closely enough."

    def _build_answer(self, question: str, draft: Draft) -> Answer:
        reason = self.abstain_reason(draft)
        if reason is not None:
            return self._abstain(question, draft, reason)
        assert draft.bottom_line is not None
        ordered: list[tuple[str | None, Sentence]] = [(None, draft.bottom_line)]
        for label, members in draft.groups:
            ordered.extend((label, s) for s in members)
        ordered = self._add_conflicting(ordered, draft)
        return self.render(question, _regroup(ordered, question), draft.confidence)

    def _add_conflicting(
        self, ordered: list[tuple[str | None, Sentence]], draft: Draft
    ) -> list[tuple[str | None, Sentence]]:
        """Bring in a retrieved sentence that contradicts a chosen one, so the disagreement is shown and
        cited."""
        chosen = {s.key for _, s in ordered}
        chosen_texts = [(i, s.text) for i, (_, s) in enumerate(ordered)]
        extra = [s for s in draft.pool[:40] if s.key not in chosen]
        limit = self.settings.answer.max_statements
        for s in extra:
            if len(ordered) >= limit + 1:
                break
            found = find_conflicts([*chosen_texts, (len(ordered), s.text)])
            if any(f.b == len(ordered) for f in found):
                ordered.append((group_label(s), s))
                chosen_texts.append((len(ordered) - 1, s.text))
                chosen.add(s.key)
        return ordered[: limit + 1] if len(ordered) > limit else ordered

    def render(
        self, question: str, ordered: Sequence[tuple[str | None, Sentence]], confidence: float
    ) -> Answer:
        """Citations, statements, conflicts and the readable text for chosen sentences."""
        citations: list[Citation] = []
        by_key: dict[tuple[str, int, int], int] = {}

        def cite(s: Sentence) -> int:
            if s.key not in by_key:
                by_key[s.key] = len(citations) + 1
                citations.append(_citation(by_key[s.key], s))
            return by_key[s.key]

        statements: list[Statement] = []
        for label, s in ordered[: self.settings.answer.max_statements]:
            ids = [cite(s)] + [cite(m) for m in s.merged]
            text = clean_statement_text(s.text)
            supported = check_support(text, [citations[i - 1].text for i in ids]).supported
            statements.append(Statement(text=text, citations=ids, group=label, supported=supported))
        return grounded_answer(
            question, statements, citations, config_hash=self.settings.config_hash,
            generator=ExtractiveGenerator.name, confidence=confidence,
        )


def _regroup(ordered: list[tuple[str | None, Sentence]], question: str) -> list[tuple[str | None, Sentence]]:
    """Keep each group's statements together, groups in the order they first appear."""
    head, rest = ordered[:1], ordered[1:]
    first_seen: dict[str | None, int] = {}
    for i, (label, _) in enumerate(rest):
        first_seen.setdefault(label, i)
    return head + [
        pair for _, pair in sorted(enumerate(rest), key=lambda item: (first_seen[item[1][0]], item[0]))
    ]


def _citation(cid: int, s: Sentence) -> Citation:
    return Citation(
        id=cid, doc_id=s.doc_id, source=s.source, title=s.title, section=s.section,
        start=s.start, end=s.end, text=s.text, score=round(s.score, 6),
    )


def _markers(ids: Sequence[int]) -> str:
    return "".join(f"[{i}]" for i in ids)


def grounded_answer(
    question: str,
    statements: list[Statement],
    citations: list[Citation],
    *,
    config_hash: str,
    generator: str,
    confidence: float,
    dropped: list[DroppedStatement] | None = None,
) -> Answer:
    """The answer made of checked statements, for every generator: the conflicts between them (unit-aware),
    then the text, bottom line first."""
    conflicts = [
        Conflict(
            description=f.description,
            citations=sorted(set(statements[f.a].citations[:1] + statements[f.b].citations[:1])),
        )
        for f in find_conflicts([(i, st.text) for i, st in enumerate(statements)])
    ]
    return Answer(
        id=uuid.uuid4().hex,
        question=question,
        answer=render_text(statements, conflicts),
        abstained=False,
        abstain_reason=None,
        statements=statements,
        citations=citations,
        conflicts=conflicts,
        config_hash=config_hash,
        generator=generator,
        latency_ms=0.0,
        confidence=confidence,
        dropped_statements=dropped or [],
    )


def render_text(statements: Sequence[Statement], conflicts: Sequence[Conflict]) -> str:
    """Bottom line first, then grouped bullet statements, then disagreements.

    When the bottom line itself is disputed by another cited source, the answer says so before
    stating it: a clinician must not read "25 mg" as settled while a box below calls it a unit error.
    """
    if not statements:
        return ""
    lines = []
    disputed = [c for c in conflicts if set(c.citations) & set(statements[0].citations)]
    if disputed:
        lines.append(f"Sources disagree on this: {disputed[0].description} {_markers(disputed[0].citations)}")
    lines.append(f"Bottom line: {statements[0].text} {_markers(statements[0].citations)}")
    current: str | None = None
    for st in statements[1:]:
        if st.group != current and st.group is not None:
            lines.append("")
            lines.append(st.group)
            current = st.group
        elif st.group is None and current is None and lines[-1].startswith("Bottom line:"):
            lines.append("")
        lines.append(f"- {st.text} {_markers(st.citations)}")
    if conflicts:
        lines.append("")
        lines.append("Sources disagree")
        lines.extend(f"- {c.description} {_markers(c.citations)}" for c in conflicts)
    return "\n".join(lines).strip()
