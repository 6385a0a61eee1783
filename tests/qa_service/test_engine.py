"""Grounded answers on corpus/ with the real model and store: facts, spans, abstention, conflicts."""

from __future__ import annotations

import re

import pytest

from ingest.errors import EmptyStoreError, UsageError
from ingest.settings import get_settings
from qa_service.engine import Engine
from qa_service.models import Answer
from qa_service.verify import normalise_for_match

# (question, facts the answer must state): phrased for these tests in a clinician's words, none copied from
# the dev sets the ranker is trained on (eval/gold/dev*.jsonl) nor from the frozen test set.
ANSWERABLE = [
    (
        "Per kilogram, how much cobalamin does a baby younger than twelve months need each day?",
        ["0.3 μg/kg/day"],
    ),
    (
        "For a child with dietary B12 deficiency, what oral cyanocobalamin schedule is advised?",
        ["1000 μg daily for one week"],
    ),
    ("How many micrograms are given in the first intramuscular B12 injection?", ["1000-2000 μg"]),
    (
        "Once B12 treatment has begun, at what points is the serum level checked again?",
        ["1 month and 3 months"],
    ),
    ("Which maternal diet puts breastfed babies most at risk of B12 deficiency?", ["strict vegans"]),
    ("After starting therapy, when does the reticulocyte count go up?", ["3-7 days"]),
    ("What homocysteine concentration did the mother in the case report have?", ["48.3 µmol/L"]),
    (
        "What did the histology of the mother's stomach biopsy find?",
        ["atrophic fundic interstitial gastritis"],
    ),
    ("What haemoglobin did the eight-month-old have when admitted?", ["8.8 g/dL"]),
]

UNANSWERABLE = [
    "Which antibiotic is first choice for pneumonia acquired in the community?",
    "How much vitamin D should an exclusively breastfed baby be given?",
    "What is the vaccination schedule at two months of age?",
    "How are head lice treated in school-age children?",
]

def norm(text: str) -> str:
    return re.sub(r"(?<![a-z])(?:mcg|ug)(?![a-z])", "μg", normalise_for_match(text))


@pytest.fixture(scope="module")
def answers(corpus_engine: Engine) -> dict[str, Answer]:
    questions = (
        [q for q, _ in ANSWERABLE] + UNANSWERABLE + ["How much vitamin B12 is stored in a newborn's liver?"]
    )
    return {q: corpus_engine.ask(q) for q in questions}


@pytest.mark.parametrize(("question", "facts"), ANSWERABLE)
def test_answer_states_the_key_facts_with_citations(
    answers: dict[str, Answer], question: str, facts: list[str]
) -> None:
    answer = answers[question]
    assert not answer.abstained, answer.abstain_reason
    for fact in facts:
        assert norm(fact) in norm(answer.answer), f"{fact!r} missing from:\n{answer.answer}"
        # ...and the statement stating it cites a sentence that contains it
        stating = [s for s in answer.statements if norm(fact) in norm(s.text)]
        assert stating, fact
        cited = {c.id: c for c in answer.citations}
        assert any(norm(fact) in norm(cited[i].text) for s in stating for i in s.citations)


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_questions_the_corpus_does_not_answer_abstain(answers: dict[str, Answer], question: str) -> None:
    answer = answers[question]
    assert answer.abstained and answer.statements == []
    assert answer.abstain_reason and answer.answer.startswith("Not enough evidence")
    assert len(answer.citations) <= 2  # the nearest evidence, for the reader to judge


def test_every_citation_is_an_exact_span_of_its_document(
    corpus_engine: Engine, answers: dict[str, Answer]
) -> None:
    texts: dict[str, str] = {}
    for answer in answers.values():
        for c in answer.citations:
            if c.doc_id not in texts:
                texts[c.doc_id] = corpus_engine.store.get_document(c.doc_id).text or ""
            assert texts[c.doc_id][c.start : c.end] == c.text


