"""Integration tests against real services: a PostgreSQL server and a Chroma server.

``.ci/services.sh ci`` starts both and sets ``MEDCITE_TEST_DATABASE_URL`` (a
PostgreSQL URL whose user may create databases) and ``MEDCITE_TEST_CHROMA_URL``.
Without them these tests skip; with ``MEDCITE_TEST_REQUIRE_SERVICES=1`` (CI) a
missing service fails them instead. Each test gets a database of its own; each
store has its own Chroma collection (named by its random store id).

The variables are read when this module is imported: the suite's autouse fixture
removes every ``MEDCITE_*`` variable from the environment of each test.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO

DATABASE_URL = os.environ.get("MEDCITE_TEST_DATABASE_URL", "")
CHROMA_URL = os.environ.get("MEDCITE_TEST_CHROMA_URL", "")
REQUIRED = os.environ.get("MEDCITE_TEST_REQUIRE_SERVICES", "") == "1"

PARAGRAPH = (
    "Iron deficiency in toddlers presents with pallor, irritability and poor appetite. "
    "Oral ferrous sulfate at 3 mg/kg/day of elemental iron corrects it within three months. "
)


def _missing() -> str | None:
    if not DATABASE_URL or not CHROMA_URL:
        return "MEDCITE_TEST_DATABASE_URL and MEDCITE_TEST_CHROMA_URL are not set (run .ci/services.sh ci)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed: pip install -e '.[postgres]'"
    try:
        httpx.get(f"{CHROMA_URL}/api/v2/heartbeat", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        return f"the Chroma server at {CHROMA_URL} does not answer: {exc}"
    return None


@pytest.fixture(scope="session")
def services() -> None:
    """Skip (or, in CI, fail) when the services are absent."""
    reason = _missing()
    if reason is None:
        return
    if REQUIRED:
        pytest.fail(f"integration services required (MEDCITE_TEST_REQUIRE_SERVICES=1) but absent: {reason}")
    pytest.skip(reason)


def _admin_url() -> str:
    """libpq form of the test URL (psycopg does not take the SQLAlchemy '+psycopg' part)."""
    return DATABASE_URL.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture
def database_url(services: None) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    import psycopg

    name = f"medcite_it_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = DATABASE_URL.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def service_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a medcite process on the shared services (nothing else MEDCITE_ leaks in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDCITE_")}
    env.update(
        MEDCITE_DATABASE_URL=database_url,
        MEDCITE_CHROMA_URL=CHROMA_URL,
        MEDCITE_DATA_DIR=str(data_dir),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    env.update(extra)
    return env


def medcite(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a process of its own."""
    return subprocess.run(  # noqa: PLW1510 - the caller checks the exit status
        [sys.executable, "-m", "qa_service.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=timeout,
    )


def start_ingest(env: dict[str, str], *paths: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "qa_service.cli", "ingest", *map(str, paths), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A `medcite serve` process (one "machine" of a multi-machine deployment)."""

    env: dict[str, str]
    workers: int = 1
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.log = Path(self.env["MEDCITE_DATA_DIR"]) / f"serve-{self.port}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "qa_service.cli", "serve", "--port", str(self.port), "--workers", str(self.workers)],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env=self.env,
                start_new_session=True,
            )
        return self

    def wait_ready(self, timeout: float = 300) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"medcite serve exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"medcite serve did not become ready:\n{self.tail()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, sig)  # the server and the workers it spawned
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log and self.log.exists() else ""

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120)


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    """Servers a test starts; all are stopped at its end, whatever happens."""
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


def write_notes(folder: Path, n: int, topic: str, paragraphs: int = 3) -> Path:
    """``n`` small distinct documents about ``topic`` (a word no other test document uses)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        body = "\n\n".join(f"Paragraph {j} of {topic} note {i}. {PARAGRAPH * 2}" for j in range(paragraphs))
        (folder / f"{topic}-{i:03d}.txt").write_text(f"{topic.title()} note {i}\n\n{body}\n", encoding="utf-8")
    return folder


def store_snapshot(database_url: str, data_dir: Path) -> dict[str, Any]:
    """What must be identical between two stores built from the same files (rows and vectors)."""
    from ingest.settings import get_settings
    from ingest.store import Store

    store = Store(get_settings(data_dir, database_url=database_url, chroma_url=CHROMA_URL))
    try:
        return {
            "docs": sorted((d.doc_id, d.source, d.chars, d.chunks) for d in store.list_documents()),
            "chunks": sorted(store.docs.chunk_ids()),
            "vectors": sorted(store.vectors.all_ids()),
        }
    finally:
        store.close()


def drop_collection(database_url: str, data_dir: Path) -> None:
    """Remove a test store's collection from the shared Chroma server."""
    from ingest.settings import get_settings
    from ingest.store import Store

    store = Store(get_settings(data_dir, database_url=database_url, chroma_url=CHROMA_URL))
    try:
        store.vectors._client.delete_collection(store.collection_name)  # type: ignore[attr-defined]
    finally:
        store.close()


def ingest_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)
