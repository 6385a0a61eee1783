"""Throwaway services for benchmarks: a PostgreSQL cluster and a Chroma server in temp dirs.

The same steps as ``.ci/services.sh`` (see ../shared/PITFALLS.md §9): ``initdb``
runs as the ``postgres`` user, and ``chroma run`` comes with chromadb in the venv.
A benchmark given ``--database-url`` / ``--chroma-url`` uses those instead.
"""

from __future__ import annotations

import glob
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    return Path(found[-1]) if found else None


def _as_postgres(cmd: str) -> None:
    subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", cmd], check=True, capture_output=True)


@contextmanager
def postgres_cluster(url: str | None = None) -> Iterator[str]:
    """An admin URL (SQLAlchemy form) of a PostgreSQL server: ``url`` if given, else a throwaway cluster."""
    if url:
        yield url
        return
    bindir = _pg_bin()
    if bindir is None:
        raise SystemExit("SKIPPED: PostgreSQL is not installed (apt-get install postgresql) and no --database-url")
    root = Path(tempfile.mkdtemp(prefix="medcite-bench-pg-"))
    root.chmod(0o755)
    shutil.chown(root, "postgres")
    port = free_port()
    _as_postgres(f"{bindir}/initdb -D {root}/data -A trust -U postgres --no-sync >/dev/null")
    _as_postgres(
        f"{bindir}/pg_ctl -D {root}/data -l {root}/log -w -t 60 -o '-p {port} -k {root} "
        f"-c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=256MB -c work_mem=64MB' start >/dev/null"
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        _as_postgres(f"{bindir}/pg_ctl -D {root}/data -m fast -w stop >/dev/null")
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def chroma_server(url: str | None = None) -> Iterator[tuple[str, int | None]]:
    """(URL, pid or None) of a Chroma server: ``url`` if given, else ``chroma run`` on a temp dir."""
    if url:
        yield url, None
        return
    root = Path(tempfile.mkdtemp(prefix="medcite-bench-chroma-"))
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    with (root / "log").open("wb") as log:
        proc = subprocess.Popen(
            [str(chroma), "run", "--path", str(root / "data"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/v2/heartbeat", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("chroma run did not start: " + (root / "log").read_text()[-2000:]) from None
                time.sleep(0.5)
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def create_database(admin_url: str, name: str) -> str:
    """(Re)create database ``name`` on the server of ``admin_url``; returns its SQLAlchemy URL."""
    import psycopg

    with psycopg.connect(admin_url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rpartition("/")[0] + "/" + name
