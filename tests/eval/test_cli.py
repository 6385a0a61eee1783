"""`medcite eval` is registered, documented, and light to import."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from qa_service import cli as medcite_cli
from tests.conftest import REPO


def test_eval_is_registered_with_its_subcommands() -> None:
    medcite_cli._register_optional_commands()
    runner = CliRunner()
    top = runner.invoke(medcite_cli.cli, ["--help"])
    assert "eval" in top.stdout
    group = runner.invoke(medcite_cli.cli, ["eval", "--help"])
    assert group.exit_code == 0
    for sub in ("run", "compare", "agreement"):
        assert sub in group.stdout
    run = runner.invoke(medcite_cli.cli, ["eval", "run", "--help"])
    for option in ("--json", "--report", "--url", "--data-dir", "-k", "--timeout", "--seed", "--gate"):
        assert option in run.stdout


def test_importing_the_command_loads_no_heavy_library() -> None:
    code = (
        "import sys, eval.cli; "
        "print(sorted(m for m in ('torch', 'chromadb', 'numpy', 'matplotlib', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"
