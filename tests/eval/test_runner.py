"""Runs end to end: in-process and over HTTP give the same numbers; every question counts."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from eval.metrics import CONTRACT_METRICS
from eval.models import EvalRun
from eval.runner import HttpBackend, evaluate_items, run_eval
from qa_service import cli as medcite_cli
from qa_service.models import Answer, Passage
from tests.eval.conftest import MINI_GOLD
from tests.eval.factories import answer, gold

LATENCY = {"latency_p50_ms", "latency_p95_ms"}


def comparable(run: dict[str, Any]) -> dict[str, Any]:
    """A run's JSON without what legitimately differs between runs (times, latency, where it ran)."""
    data = json.loads(json.dumps(run))
    for key in LATENCY:
        data["metrics"].pop(key)
        data["intervals"].pop(key)
    for q in data["per_question"]:
        q.pop("latency_ms")
        q.pop("engine_latency_ms")
    data.pop("run")
    return data


@pytest.fixture(scope="module")
def medcite() -> Any:
    medcite_cli._register_optional_commands()
    return medcite_cli.cli


def test_mini_run_counts_every_question_and_records_the_run(mini_run: EvalRun, corpus_engine: Any) -> None:
    assert mini_run.n == 4 and len(mini_run.per_question) == 4
    assert [q.id for q in mini_run.per_question] == ["mini-1", "mini-2", "mini-3", "mini-4"]
    assert mini_run.failures == 0
    assert set(CONTRACT_METRICS) <= set(mini_run.metrics)
    assert mini_run.support["key_fact_recall"] == 2 and mini_run.support["abstain_recall"] == 2
    # the corpus says nothing about pneumonia or MMR: these abstentions are robust
    assert mini_run.per_question[2].abstained and mini_run.per_question[3].abstained
    assert mini_run.metrics["abstain_recall"] == 1.0
    info = mini_run.run
    assert info.mode == "in-process"
    assert info.config_hash == corpus_engine.settings.config_hash
    assert info.corpus_version == corpus_engine.store.corpus_version()
    assert info.embedding_model == corpus_engine.settings.embedding.model
    assert info.generator == "extractive"
    assert info.git_commit is None or re.fullmatch(r"[0-9a-f]{40}", info.git_commit)
    json.dumps(mini_run.to_json_dict(), allow_nan=False)
    for name, value in mini_run.metrics.items():
        assert value is None or (0 <= value <= 1 or name in LATENCY), name


def test_a_run_is_deterministic_apart_from_latency_and_times(mini_run: EvalRun, corpus_engine: Any) -> None:
    from eval.runner import EngineBackend

    again = run_eval(MINI_GOLD, EngineBackend(corpus_engine), resamples=200)
    assert comparable(again.to_json_dict()) == comparable(mini_run.to_json_dict())
    assert again.run.gold_sha256 == mini_run.run.gold_sha256


class FlakyBackend:
    """Answers, raises, or hangs depending on the question."""

    mode = "in-process"

    def __init__(self, hang_s: float = 0.5) -> None:
        self.hang_s = hang_s
        self.released = threading.Event()

    def ask(self, question: str, k: int | None) -> Answer:
        if "boom" in question:
            raise RuntimeError("engine exploded\nwith a traceback-like second line")
        if "slow" in question:
            self.released.wait(self.hang_s)
        text = "Infants up to 12 months: 0.3 µg/kg/day of cobalamin."
        return answer([(text, [1])], [text])

    def search(self, question: str, k: int) -> list[Passage]:
        return []

    def describe(self) -> dict[str, Any]:
        return {"config_hash": "fake"}


def test_errors_and_timeouts_are_failures_never_skips() -> None:
    items = [
        gold("ok", facts=["0.3 μg/kg/day"]),
        gold("boom", facts=["0.3 μg/kg/day"], question="this goes boom?"),
        gold("slow", facts=["0.3 μg/kg/day"], question="this is slow?"),
        gold("after", facts=["0.3 μg/kg/day"]),
    ]
    backend = FlakyBackend(hang_s=0.3)
    results = evaluate_items(items, backend, timeout_s=0.2)
    assert [(r.id, r.status) for r in results] == [
        ("ok", "ok"),
        ("boom", "error"),
        ("slow", "timeout"),
        ("after", "ok"),
    ]
    assert results[1].error == "RuntimeError: engine exploded"
    assert results[2].error == "no answer within 0.2 s" and results[2].latency_ms == 200.0
    assert [r.counts["key_fact_recall"] for r in results] == [(1, 1), (0, 1), (0, 1), (1, 1)]


