"""Gold files are validated with pydantic; a malformed one is refused with exit 2 naming the line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from eval.gold import load_gold, parse_gold_lines
from ingest.errors import UsageError
from qa_service import cli as medcite_cli
from tests.eval.conftest import MINI_GOLD

GOOD = '{"id": "a", "question": "What dose?", "key_facts": ["1 mg"], "evidence": [{"quote": "1 mg daily"}]}'


@pytest.fixture(scope="module")
def medcite() -> object:
    medcite_cli._register_optional_commands()
    return medcite_cli.cli


def test_valid_lines_keep_unknown_fields() -> None:
    items = parse_gold_lines(
        [GOOD, "", '{"id": "b", "question": "Q?", "answerable": false, "conflict": true, "category": "x"}']
    )
    assert [i.id for i in items] == ["a", "b"]
    assert items[0].answerable is True and items[0].evidence[0].source is None
    assert items[1].conflict is True and items[1].category == "x"


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"question": "no id?"}', "id"),
        ('{"id": "x", "question": "   "}', "question"),
        ('{"id": "x", "question": "' + "q" * 2001 + '"}', "2000"),
        ('{"id": "x", "question": "Q?", "key_facts": "1 mg"}', "key_facts"),
        ('{"id": "x", "question": "Q?", "evidence": [{"source": "a.txt"}]}', "quote"),
        ('{"id": "x", "question": "Q?", "answerable": false, "key_facts": ["1 mg"]}', "unanswerable"),
        ('{"id": "a", "question": "again?"}', "duplicate id 'a' (first on line 1)"),
    ],
)
def test_malformed_line_is_a_usage_error_naming_the_line(bad: str, needle: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_gold_lines([GOOD, "", bad], "gold.jsonl")
    assert str(err.value).startswith("gold.jsonl:3: ")
    assert needle in str(err.value)


def test_empty_and_missing_files_are_usage_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(UsageError, match="no questions"):
        load_gold(empty)
    with pytest.raises(UsageError, match="cannot read"):
        load_gold(tmp_path / "missing.jsonl")


def test_load_gold_hashes_the_file() -> None:
    items, digest = load_gold(MINI_GOLD)
    assert len(items) == 4 and len(digest) == 64
    assert load_gold(MINI_GOLD)[1] == digest


def test_cli_refuses_a_malformed_gold_file_with_exit_2(medcite: object, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(GOOD + "\n" + '{"id": "b", "question": 42}\n', encoding="utf-8")
    # fails before any model or store is opened (no data dir exists here)
    result = CliRunner().invoke(medcite, ["eval", str(path), "--json"])  # type: ignore[arg-type]
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert f"{path}:2:" in result.stderr
    assert "question" in result.stderr


def test_cli_usage_errors_exit_2(medcite: object, tmp_path: Path) -> None:
    runner = CliRunner()
    for args in (
        ["eval", str(MINI_GOLD), "-k", "0"],
        ["eval", str(MINI_GOLD), "--url", "http://127.0.0.1:9", "--data-dir", str(tmp_path)],
        ["eval", str(tmp_path / "nope.jsonl")],
    ):
        result = runner.invoke(medcite, args)  # type: ignore[arg-type]
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("medcite: error: ")
