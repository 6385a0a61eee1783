"""``medcite quiz`` as educators and scripts use it: formats, exit statuses, one-line errors."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qa_service.cli import _register_optional_commands, cli
from tests.qa_service.quiz.conftest import TOPIC, parse_gift

_register_optional_commands()


@pytest.fixture
def data_dir(corpus_engine: Any) -> Path:
    """The session store over corpus/ (the data-dir lock is re-entrant within a process; quiz only reads)."""
    return Path(corpus_engine.settings.data_dir)


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def test_quiz_is_registered() -> None:
    result = run("quiz", "--help")
    assert result.exit_code == 0 and "--topic" in result.stdout and "gift" in result.stdout


def test_gift_to_stdout(data_dir: Path) -> None:
    result = run("quiz", "--topic", TOPIC, "--n", "3", "--format", "gift", "--data-dir", str(data_dir))
    assert result.exit_code == 0, result.stderr
    assert len(parse_gift(result.stdout)) == 3


def test_qti_to_a_file(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "quiz.zip"
    result = run(
        "quiz",
        "--topic",
        TOPIC,
        "--n",
        "2",
        "--format",
        "qti",
        "--out",
        str(out),
        "--data-dir",
        str(data_dir),
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    with zipfile.ZipFile(out) as zf:
        assert "imsmanifest.xml" in zf.namelist() and len(zf.namelist()) == 3


def test_uncovered_topic_exits_1_with_one_line(data_dir: Path) -> None:
    result = run(
        "quiz",
        "--topic",
        "first-line antibiotics for community-acquired pneumonia",
        "--data-dir",
        str(data_dir),
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "do not cover" in lines[0] and "no quiz items" in lines[0]


@pytest.mark.parametrize("n", ["0", "51", "ten"])
def test_n_out_of_range_is_a_usage_error(n: str) -> None:
    result = run("quiz", "--topic", TOPIC, "--n", n)
    assert result.exit_code == 2
    assert "--n" in result.stderr


@pytest.mark.parametrize("fmt", ["qti", "anki"])
def test_packages_need_out(fmt: str) -> None:
    result = run("quiz", "--topic", TOPIC, "--format", fmt)
    assert result.exit_code == 2
    assert "--out" in result.stderr