def test_a_call_that_never_returns_fails_the_rest_instead_of_hanging() -> None:
    items = [
        gold("slow", facts=["x"], question="slow one?"),
        gold("next", facts=["x"]),
        gold("last", answerable=False),
    ]
    backend = FlakyBackend(hang_s=30)
    started = time.monotonic()
    try:
        results = evaluate_items(items, backend, timeout_s=0.1)
    finally:
        backend.released.set()
    assert time.monotonic() - started < 5
    assert [r.status for r in results] == ["timeout", "error", "error"]
    assert "not run" in (results[1].error or "")
    assert results[2].counts["abstain_recall"] == (0, 1)


def test_http_backend_records_server_errors_per_question() -> None:
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse
    from fastapi.testclient import TestClient

    app = FastAPI()
    good = answer([("0.3 µg/kg/day of cobalamin", [1])], ["0.3 µg/kg/day of cobalamin"]).public()

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "documents": 1, "chunks": 1, "corpus_version": "v1"}

    @app.post("/v1/ask")
    def ask(body: dict[str, Any]) -> Any:
        if "crash" in body["question"]:
            return JSONResponse({"detail": "internal"}, status_code=500)
        if "odd" in body["question"]:
            return {"id": "x"}  # not an Answer
        return good

    @app.get("/v1/search")
    def search(q: str, k: int) -> dict[str, Any]:
        return {
            "query": q,
            "passages": [
                {
                    "doc_id": "d",
                    "source": "doc.txt",
                    "start": 0,
                    "end": 3,
                    "text": "0.3 µg/kg/day of cobalamin",
                    "score": 1.0,
                }
            ],
        }

    backend = HttpBackend("http://testserver", client=TestClient(app))
    backend.check()
    items = [gold("a", quotes=["0.3 μg/kg/day"]), gold("b", question="crash?"), gold("c", question="odd?")]
    results = evaluate_items(items, backend)
    assert [r.status for r in results] == ["ok", "error", "error"]
    assert results[0].counts["retrieval_recall@k"] == (1, 1)
    assert "HTTP 500" in (results[1].error or "")
    assert "contract" in (results[2].error or "")
    assert backend.describe()["corpus_version"] == "v1"


def test_cli_in_process_json_and_report(
    medcite: Any, mini_run: EvalRun, corpus_engine: Any, tmp_path: Path
) -> None:
    report = tmp_path / "out" / "report.html"
    data_dir = str(corpus_engine.settings.data_dir)  # the data-dir lock is re-entrant within a process
    result = CliRunner().invoke(
        medcite,
        [
            "eval",
            str(MINI_GOLD),
            "--json",
            "--report",
            str(report),
            "--data-dir",
            data_dir,
            "--resamples",
            "200",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # exactly one JSON document on stdout
    assert data["n"] == 4 and isinstance(data["per_question"], list)
    assert comparable(data) == comparable(mini_run.to_json_dict())
    assert report.is_file() and "<html" in report.read_text(encoding="utf-8")


def test_cli_remote_mode_over_real_http_gives_the_same_numbers(
    medcite: Any, mini_run: EvalRun, served_engine: str, tmp_path: Path
) -> None:
    gate = tmp_path / "strict.json"
    gate.write_text(json.dumps({"min": {"abstain_recall": 0.5, "coverage": 1.01}}), encoding="utf-8")
    result = CliRunner().invoke(
        medcite,
        ["eval", str(MINI_GOLD), "--json", "--url", served_engine, "--resamples", "200", "--gate", str(gate)],
    )
    assert result.exit_code == 1, result.output  # the gate: coverage can never reach 1.01
    assert "quality gate: coverage" in result.stderr and "abstain_recall" not in result.stderr
    data = json.loads(result.stdout)
    assert data["run"]["mode"] == "remote" and data["run"]["url"] == served_engine
    assert data["run"]["config_hash"] == mini_run.run.config_hash
    assert comparable(data) == comparable(mini_run.to_json_dict())


def test_human_output_lists_metrics_with_intervals(mini_run: EvalRun) -> None:
    from eval.cli import format_run

    text = format_run(mini_run)
    for name in CONTRACT_METRICS:
        assert name in text
    assert "95% interval" in text
    assert re.search(r"abstain_recall\s+1\.000\s+\[1\.000, 1\.000\]", text)


def test_cli_unreachable_server_is_one_line_exit_1(medcite: Any) -> None:
    result = CliRunner().invoke(
        medcite, ["eval", str(MINI_GOLD), "--url", "http://127.0.0.1:9", "--timeout", "2"]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("medcite: error: cannot reach http://127.0.0.1:9")
    assert result.stderr.count("\n") == 1


def test_cli_empty_store_is_exit_1(medcite: Any, tmp_path: Path) -> None:
    result = CliRunner().invoke(medcite, ["eval", str(MINI_GOLD), "--data-dir", str(tmp_path / "empty")])
    assert result.exit_code == 1
    assert "no documents ingested" in result.stderr
