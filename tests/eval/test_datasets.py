"""Dataset adapters build a corpus folder and a valid gold file whose quotes are verbatim."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from eval.datasets.__main__ import main as datasets_cli
from eval.datasets.medquad import build_medquad
from eval.datasets.pubmedqa import build_pubmedqa
from eval.gold import load_gold
from ingest.errors import UsageError


def _ws(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _check_build(out: Path) -> list[Any]:
    items, _ = load_gold(out / "gold.jsonl")
    corpus = {p.name: _ws(p.read_text(encoding="utf-8")) for p in (out / "corpus").iterdir()}
    for item in items:
        if item.answerable:
            assert item.evidence, item.id
            for e in item.evidence:
                assert e.source in corpus, (item.id, e.source)
                assert _ws(e.quote) in corpus[e.source], item.id
                assert not e.quote.endswith("?")
        else:
            assert not item.evidence and not item.key_facts
        # the question is never written into a document (it would leak into retrieval)
        assert not any(_ws(item.question) in text for text in corpus.values()), item.id
    return items


def test_pubmedqa_build(shared_data: Path, tmp_path: Path) -> None:
    summary = build_pubmedqa(
        tmp_path / "pq", data_root=shared_data, limit=3, distractors=2, unanswerable=1, seed=5
    )
    assert (summary.questions, summary.answerable, summary.unanswerable, summary.documents) == (4, 3, 1, 5)
    items = _check_build(tmp_path / "pq")
    held_out = next(i for i in items if not i.answerable)
    assert not (tmp_path / "pq" / "corpus" / f"{held_out.model_extra['left_out_doc']}.md").exists()
    assert all(i.model_extra.get("final_decision") in ("yes", "no", "maybe") for i in items if i.answerable)
    # same seed, same build; another seed, another sample
    build_pubmedqa(tmp_path / "pq2", data_root=shared_data, limit=3, distractors=2, unanswerable=1, seed=5)
    assert (tmp_path / "pq" / "gold.jsonl").read_bytes() == (tmp_path / "pq2" / "gold.jsonl").read_bytes()
    build_pubmedqa(tmp_path / "pq3", data_root=shared_data, limit=3, distractors=2, seed=6)
    assert (tmp_path / "pq" / "gold.jsonl").read_bytes() != (tmp_path / "pq3" / "gold.jsonl").read_bytes()


def test_medquad_build(shared_data: Path, tmp_path: Path) -> None:
    summary = build_medquad(
        tmp_path / "mq", data_root=shared_data, limit=4, distractors=3, unanswerable=2, seed=1
    )
    assert (summary.answerable, summary.unanswerable) == (4, 2)
    assert summary.documents >= 4 + 3  # gold answers, same-page answers, random ones
    items = _check_build(tmp_path / "mq")
    corpus_text = " ".join(
        p.read_text(encoding="utf-8").lower() for p in (tmp_path / "mq" / "corpus").iterdir()
    )
    for item in items:
        if not item.answerable:
            assert str(item.model_extra["focus"]).lower() not in corpus_text


def test_refuses_to_overwrite_without_force(shared_data: Path, tmp_path: Path) -> None:
    build_pubmedqa(tmp_path / "pq", data_root=shared_data, limit=2, distractors=0)
    with pytest.raises(UsageError, match="--force"):
        build_pubmedqa(tmp_path / "pq", data_root=shared_data, limit=2, distractors=0)
    summary = build_pubmedqa(tmp_path / "pq", data_root=shared_data, limit=1, distractors=0, force=True)
    assert len(list((tmp_path / "pq" / "corpus").iterdir())) == summary.documents == 1


def test_missing_data_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no PubMedQA data"):
        build_pubmedqa(tmp_path / "x", data_root=tmp_path)
    result = CliRunner().invoke(datasets_cli, ["medquad", str(tmp_path / "y"), "--source", str(tmp_path)])
    assert result.exit_code == 2 and "no MedQuAD data" in result.stderr


def test_cli_prints_the_summary(shared_data: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        datasets_cli,
        [
            "pubmedqa",
            str(tmp_path / "pq"),
            "--limit",
            "2",
            "--distractors",
            "0",
            "--source",
            str(shared_data),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["questions"] == 2
    assert "medcite ingest" in result.stderr


def test_a_built_set_runs_through_the_harness(shared_data: Path, tmp_path: Path, embedder: Any) -> None:
    from eval.runner import EngineBackend, run_eval
    from ingest.pipeline import ingest_paths
    from ingest.settings import get_settings
    from qa_service.engine import Engine

    build_pubmedqa(tmp_path / "pq", data_root=shared_data, limit=3, distractors=3, unanswerable=1)
    engine = Engine.open(get_settings(tmp_path / "store"), owner={"command": "pytest"}, embedder=embedder)
    try:
        report = ingest_paths(engine.store, [tmp_path / "pq" / "corpus"])
        assert report.added == 6 and not report.errors
        run = run_eval(tmp_path / "pq" / "gold.jsonl", EngineBackend(engine), resamples=50)
    finally:
        engine.close()
    assert run.n == 4 and run.failures == 0
    assert run.support["source_recall@k"] == 3 and run.metrics["source_recall@k"] is not None
    assert run.metrics["citation_precision"] is None  # silver quotes: evidence is not complete
    assert run.metrics["key_fact_recall"] is None and "key facts" in run.undefined["key_fact_recall"]
