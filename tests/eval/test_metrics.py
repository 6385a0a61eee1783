"""Each metric on tiny hand-computed cases: pooled, failures counted, undefined is null."""

from __future__ import annotations

import json

import pytest

from eval.metrics import CONTRACT_METRICS, METRIC_BY_NAME
from eval.runner import build_run
from tests.eval.factories import answer, gold, passages, run_info, score

FACT_SENTENCE = "Infants up to 12 months: 0.3 µg/kg/day of cobalamin."
DOSE_SENTENCE = "Initial dosing: 1000-2000 μg intramuscularly."


def test_key_fact_recall_matches_spellings_and_pools_over_facts() -> None:
    g1 = gold("q1", facts=["0.3 mcg/kg/day", "12 months", "hydroxocobalamin"])
    g2 = gold("q2", facts=["1000–2000 ug"])
    r1 = score(g1, answer([(FACT_SENTENCE, [1])], [FACT_SENTENCE]))
    r2 = score(g2, answer([(DOSE_SENTENCE, [1])], [DOSE_SENTENCE]))
    assert r1.key_facts_found == ["0.3 mcg/kg/day", "12 months"]
    assert r1.key_facts_missed == ["hydroxocobalamin"]
    assert r1.counts["key_fact_recall"] == (2, 3)
    run = build_run([r1, r2], run_info(), resamples=100)
    # pooled: (2 + 1) / (3 + 1) = 0.75, not the per-question mean (2/3 + 1) / 2 = 0.833
    assert run.metrics["key_fact_recall"] == 0.75


def test_an_abstention_states_no_fact_and_cites_no_evidence() -> None:
    g = gold("q", facts=["0.3 μg/kg/day"], quotes=["0.3 µg/kg/day of cobalamin"])
    # its "nearest evidence" holds the quote, but it is not offered as support
    r = score(g, answer(citations=[FACT_SENTENCE], abstained=True))
    assert r.counts["key_fact_recall"] == (0, 1)
    assert r.counts["evidence_recall"] == (0, 1)
    assert r.counts["false_abstain_rate"] == (1, 1)
    assert r.correct is False


def test_evidence_recall_normalises_unicode_whitespace_and_reference_markers() -> None:
    g = gold("q", quotes=["hepatic stores of 25 mg of vitamin B12 at birth", "a quote nobody cites"])
    cite = "Newborns have hepatic  stores of 25 mg [14] of vitamin B12\nat birth [15,16]."
    r = score(g, answer([(cite, [1])], [cite]))
    assert r.evidence_found == ["hepatic stores of 25 mg of vitamin B12 at birth"]
    assert r.counts["evidence_recall"] == (1, 2)


def test_statement_support_checks_each_statement_against_its_own_citations() -> None:
    g = gold("q", facts=["x"])
    a = answer(
        [
            (FACT_SENTENCE, [1]),  # verbatim: supported
            ("Give 5 mg/kg/day of cobalamin to infants.", [1]),  # a number the citation lacks
            (DOSE_SENTENCE, [7]),  # cites an id the answer does not hold
            (DOSE_SENTENCE, [2]),
        ],
        [FACT_SENTENCE, DOSE_SENTENCE],
    )
    r = score(g, a)
    assert [s.supported for s in r.statements] == [True, False, False, True]
    assert r.counts["statement_support"] == (2, 4)


def test_abstention_metrics_on_a_hand_counted_mix() -> None:
    results = [
        score(gold("u1", answerable=False), answer(abstained=True)),
        score(gold("u2", answerable=False), answer([(FACT_SENTENCE, [1])], [FACT_SENTENCE])),
        score(gold("a1", facts=["0.3 μg/kg/day"]), answer([(FACT_SENTENCE, [1])], [FACT_SENTENCE])),
        score(gold("a2", facts=["0.3 μg/kg/day"]), answer(abstained=True)),
        score(gold("a3", facts=["1000-2000 μg"]), answer([(DOSE_SENTENCE, [1])], [DOSE_SENTENCE])),
    ]
    m = build_run(results, run_info(), resamples=50).metrics
    assert m["abstain_recall"] == 0.5  # u1 of u1, u2
    assert m["false_abstain_rate"] == pytest.approx(1 / 3, abs=1e-6)  # a2 of a1..a3
    assert m["abstain_precision"] == 0.5  # u1 right, a2 wrong
    assert m["coverage"] == 0.6  # u2, a1, a3 answered
    assert m["selective_accuracy"] == pytest.approx(2 / 3, abs=1e-6)  # u2 answered is wrong
    assert m["accuracy"] == 0.6  # u1, a1, a3


