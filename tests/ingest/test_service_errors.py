"""Clear one-line errors when a configured service is missing or does not answer (no services needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CORPUS, REPO


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MEDCITE_")}
    return subprocess.run(  # noqa: PLW1510 - the caller checks the exit status
        [sys.executable, "-m", "qa_service.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**clean, "MEDCITE_DATA_DIR": str(tmp_path / "data"), **env},
        timeout=300,
    )


def test_an_unreachable_chroma_server_is_one_line_and_exit_1(tmp_path: Path) -> None:
    proc = _run(tmp_path, "ingest", str(CORPUS), MEDCITE_CHROMA_URL="http://127.0.0.1:9")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("medcite: error: cannot reach the Chroma server at http://127.0.0.1:9")
    assert "Traceback" not in proc.stderr


def test_an_unreachable_database_is_one_line_and_exit_1(tmp_path: Path) -> None:
    pytest.importorskip("psycopg", reason="the postgres extra is not installed (its absence has its own test)")
    proc = _run(tmp_path, "documents", MEDCITE_DATABASE_URL="postgresql+psycopg://medcite:pw@127.0.0.1:9/medcite")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "medcite: error: cannot reach the database at postgresql+psycopg://medcite:***@127.0.0.1:9/medcite"
    )
    assert "pw" not in proc.stderr  # the password is never printed


def test_several_workers_need_shared_services(tmp_path: Path) -> None:
    proc = _run(tmp_path, "serve", "--workers", "2", "--port", "9")
    assert proc.returncode == 2
    assert "--workers 2 needs shared services" in proc.stderr and "Traceback" not in proc.stderr


def test_postgresql_without_the_extra_says_how_to_install_it(tmp_path: Path) -> None:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("psycopg is installed here")
    proc = _run(tmp_path, "documents", MEDCITE_DATABASE_URL="postgresql+psycopg://medcite:pw@127.0.0.1:9/medcite")
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("medcite: error:") and "pip install -e '.[postgres]'" in last
    assert "Traceback" not in proc.stderr and "pw" not in proc.stderr
