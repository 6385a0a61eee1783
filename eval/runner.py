"""Run a gold set against the engine (in-process) or a running server (``--url``).

Both go through a small :class:`Backend` protocol, and every answer is validated
into the same :class:`qa_service.models.Answer`, so both modes score the same
objects the same way and give the same numbers (latency aside).

Every question counts: an exception or a time-out is recorded as a failure with
its reason. In-process, a question that times out keeps running in its worker
thread (Python cannot kill a thread); the harness waits for it before the next
question (the engine is not used concurrently), and if it is still running after
a second time limit, the remaining questions are recorded as failures too.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from eval.gold import load_gold
from eval.metrics import AskOutcome, SearchOutcome, score_question
from eval.models import EvalRun, GoldItem, QuestionResult, RunInfo
from eval.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, MetricInputs, risk_coverage_curve, summarise
from ingest.errors import MedciteError
from qa_service.models import Answer, Passage

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SEARCH_K = 5
Progress = Callable[[int, int, QuestionResult], None]


class Backend(Protocol):
    """Where answers come from: the engine in this process, or a server over HTTP."""

    mode: str

    def ask(self, question: str, k: int | None) -> Answer:
        """Answer one question (raises on failure)."""
        ...

    def search(self, question: str, k: int) -> list[Passage]:
        """The ``k`` best passages for the question (raises on failure)."""
        ...

    def describe(self) -> dict[str, Any]:
        """config_hash, corpus_version, embedding_model, generator, url/data_dir where known."""
        ...


class EngineBackend:
    """The in-process engine (``qa_service.engine.Engine``)."""

    mode = "in-process"

    def __init__(self, engine: Any, generator: str | None = None) -> None:
        self.engine = engine
        self.generator = generator  # "extractive" | "llm" | None (the engine's default)
        if generator is not None:
            engine.generator_for(generator)  # a usage error now, not one failure per question

    def ask(self, question: str, k: int | None) -> Answer:
        return self.engine.ask(question, k, generator=self.generator)  # type: ignore[no-any-return]

    def search(self, question: str, k: int) -> list[Passage]:
        return list(self.engine.search(question, k).passages)

    def describe(self) -> dict[str, Any]:
        settings = self.engine.settings
        return {
            "config_hash": settings.config_hash,
            "corpus_version": self.engine.store.corpus_version(),
            "embedding_model": settings.embedding.model,
            "generator": self.engine.generator_for(self.generator).name,
            "data_dir": str(settings.data_dir),
        }


RATE_LIMIT_RETRIES = 20  # a rate-limited key waits (Retry-After) rather than failing the run


class RemoteError(MedciteError):
    """The server answered with an error or not at all."""


class HttpBackend:
    """A running ``medcite serve`` (``POST /v1/ask``, ``GET /v1/search``, ``GET /health``)."""

    mode = "remote"

    def __init__(
        self,
        url: str,
        client: Any | None = None,
        timeout_s: float | None = None,
        api_key: str | None = None,
        generator: str | None = None,
    ) -> None:
        import httpx

        self.generator = generator
        self.url = url.rstrip("/")
        headers = {"X-API-Key": api_key} if api_key else None
        self.client = (
            client
            if client is not None
            else httpx.Client(base_url=self.url, timeout=timeout_s, headers=headers)
        )
        self._health: dict[str, Any] = {}
        self._first_answer: Answer | None = None

    def close(self) -> None:
        self.client.close()

    def _get_json(self, response: Any) -> Any:
        if response.status_code >= 400:
            detail = response.text[:300]
            raise RemoteError(
                f"HTTP {response.status_code} from {response.request.method}"
                f" {response.request.url.path}: {detail}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise RemoteError(f"the server sent non-JSON for {response.request.url.path}") from exc

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request; a 429 (the key's rate limit) waits ``Retry-After`` seconds and tries again."""
        import time

        for _ in range(RATE_LIMIT_RETRIES):
            response = self.client.request(method, path, **kwargs)
            if response.status_code != 429:
                return response
            wait = response.headers.get("Retry-After", "1")
            time.sleep(min(float(wait) if wait.isdigit() else 1.0, 60.0))
        return response

    def check(self) -> None:
        """Fail fast (exit 1) when the server cannot be reached."""
        import httpx

        try:
            self._health = self._get_json(self.client.get("/health"))
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot reach {self.url}: {exc}") from exc

    def ask(self, question: str, k: int | None) -> Answer:
        body: dict[str, Any] = {"question": question}
        if k is not None:
            body["top_k"] = k
        if self.generator is not None:
            body["generator"] = self.generator
        data = self._get_json(self._send("POST", "/v1/ask", json=body))
        try:
            answer = Answer.model_validate(data)
        except ValidationError as exc:
            raise RemoteError(
                f"the server's answer does not match the contract: {exc.errors()[0]['msg']}"
            ) from exc
        self._first_answer = self._first_answer or answer
        return answer

    def search(self, question: str, k: int) -> list[Passage]:
        data = self._get_json(self._send("GET", "/v1/search", params={"q": question, "k": k}))
        try:
            return [Passage.model_validate(p) for p in data["passages"]]
        except (KeyError, TypeError, ValidationError) as exc:
            raise RemoteError("the server's search result does not match the contract") from exc

    def describe(self) -> dict[str, Any]:
        first = self._first_answer
        return {
            "url": self.url,
            "config_hash": first.config_hash if first else self._health.get("config_hash"),
            "corpus_version": self._health.get("corpus_version"),
            "embedding_model": self._health.get("embedding_model"),
            "generator": first.generator if first else None,
        }