def test_a_failed_question_counts_as_a_failure_everywhere() -> None:
    g = gold("q", facts=["a", "b"], quotes=["some quote"])
    r = score(
        g, None, passages("unrelated"), latency=30_000.0, status="timeout", error="no answer within 30 s"
    )
    assert r.counts["key_fact_recall"] == (0, 2)
    assert r.counts["evidence_recall"] == (0, 1)
    assert r.counts["false_abstain_rate"] == (1, 1)
    assert r.counts["failure_rate"] == (1, 1)
    unanswerable = score(gold("u", answerable=False), None, status="error", error="RuntimeError: boom")
    assert unanswerable.counts["abstain_recall"] == (0, 1)  # a crash is not a correct abstention
    run = build_run([r, unanswerable], run_info(), resamples=50)
    assert run.n == 2 and run.failures == 2
    assert run.metrics["failure_rate"] == 1.0
    assert run.metrics["latency_p95_ms"] is not None  # failures' time is counted too


def test_retrieval_and_source_recall_at_k() -> None:
    g = gold("q", quotes=["0.3 µg/kg/day of cobalamin", "Initial dosing: 1000-2000 μg"])
    r = score(
        g, answer([(FACT_SENTENCE, [1])], [FACT_SENTENCE]), passages("Dosing.\n" + FACT_SENTENCE, "other")
    )
    assert r.counts["retrieval_recall@k"] == (1, 2)
    assert r.counts["source_recall@k"] == (1, 1)
    assert r.counts["cited_source_recall"] == (1, 1)
    elsewhere = score(
        g, answer([(FACT_SENTENCE, [1])], [FACT_SENTENCE], source="x.txt"), passages("z", source="x.txt")
    )
    assert elsewhere.counts["source_recall@k"] == (0, 1)
    assert elsewhere.counts["cited_source_recall"] == (0, 1)
    assert "retrieval_recall@k" not in score(g, answer(abstained=True)).counts  # probe not run: not counted


def test_citation_precision_counts_citations_overlapping_a_gold_quote() -> None:
    g = gold("q", quotes=["0.3 µg/kg/day of cobalamin"])
    a = answer([(FACT_SENTENCE, [1]), (DOSE_SENTENCE, [2])], [FACT_SENTENCE, DOSE_SENTENCE])
    r = score(g, a)
    assert [c.on_gold for c in r.citations] == [True, False]
    assert r.counts["citation_precision"] == (1, 2)
    incomplete = gold("q2", quotes=["0.3 µg/kg/day of cobalamin"], evidence_complete=False)
    assert "citation_precision" not in score(incomplete, a).counts


def test_conflict_detection_needs_a_reported_conflict() -> None:
    g = gold("q", facts=["25 mg"], conflict=True)
    with_conflict = score(
        g, answer([("stores of 25 mg", [1])], ["stores of 25 mg"], conflicts=['"25 mg" vs "25 μg"'])
    )
    without = score(g, answer([("stores of 25 mg", [1])], ["stores of 25 mg"]))
    assert with_conflict.counts["conflict_detection"] == (1, 1)
    assert without.counts["conflict_detection"] == (0, 1)


def test_undefined_metrics_are_null_with_a_reason_and_never_nan() -> None:
    results = [score(gold("a", facts=["0.3 μg/kg/day"]), answer([(FACT_SENTENCE, [1])], [FACT_SENTENCE]))]
    run = build_run(results, run_info(), resamples=50)
    assert run.metrics["abstain_recall"] is None
    assert run.intervals["abstain_recall"] is None
    assert "unanswerable" in run.undefined["abstain_recall"]
    assert run.metrics["evidence_recall"] is None  # no gold quotes
    text = json.dumps(run.to_json_dict(), allow_nan=False)  # raises on NaN or inf
    assert '"abstain_recall": null' in text


def test_every_contract_metric_is_reported() -> None:
    assert set(CONTRACT_METRICS) <= set(METRIC_BY_NAME)
    run = build_run([score(gold("u", answerable=False), answer(abstained=True))], run_info(), resamples=10)
    assert set(CONTRACT_METRICS) <= set(run.metrics)
    assert set(run.metrics) == set(run.intervals)