def test_statements_are_inside_their_citation_spans_and_markers_resolve(answers: dict[str, Answer]) -> None:
    for answer in answers.values():
        ids = [c.id for c in answer.citations]
        assert ids == list(range(1, len(ids) + 1))
        assert {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)} <= set(ids)
        if answer.abstained:
            continue
        assert 1 <= len(answer.statements) <= 8
        for st in answer.statements:
            assert st.citations and st.supported
            cited = " ".join(norm(answer.citations[i - 1].text) for i in st.citations)
            flat = lambda t: re.sub(r"[^\w%]+", " ", t).strip()  # noqa: E731
            assert flat(norm(st.text)) in flat(cited), (st.text, cited)


def test_source_reference_markers_are_dropped_from_the_answer_text(answers: dict[str, Answer]) -> None:
    for answer in answers.values():
        for st in answer.statements:
            assert not re.search(r"\[\d+(?:,\s*\d+)*\]", st.text), st.text


def test_newborn_store_figures_that_disagree_are_reported(answers: dict[str, Answer]) -> None:
    answer = answers["How much vitamin B12 is stored in a newborn's liver?"]
    assert not answer.abstained
    assert answer.conflicts, answer.answer
    conflict = answer.conflicts[0]
    assert "25 mg" in conflict.description and "25-30 μg" in conflict.description
    assert "1,000-fold" in conflict.description
    cited = [answer.citations[i - 1].text for i in conflict.citations]
    assert any("25 mg" in t for t in cited) and any("25-30 μg" in t for t in cited)
    assert "Sources disagree" in answer.answer


def test_answers_carry_config_hash_generator_and_latency(
    corpus_engine: Engine, answers: dict[str, Answer]
) -> None:
    for answer in answers.values():
        assert answer.config_hash == corpus_engine.settings.config_hash
        assert answer.generator == "extractive" and answer.latency_ms > 0
        assert 0.0 <= answer.confidence <= 1.0


def test_search_returns_k_passages_best_first(corpus_engine: Engine) -> None:
    result = corpus_engine.search("hydroxocobalamin three times weekly", k=4)
    assert len(result.passages) == 4
    scores = [p.score for p in result.passages]
    assert scores == sorted(scores, reverse=True)
    assert any("hydroxocobalamin" in p.text for p in result.passages[:3])


@pytest.mark.parametrize(
    ("question", "k", "message"),
    [
        ("", None, "empty"),
        ("   \n ", None, "empty"),
        ("x" * 2001, None, "2000"),
        ("dose?", 0, "k must"),
        ("dose?", 51, "k must"),
    ],
)
def test_bad_requests_are_usage_errors(
    corpus_engine: Engine, question: str, k: int | None, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        corpus_engine.ask(question, k)


def test_a_question_of_exactly_2000_characters_is_accepted(corpus_engine: Engine) -> None:
    question = ("What dose of vitamin B12 is recommended for infants? " * 40)[:2000]
    assert len(question) == 2000
    assert corpus_engine.ask(question).question == question.strip()


def test_empty_store_explains_how_to_ingest(tmp_path, embedder) -> None:  # type: ignore[no-untyped-def]
    engine = Engine.open(get_settings(tmp_path / "empty"), embedder=embedder)
    try:
        with pytest.raises(EmptyStoreError, match=r"run `medcite ingest PATH`"):
            engine.ask("What dose?")
    finally:
        engine.close()


def _essence(answer: Answer) -> tuple[object, ...]:
    return (
        answer.abstained,
        answer.confidence,
        tuple(st.text for st in answer.statements),
        tuple((c.doc_id, c.start, c.end) for c in answer.citations),
    )


def test_answers_do_not_depend_on_earlier_questions_or_concurrent_ones(corpus_engine: Engine) -> None:
    """The API answers from a thread pool: one answer must never see another's state."""
    from concurrent.futures import ThreadPoolExecutor

    questions = [q for q, _ in ANSWERABLE] + UNANSWERABLE
    corpus_engine.composer._docs, corpus_engine.composer._vector_cache = {}, {}
    forward = {q: _essence(corpus_engine.ask(q)) for q in questions}
    corpus_engine.composer._docs, corpus_engine.composer._vector_cache = {}, {}
    backward = {q: _essence(corpus_engine.ask(q)) for q in reversed(questions)}
    assert backward == forward
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(lambda q: (q, _essence(corpus_engine.ask(q))), questions * 3))
    for q, essence in concurrent:
        assert essence == forward[q], q
