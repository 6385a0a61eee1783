"""The medcite CLI as users and scripts see it: JSON shapes, exit statuses, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa_service.cli import cli
from tests.conftest import CORPUS, REPO


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def ingested(tmp_path: Path, runner: CliRunner) -> Path:
    data = tmp_path / "cli-data"
    result = runner.invoke(cli, ["ingest", str(CORPUS), "--json", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    return data


def run(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_help_is_fast_and_lists_the_contract_commands() -> None:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "qa_service.cli", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    elapsed = time.perf_counter() - started
    assert proc.returncode == 0
    for command in ("ingest", "documents", "search", "ask", "serve"):
        assert command in proc.stdout
    # heavy libraries are imported only by the commands that need them
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, qa_service.cli; print('torch' in sys.modules, 'chromadb' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert check.stdout.strip() == "False False", elapsed


def test_ingest_json_summary_and_documents(runner: CliRunner, ingested: Path) -> None:
    code, out, _ = run(runner, "ingest", str(CORPUS), "--json", "--data-dir", str(ingested))
    assert code == 0
    assert json.loads(out) == {
        "added": 0,
        "updated": 0,
        "unchanged": 2,
        "removed": 0,
        "chunks": 0,
        "errors": [],
    }
    code, out, _ = run(runner, "documents", "--json", "--data-dir", str(ingested))
    docs = json.loads(out)["documents"]
    assert code == 0 and len(docs) == 2
    assert set(docs[0]) == {"doc_id", "source", "title", "format", "chars", "chunks", "ingested_at"}
    code, out, _ = run(runner, "documents", "show", docs[0]["doc_id"], "--json", "--data-dir", str(ingested))
    shown = json.loads(out)
    assert code == 0 and shown["doc_id"] == docs[0]["doc_id"] and len(shown["text"]) == docs[0]["chars"]


def test_documents_show_unknown_id_is_one_line_error(runner: CliRunner, ingested: Path) -> None:
    code, out, err = run(runner, "documents", "show", "nope", "--json", "--data-dir", str(ingested))
    assert code == 1 and out == "" and "no document with id 'nope'" in err and "Traceback" not in err


def test_ingest_exit_1_only_when_nothing_could_be_ingested(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_text("")
    code, out, err = run(runner, "ingest", str(bad), "--json", "--data-dir", str(tmp_path / "d"))
    assert code == 1
    summary = json.loads(out)
    assert summary["added"] == 0 and summary["errors"][0]["source"] == "empty.txt"
    assert "nothing could be ingested" in err


def test_search_json_passages_obey_the_offset_invariant(runner: CliRunner, ingested: Path) -> None:
    code, out, _ = run(
        runner,
        "search",
        "hydroxocobalamin three times weekly",
        "-k",
        "3",
        "--json",
        "--data-dir",
        str(ingested),
    )
    assert code == 0
    result = json.loads(out)
    assert result["query"] == "hydroxocobalamin three times weekly" and len(result["passages"]) == 3
    texts = {}
    for p in result["passages"]:
        assert set(p) == {"doc_id", "source", "title", "section", "start", "end", "text", "score"}
        if p["doc_id"] not in texts:
            _, shown, _ = run(runner, "documents", "show", p["doc_id"], "--json", "--data-dir", str(ingested))
            texts[p["doc_id"]] = json.loads(shown)["text"]
        assert texts[p["doc_id"]][p["start"] : p["end"]] == p["text"]


@pytest.mark.integration  # answers from the real model's retrieval
def test_ask_json_is_one_answer(runner: CliRunner, ingested: Path) -> None:
    code, out, _ = run(
        runner,
        "ask",
        "What dose of cobalamin is given to infants up to 12 months?",
        "--json",
        "--data-dir",
        str(ingested),
    )
    assert code == 0
    answer = json.loads(out)
    for key in (
        "id",
        "question",
        "answer",
        "abstained",
        "abstain_reason",
        "statements",
        "citations",
        "conflicts",
        "config_hash",
        "generator",
        "latency_ms",
    ):
        assert key in answer
    assert answer["generator"] == "extractive" and not answer["abstained"]
    assert "0.3 μg/kg/day" in answer["answer"]
    ids = {c["id"] for c in answer["citations"]}
    assert all(set(s["citations"]) <= ids and s["citations"] for s in answer["statements"])


@pytest.mark.integration  # answers from the real model's retrieval
def test_ask_readable_output_has_numbered_sources(runner: CliRunner, ingested: Path) -> None:
    code, out, _ = run(
        runner,
        "ask",
        "What dose of cobalamin is given to infants up to 12 months?",
        "--data-dir",
        str(ingested),
    )
    assert code == 0
    assert out.startswith("Q: What dose") and "Bottom line:" in out
    assert "[1] b12-under-2-treatment-answer.txt" in out and "chars " in out


@pytest.mark.integration  # answers from the real model's retrieval
def test_batch_ask_and_search_keep_input_order(runner: CliRunner, ingested: Path, tmp_path: Path) -> None:
    batch = tmp_path / "qs.jsonl"
    batch.write_text(
        json.dumps({"id": "a", "question": "How long should oral therapy continue?"}) + "\n"
        + json.dumps({"id": "b", "question": "What are the symptoms in infants?"}) + "\n",
        encoding="utf-8",
    )
    code, out, _ = run(runner, "ask", "--batch", str(batch), "--json", "--data-dir", str(ingested))
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [a["question_id"] for a in lines] == ["a", "b"]
    code, out, _ = run(runner, "search", "--batch", str(batch), "-k", "2", "--data-dir", str(ingested))
    lines = [json.loads(line) for line in out.splitlines()]
    assert (
        code == 0
        and [r["question_id"] for r in lines] == ["a", "b"]
        and all(len(r["passages"]) == 2 for r in lines)
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "   "], "the question is empty"),
        (["ask", "x" * 2001], "limit is 2000"),
        (["ask", "What dose?", "-k", "0"], "k must be an integer from 1 to 50"),
        (["search", "dose", "-k", "51"], "k must be an integer from 1 to 50"),
        (["ask"], "give either QUESTION or --batch FILE"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    runner: CliRunner, tmp_path: Path, args: list[str], message: str
) -> None:
    code, out, err = run(runner, *args, "--data-dir", str(tmp_path / "d"))
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_malformed_batch_file_names_the_line(runner: CliRunner, tmp_path: Path) -> None:
    batch = tmp_path / "bad.jsonl"
    batch.write_text('{"id": "1", "question": "ok?"}\n{not json\n', encoding="utf-8")
    code, _, err = run(runner, "ask", "--batch", str(batch), "--data-dir", str(tmp_path / "d"))
    assert code == 2 and f"{batch}:2" in err


def test_empty_store_says_how_to_fix_it(runner: CliRunner, tmp_path: Path) -> None:
    code, out, err = run(runner, "ask", "What dose?", "--data-dir", str(tmp_path / "empty"))
    assert code == 1 and out == ""
    assert "no documents ingested: run `medcite ingest PATH`" in err