def git_state(repo: Path = REPO) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout the harness runs from; (None, None) outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10, check=False
        )
        if head.returncode != 0:
            return None, None
        # --no-optional-locks: a read-only look that never takes .git/index.lock (a commit may be running)
        status = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
        return head.stdout.strip() or None, dirty
    except (OSError, subprocess.SubprocessError):
        return None, None


def _version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("medcite")
    except PackageNotFoundError:
        return None


class _Caller:
    """Runs backend calls in one worker thread with a time limit (or inline when there is none)."""

    def __init__(self, timeout_s: float | None) -> None:
        self.timeout_s = timeout_s
        self.pool = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="medcite-eval") if timeout_s else None
        )
        self.stuck: str | None = None  # id of a question whose call never returned

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)

    def call(self, fn: Callable[[], Any]) -> tuple[Any, str, str | None]:
        """(result, status, error) of ``fn()``: status ok, error or timeout."""
        if self.pool is None:
            try:
                return fn(), "ok", None
            except Exception as exc:
                return None, "error", _describe(exc)
        future: Future[Any] = self.pool.submit(fn)
        try:
            return future.result(timeout=self.timeout_s), "ok", None
        except FutureTimeout:
            self._drain(future)
            return None, "timeout", f"no answer within {self.timeout_s:g} s"
        except Exception as exc:
            return None, "error", _describe(exc)

    def _drain(self, future: Future[Any]) -> None:
        """Let a timed-out call finish before the next one (the engine is not shared across threads)."""
        try:
            future.result(timeout=self.timeout_s)
        except FutureTimeout:
            self.stuck = "a timed-out call is still running"
        except Exception:
            pass


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def evaluate_items(
    items: Iterable[GoldItem],
    backend: Backend,
    *,
    k: int | None = None,
    search_k: int = DEFAULT_SEARCH_K,
    timeout_s: float | None = None,
    progress: Progress | None = None,
) -> list[QuestionResult]:
    """Ask and score every gold question, in order; failures are recorded, never skipped."""
    items = list(items)
    caller = _Caller(timeout_s)
    results: list[QuestionResult] = []
    try:
        for i, gold in enumerate(items, 1):
            if caller.stuck:
                outcome = AskOutcome(None, 0.0, "error", f"not run: {caller.stuck} (engine busy)")
                result = score_question(gold, outcome, SearchOutcome([], "not run"))
            else:
                result = _evaluate_one(gold, backend, caller, k, search_k)
            results.append(result)
            logger.info("eval question done", extra={"question_id": gold.id, "status": result.status})
            if progress is not None:
                progress(i, len(items), result)
    finally:
        caller.close()
    return results


