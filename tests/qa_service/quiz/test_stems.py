"""Stems written from the parse of sentences of several public corpora, and the grammar check they pass.

The sentences are short excerpts of public corpora (the seeds in corpus/, NIH pages of MedQuAD,
NIHSeniorHealth consumer pages, PubMedQA abstracts), kept here so the tests need no shared data.
"""

from __future__ import annotations

import pytest

from qa_service.quiz.grammar import check_stem
from qa_service.quiz.nlp import parse
from qa_service.quiz.quantities import find_amounts
from qa_service.quiz.stems import cloze, quantity_wh, question, target_tokens
from qa_service.quiz.targets import entity_targets

# (corpus, sentence, quantity asked, expected question)
QUANTITY_CASES = [
    ("seed", "Hematological abnormalities may resolve within 1-2 weeks.", "1-2 weeks",
     "Within how many weeks may hematological abnormalities resolve?"),
    ("seed", "Significant improvement in B12 levels can be expected after 1 month of appropriate therapy.",
     "1 month", "After how many months of appropriate therapy can significant improvement in B12 levels be expected?"),
    ("nih", "Adults need 2.4 mcg of vitamin B12 daily.", "2.4 mcg",
     "What amount of vitamin B12 do adults need daily?"),
    ("medquad", "About 20% of people with celiac disease have iron-deficiency anemia.", "20%",
     "What percentage of people with celiac disease have iron-deficiency anemia?"),
    ("seniorhealth", "Shingles pain usually lasts for 3 to 5 weeks.", "3 to 5 weeks",
     "For how many weeks does shingles pain usually last?"),
    ("pubmedqa", "The median follow-up was 36 months in the surgical group.", "36 months",
     "What was the median follow-up in the surgical group?"),
]

ENTITY_CASES = [
    ("nih", "Pernicious anemia is caused by a lack of intrinsic factor.", "Which of the following causes pernicious anemia?"),
    ("medquad", "Intraocular pressure depends on a balance between fluid entering and leaving the eyes.",
     "Which of the following depends on a balance between fluid entering and leaving the eyes?"),
]

# Sentences whose subject is what the sentence talks about, not a fact it states, or points elsewhere:
# no named target (consumer pages of MedQuAD and NIH pages, issue 11).
NO_NAMED_TARGET = [
    "Patients who have this form of surgery may need to keep taking glaucoma drugs.",
    "Your doctor will want to find out whether the condition is due to a lack of intrinsic factor.",
    "Treatment depends on the severity of the symptoms.",
    "Research is continuing to examine links between psoriasis and other health problems.",
    "These medicines may also help prevent lingering pain.",
    "Most people develop conditions that affect the blood, bones, nerves, and skin.",
    "Medicines Medicines can also help protect the kidneys.",
]

# Stems the old pattern writers produced on unseen corpora (issue 11), and other broken English.
BROKEN = [
    (
        "According to “Iron”, at what age can because recent research supports concerns that iron deficiency "
        "is common the American Academy of Pediatrics recommends testing all infants for anemia?"
    ),
    "How soon after the start of treatment is clot-busting drugs must start expected?",
    "How soon are about 610,000 of these cases first strokes?",
    "What is the the recommended dose?",
    "How many people with?",
    "Which value completes the statement: “Because symptoms _____”?",
    "What dose (normal range: 200-900 pg/mL) is given?",
    "Symptoms resolve within two days.",
    # issue 11, the consumer pages: a pronoun with no antecedent, a stranded relative clause, a gap
    "According to “COPD”, which of the following can also cause it?",
    "According to “Glaucoma”, which of the following who have this form of surgery may need to keep taking drugs?",
    "If you have diabetes, what are your recommended levels a systolic blood pressure of or lower?",
    "Which value completes the statement: “The other _____ of cases result from a new mutation”?",
    "Which term completes the statement: “These medicines may also help prevent _____”?",
]


@pytest.mark.parametrize(("corpus", "sentence", "asked", "expected"), QUANTITY_CASES)
def test_quantity_questions_from_the_parse(corpus: str, sentence: str, asked: str, expected: str) -> None:
    doc = parse(sentence)
    amount = next(a for a in find_amounts(sentence) if a.surface == asked)
    stem = question(doc, target_tokens(doc, *amount.span), quantity_wh(amount, False) or "")
    assert stem == expected, corpus
    assert check_stem(stem) is None


@pytest.mark.parametrize(("corpus", "sentence", "expected"), ENTITY_CASES)
def test_named_things_are_asked_for_by_their_role(corpus: str, sentence: str, expected: str) -> None:
    doc = parse(sentence)
    targets = entity_targets(doc)
    assert targets, corpus
    t = targets[0]
    stem = question(doc, target_tokens(doc, t.start, t.end), t.wh)
    assert stem == expected
    assert check_stem(stem) is None


def test_a_list_member_is_asked_as_a_cloze_with_its_siblings_in_view() -> None:
    sentence = "Risk factors for osteoporosis include low calcium intake, smoking, and heavy drinking."
    doc = parse(sentence)
    targets = entity_targets(doc)
    assert [t.key_text for t in targets] == ["low calcium intake", "smoking", "heavy drinking"]
    for t in targets:
        assert t.cloze_only and t.frame == "list:include"
        assert len(t.siblings) == 2 and t.key_text not in t.siblings  # true too: never distractors
        statement = cloze(doc, t.start, t.end, sentence)
        assert statement is not None and all(x in statement for x in t.siblings)
        assert check_stem(f"Which term completes the statement: “{statement}”?") is None


@pytest.mark.parametrize("sentence", NO_NAMED_TARGET)
def test_no_named_target_from_a_bare_subject_or_a_pointer(sentence: str) -> None:
    assert not entity_targets(parse(sentence))


@pytest.mark.parametrize("stem", BROKEN)
def test_the_grammar_check_rejects_broken_stems(stem: str) -> None:
    assert check_stem(stem) is not None


def test_a_cloze_is_a_whole_statement() -> None:
    sentence = "The recommended treatment is 0.3 μg/kg/day of cobalamin for infants up to 12 months."
    doc = parse(sentence)
    a = find_amounts(sentence)[0]
    statement = cloze(doc, a.span[0], a.span[1], sentence)
    assert statement is not None and "_____" in statement
    assert check_stem(f"Which value completes the statement: “{statement}”?") is None
    # a sentence that leans on an earlier one ("These ...") gives no cloze
    anaphor = "These symptoms usually resolve within 2 weeks."
    b = find_amounts(anaphor)[0]
    assert cloze(parse(anaphor), b.span[0], b.span[1], anaphor) is None


def test_no_question_from_a_negated_or_two_clause_sentence() -> None:
    for sentence in ("Symptoms do not resolve within 2 weeks.", "Fever lasts 3 days and the rash lasts 2 weeks."):
        doc = parse(sentence)
        a = find_amounts(sentence)[0]
        assert question(doc, target_tokens(doc, *a.span), quantity_wh(a, False) or "") is None
