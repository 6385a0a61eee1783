"""Measure how an upload bomb is refused: time to the answer and the server's peak memory.

The DOCX of issue 14 (``word/document.xml`` inflating to 400 MB from about 1.5 MB) once
drove ``medcite serve`` to 23 GB and an out-of-memory kill. This script:

1. ingests ``corpus/`` into a temp data dir and starts a real ``medcite serve`` on it;
2. uploads the bomb to ``POST /v1/documents`` (and a 10,000-page PDF) and records the
   time to the answer and the server's resident memory before and after, with its
   high-water mark (``VmHWM`` from ``/proc``: the peak, not a sample);
3. stops the server and runs ``medcite ingest`` on the same files, recording each
   command's wall time, CPU time and peak RSS (``wait4`` of that child), next to the same
   command on an unchanged file (start-up and store opening, the cost every run pays);
4. times the refusal itself in this process (``load_document`` to ``LoaderError``).

Run from the repository root: ``.venv/bin/python -m benchmarks.upload_bomb``. It prints a
table and exits 0; the numbers go to the issue, never into a timed test.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.ingest import bombs  # noqa: E402  (the test suite's builders: one definition of the bomb)

MEDCITE = Path(sys.executable).with_name("medcite")


def _proc_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _mb(kb: int) -> str:
    return f"{kb / 1024:,.0f} MB"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDCITE_")}
    env.update(MEDCITE_DATA_DIR=str(data), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return env


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"medcite serve exited with {proc.returncode}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("medcite serve did not become healthy")


def measure_api(data: Path, files: dict[str, Path], log: Path) -> list[tuple[str, str, str, str, str]]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(MEDCITE), "serve", "--port", str(port)], env=_env(data), stdout=out, stderr=subprocess.STDOUT
        )
    rows = []
    try:
        _wait_healthy(url, server)
        # warm up the answering path so the baseline is a serving server, not a cold one
        httpx.post(url + "/v1/ask", json={"question": "B12 dose for infants?"}, timeout=300)
        for name, path in files.items():
            before, peak_before = _proc_kb(server.pid, "VmRSS"), _proc_kb(server.pid, "VmHWM")
            started = time.perf_counter()
            with path.open("rb") as fh:
                response = httpx.post(url + "/v1/documents", files={"files": (name, fh)}, timeout=600)
            elapsed = time.perf_counter() - started
            after, peak = _proc_kb(server.pid, "VmRSS"), _proc_kb(server.pid, "VmHWM")
            detail = response.json().get("detail", response.text)
            rows.append(
                (
                    f"API {name}",
                    f"{response.status_code} in {elapsed * 1000:,.0f} ms",
                    f"{_mb(before)} -> {_mb(after)}",
                    f"{_mb(peak_before)} -> {_mb(peak)}",
                    str(detail)[:110],
                )
            )
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    return rows


def measure_cli(data: Path, files: dict[str, Path]) -> list[tuple[str, str, str, str, str]]:
    """One ``medcite ingest`` process per file; wall time, CPU time and peak RSS of that process alone."""
    rows = []
    for name, path in files.items():
        started = time.perf_counter()
        proc = subprocess.Popen(
            [str(MEDCITE), "ingest", str(path), "--json"],
            env=_env(data),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        stderr = proc.stderr.read() if proc.stderr else ""
        cpu = usage.ru_utime + usage.ru_stime
        code = os.waitstatus_to_exitcode(status)
        rows.append(
            (
                f"CLI {name}",
                f"exit {code} in {elapsed * 1000:,.0f} ms (cpu {cpu * 1000:,.0f} ms)",
                "",
                f"peak {_mb(usage.ru_maxrss)}",
                stderr.strip().splitlines()[-1][:110] if stderr else "",
            )
        )
    return rows


def measure_loader(files: dict[str, Path]) -> list[tuple[str, str, str, str, str]]:
    """The refusal itself, in this process: ``load_document`` from call to LoaderError."""
    from ingest.errors import LoaderError
    from ingest.loaders import load_document

    rows = []
    for name, path in files.items():
        load_document(
            REPO / "corpus" / "b12-infant-case-report.txt", "warm-up.txt"
        )  # imports out of the timing
        started = time.perf_counter()
        try:
            load_document(path, name)
            outcome = "loaded"
        except LoaderError as exc:
            outcome = str(exc)
        elapsed = time.perf_counter() - started
        rows.append((f"loader {name}", f"refused in {elapsed * 1000:,.1f} ms", "", "", outcome[:110]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="Keep the temp dir (server log, data dir).")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="medcite-bomb-"))
    data = work / "data"
    print(f"[work dir {work}]", file=sys.stderr)
    bomb = bombs.write_zip_bomb_docx(work / "bomb.docx")
    pages = bombs.write_pdf(work / "pages.pdf", pages=10_000)
    import zipfile

    with zipfile.ZipFile(bomb) as archive:
        unpacked = sum(i.file_size for i in archive.infolist())
    print(
        f"bomb.docx: {bomb.stat().st_size / 2**20:.2f} MB zipped, {unpacked / 2**20:,.0f} MB unpacked",
        file=sys.stderr,
    )
    subprocess.run(
        [str(MEDCITE), "ingest", str(REPO / "corpus")], env=_env(data), check=True, capture_output=True
    )
    files = {"bomb.docx": bomb, "pages.pdf": pages}
    rows = measure_api(data, files, work / "server.log")
    # baseline: the same command on an unchanged file (start-up, store open, no parsing, no model)
    rows += measure_cli(
        data, {"unchanged corpus file (baseline)": REPO / "corpus" / "b12-infant-case-report.txt"}
    )
    rows += measure_cli(data, files)
    rows += measure_loader(files)
    print("| path | answer | RSS before -> after | peak RSS (VmHWM) | message |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