def _evaluate_one(
    gold: GoldItem, backend: Backend, caller: _Caller, k: int | None, search_k: int
) -> QuestionResult:
    started = time.perf_counter()
    answer, status, error = caller.call(lambda: backend.ask(gold.question, k))
    latency = (time.perf_counter() - started) * 1000
    if status == "timeout" and caller.timeout_s:
        latency = caller.timeout_s * 1000  # the user waited at least this long
    outcome = AskOutcome(answer if status == "ok" else None, latency, status, error)  # type: ignore[arg-type]
    search = None
    if not caller.stuck:
        passages, s_status, s_error = caller.call(lambda: backend.search(gold.question, search_k))
        search = SearchOutcome(passages or [], s_error if s_status != "ok" else None)
    else:
        search = SearchOutcome([], "not run")
    return score_question(gold, outcome, search)


def build_run(
    results: list[QuestionResult],
    info: RunInfo,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> EvalRun:
    """Aggregate per-question results into a run with metrics, intervals and the risk–coverage curve."""
    inputs = MetricInputs.from_results(results)
    summary = summarise(inputs, resamples, seed)
    return EvalRun(
        n=len(results),
        failures=sum(r.failed for r in results),
        metrics=summary.metrics,
        intervals=summary.intervals,
        support=summary.support,
        undefined=summary.undefined,
        risk_coverage=risk_coverage_curve(inputs),
        per_question=results,
        run=info,
    )


def run_eval(
    gold_path: Path,
    backend: Backend,
    *,
    k: int | None = None,
    search_k: int = DEFAULT_SEARCH_K,
    timeout_s: float | None = None,
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
    progress: Progress | None = None,
) -> EvalRun:
    """Evaluate the gold file at ``gold_path`` against ``backend``.

    Args:
        gold_path: A JSON Lines gold file (CONTRACT, "Gold set").
        backend: :class:`EngineBackend` or :class:`HttpBackend`.
        k: ``-k`` for ask (None: the engine's default).
        search_k: Passages retrieved per question for ``retrieval_recall@k``.
        timeout_s: Per-question time limit (None: no limit).
        seed: Bootstrap seed.
        resamples: Bootstrap resamples (0: no intervals).
        progress: Called after each question with (done, total, result).

    Returns:
        The run; deterministic for a fixed config, corpus and gold file (latency and times aside).

    Raises:
        UsageError: the gold file is unreadable or malformed (the message names the line).
    """
    items, digest = load_gold(gold_path)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    results = evaluate_items(items, backend, k=k, search_k=search_k, timeout_s=timeout_s, progress=progress)
    commit, dirty = git_state()
    described = backend.describe()
    info = RunInfo(
        mode="remote" if backend.mode == "remote" else "in-process",
        url=described.get("url"),
        data_dir=described.get("data_dir"),
        gold_path=str(gold_path),
        gold_sha256=digest,
        config_hash=described.get("config_hash"),
        corpus_version=described.get("corpus_version"),
        embedding_model=described.get("embedding_model"),
        generator=described.get("generator"),
        git_commit=commit,
        git_dirty=dirty,
        medcite_version=_version(),
        k=k,
        search_k=search_k,
        seed=seed,
        resamples=resamples,
        timeout_s=timeout_s,
        started_at=started.isoformat(timespec="seconds"),
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        duration_s=round(time.perf_counter() - t0, 3),
    )
    return build_run(results, info, resamples=resamples, seed=seed)
