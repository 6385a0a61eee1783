"""Helpers shared by the benchmarks: data sets, cached stores, timing, tables.

The data sets live in ``../shared/data`` (read-only, never copied into the repo).
Benchmarks write everything they build under ``benchmarks/out/`` (git-ignored) or
a temp dir; a store built once is reused by later runs (ingest skips unchanged
files), keyed by data set, sample and index fingerprint.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import resource
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
OUT = REPO / "benchmarks" / "out"

logger = logging.getLogger(__name__)


def setup_entry_point() -> None:
    """Quiet, offline, reproducible settings for a benchmark process (call first in ``main``)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)  # bm25s sets its own logger to DEBUG and logs every index build


def require_data(data: Path, *needed: str) -> None:
    """Exit 0 with a clear message when the shared data (or one of its files) is missing."""
    missing = [n for n in needed if not (data / n).is_file()]
    if not data.is_dir() or missing:
        what = str(data) if not data.is_dir() else ", ".join(str(data / n) for n in missing)
        print(f"SKIPPED: benchmark data not found ({what}); it exists only in the team's workspace.")
        sys.exit(0)


def note(msg: str) -> None:
    """Progress for the person running the benchmark (stderr, so tables stay clean)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


# ----------------------------------------------------------------------------- data sets


@dataclass
class Question:
    """A retrieval question and the documents (by key) that answer it."""

    qid: str
    text: str
    gold: frozenset[str]


@dataclass
class Dataset:
    """Documents keyed by a data-set id, plus questions pointing at them."""

    name: str
    docs: dict[str, str]
    questions: list[Question] = field(default_factory=list)

    @staticmethod
    def file_name(key: str) -> str:
        """A file name for a document key ('1_CancerGov_QA/0000001_1-1' ->
        '1_CancerGov_QA__0000001_1-1.txt')."""
        return re.sub(r"[^A-Za-z0-9_.-]+", "__", key) + ".txt"

    def write(self, folder: Path) -> Path:
        """Write each document as one .txt file (only files whose text changed are rewritten)."""
        folder.mkdir(parents=True, exist_ok=True)
        wanted = {self.file_name(k): t for k, t in self.docs.items()}
        for existing in folder.glob("*.txt"):
            if existing.name not in wanted:
                existing.unlink()
        for name, text in wanted.items():
            path = folder / name
            data = text.encode("utf-8")
            if not path.exists() or path.read_bytes() != data:
                path.write_bytes(data)
        return folder

    def key_by_source(self) -> dict[str, str]:
        """Stored ``Document.source`` (the file name) -> document key."""
        return {self.file_name(k): k for k in self.docs}


def pubmedqa(data: Path, limit: int | None = None) -> Dataset:
    """The 1,000 PubMedQA abstracts (``text`` only: ``question`` would leak the answer) and dev questions."""
    docs: dict[str, str] = {}
    for row in read_jsonl(data / "pubmedqa" / "corpus.jsonl"):
        docs[row["doc_id"]] = row["text"]
    if limit:
        docs = dict(list(docs.items())[:limit])
    questions = [
        Question(r["id"], r["question"], frozenset([r["gold_doc_id"]]))
        for r in read_jsonl(data / "pubmedqa" / "questions_dev.jsonl")
        if r["gold_doc_id"] in docs
    ]
    return Dataset("pubmedqa", docs, questions)


def normalise_question(text: str) -> str:
    """Lower case, single spaces, no trailing punctuation ('What is (are) X ?' == 'what is (are) x?')."""
    return re.sub(r"\s+", " ", text.lower()).strip().rstrip("?").strip()


def medquad(data: Path, sample: int = 2000, seed: int = 0) -> Dataset:
    """A reproducible sample of MedQuAD QA pairs: each answer one document, each question one query.

    Several pairs share one question text (template questions answered by several
    pages or sections), so every document whose pair has the same normalised
    question is a correct hit.
    """
    rows = list(read_jsonl(data / "medquad" / "qa.jsonl"))
    picked = random.Random(seed).sample(rows, min(sample, len(rows)))
    docs = {r["id"]: r["answer"] for r in picked}
    by_question: dict[str, set[str]] = {}
    for r in picked:
        by_question.setdefault(normalise_question(r["question"]), set()).add(r["id"])
    questions = [
        Question(r["id"], r["question"], frozenset(by_question[normalise_question(r["question"])]))
        for r in picked
    ]
    return Dataset(f"medquad{sample}s{seed}", docs, questions)


# ----------------------------------------------------------------------------- model and stores


def load_model(settings: Any | None = None) -> Any:
    """The real embedding model (loaded once per benchmark process)."""
    from ingest.embeddings import load_embedder
    from ingest.settings import EmbeddingSettings

    started = time.perf_counter()
    embedder = load_embedder(settings.embedding if settings is not None else EmbeddingSettings())
    note(f"model loaded in {time.perf_counter() - started:.1f} s")
    return embedder


def cached_engine(
    dataset: Dataset, settings_overrides: dict[str, Any], embedder: Any, rebuild: bool = False
) -> Any:
    """An Engine over ``dataset``, built (or brought up to date) under benchmarks/out/.

    The store folder is keyed by the data set and the index fingerprint (model +
    chunking), so each chunking setting has its own store and reruns only pay
    for what changed.
    """
    import shutil

    from ingest.pipeline import ingest_paths
    from ingest.settings import get_settings
    from qa_service.engine import Engine

    probe = get_settings(OUT / "probe", **settings_overrides)
    files = dataset.write(OUT / "files" / dataset.name)
    data_dir = OUT / "stores" / f"{dataset.name}-{probe.index_fingerprint}"
    if rebuild and data_dir.exists():
        shutil.rmtree(data_dir)
    settings = get_settings(data_dir, **settings_overrides)
    engine = Engine.open(settings, owner={"command": "benchmark"}, embedder=embedder)
    started = time.perf_counter()
    report = ingest_paths(engine.store, [files], prune=True)
    chunks = engine.store.stats()["chunks"]
    if engine.store.vectors.count() != chunks:
        # a cache written by an older layout (e.g. another collection name): every
        # document looks unchanged but dense search would find nothing
        note(
            f"{dataset.name}: cached store has {engine.store.vectors.count()} vectors for {chunks} chunks; "
            "rebuilding"
        )
        engine.close()
        return cached_engine(dataset, settings_overrides, embedder, rebuild=True)
    took = time.perf_counter() - started
    if report.added or report.updated or report.removed:
        note(
            f"{dataset.name}: ingested {report.added + report.updated} docs / {report.chunks} chunks in "
            f"{took:.0f} s "
            f"({data_dir.relative_to(REPO)})"
        )
    if report.errors:
        note(f"{dataset.name}: {len(report.errors)} files not ingested, e.g. {report.errors[0]}")
    return engine


def doc_keys(engine: Any, dataset: Dataset) -> dict[str, str]:
    """Stored doc_id -> data-set document key."""
    by_source = dataset.key_by_source()
    return {d.doc_id: by_source[d.source] for d in engine.store.list_documents() if d.source in by_source}


# ----------------------------------------------------------------------------- measuring


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux); torch memory included."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    """Current resident set size (from /proc; falls back to the peak elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else float("nan")


@dataclass
class _Frame:
    label: str
    started: float
    children: float = 0.0  # time spent in nested stages


class StageTimer:
    """Self time per stage of nested, instrumented calls (a child's time is not counted in its parent)."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._stack: list[_Frame] = []

    @contextmanager
    def stage(self, label: str) -> Iterator[None]:
        frame = _Frame(label, time.perf_counter())
        self._stack.append(frame)
        try:
            yield
        finally:
            self._stack.pop()
            elapsed = time.perf_counter() - frame.started
            self.totals[label] = self.totals.get(label, 0.0) + elapsed - frame.children
            self.calls[label] = self.calls.get(label, 0) + 1
            if self._stack:
                self._stack[-1].children += elapsed

    @property
    def parent(self) -> str | None:
        """Label of the innermost stage running now (None outside every stage)."""
        return self._stack[-1].label if self._stack else None

    def wrap(self, owner: Any, name: str, label: str | Callable[[StageTimer], str]) -> Callable[[], None]:
        """Time ``owner.name`` (a class or an instance) under ``label``; returns a function that undoes it.

        ``label`` may be a callable of this timer, to name a stage after its caller
        (``timer.parent``): the same model call is "query embedding" in one place and
        "sentence embedding" in another.
        """
        timer = self
        is_class = isinstance(owner, type)
        saved = vars(owner).get(name, _MISSING)
        target = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            with timer.stage(label(timer) if callable(label) else label):
                return target(*args, **kwargs)

        if is_class and not isinstance(saved, staticmethod):
            # a plain function on the class: keep it a method (``self`` arrives in args)
            setattr(owner, name, timed)
        else:
            setattr(owner, name, staticmethod(timed) if is_class else timed)

        def undo() -> None:
            if saved is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, saved)

        return undo

    def reset(self) -> None:
        self.totals.clear()
        self.calls.clear()


_MISSING = object()


def print_table(
    title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], floatfmt: str = ".3f"
) -> None:
    """A plain aligned text table on stdout."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return format(v, floatfmt)
        return str(v)

    body = [[fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)]
    print(f"\n{title}")
    line = "  ".join(
        h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths, strict=False))
    )
    print(line)
    print("-" * len(line))
    for r in body:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=False))
            )
        )
    sys.stdout.flush()
