"""``medcite eval``: run a gold set, compare runs, measure reviewer agreement.

``qa_service.cli`` registers :data:`eval_command` (``_register_optional_commands``).
Only click is imported at module level; the engine, numpy and matplotlib load inside
the commands.

\b
medcite eval GOLD [--json] [--report PATH] [--url URL] [--data-dir DIR] [-k N] ...
medcite eval compare A.json B.json [--json]
medcite eval agreement [CSV] [--database-url URL] [--json]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from qa_service.cli import data_dir_option, user_errors

F = TypeVar("F", bound=Callable[..., Any])


def _json_option(help_text: str) -> Callable[[F], F]:
    """``--json`` (parameter ``as_json``), as every eval command spells it."""
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def _bootstrap_options(min_resamples: int) -> Callable[[F], F]:
    """``--seed`` and ``--resamples``: every command that reports bootstrap intervals takes both."""

    def apply(command: F) -> F:
        command = click.option(
            "--resamples",
            type=click.IntRange(min_resamples, 100_000),
            default=1000,
            show_default=True,
            help="Bootstrap resamples.",
        )(command)
        return click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")(command)

    return apply


def _dump(obj: Any) -> None:
    """One JSON document on stdout; NaN can never slip through (allow_nan=False)."""
    click.echo(json.dumps(obj, ensure_ascii=False, allow_nan=False))


class _DefaultToRun(click.Group):
    """A group whose first argument, unless it names a subcommand, is the gold file of ``run``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group("eval", cls=_DefaultToRun, no_args_is_help=True)
def eval_command() -> None:
    """Measure answer quality on a gold set: medcite eval GOLD [options].

    \b
    medcite eval GOLD --json             metrics with 95% intervals, per question results
    medcite eval GOLD --report r.html    self-contained HTML report
    medcite eval GOLD --url http://127.0.0.1:8000   against a running server
    medcite eval compare A.json B.json   what changed between two runs, beyond noise?
    medcite eval agreement reviews.csv   Cohen's kappa between two reviewers

    See `medcite eval run --help` for every option of a run.
    """


@eval_command.command("run")
@click.argument("gold", type=click.Path(dir_okay=False, path_type=Path))
@_json_option("Print the run as one JSON document.")
@click.option(
    "--report", "report", type=click.Path(dir_okay=False, path_type=Path), help="Write an HTML report here."
)
@click.option(
    "--url", default=None, help="Evaluate a running server (http://host:port) instead of the local store."
)
@click.option(
    "--api-key", envvar="MEDCITE_API_KEY", default=None, help="X-API-Key for --url (env MEDCITE_API_KEY)."
)
@click.option("-k", "k", type=int, default=None, help="-k given to ask (1-50; default: the engine's).")
@click.option(
    "--search-k", type=int, default=5, show_default=True, help="Passages retrieved for retrieval_recall@k."
)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0),
    default=120.0,
    show_default=True,
    help="Seconds per question before it counts as a failure (0: no limit).",
)
@_bootstrap_options(min_resamples=0)
@click.option(
    "--gate",
    "gate",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Thresholds file (e.g. eval/thresholds.json): exit 1 when a metric misses it.",
)
@click.option(
    "--generator",
    type=click.Choice(["extractive", "llm"]),
    default=None,
    help="Who writes the answers (default: the LLM when MEDCITE_LLM is set, else extractive).",
)
@data_dir_option
def run_command(
    gold: Path,
    as_json: bool,
    report: Path | None,
    url: str | None,
    api_key: str | None,
    k: int | None,
    search_k: int,
    timeout_s: float,
    seed: int,
    resamples: int,
    gate: Path | None,
    generator: str | None,
    data_dir: Path | None,
) -> None:
    """Evaluate the gold set GOLD (JSON Lines; see CONTRACT "Gold set")."""
    with user_errors():
        from eval.gate import check_gate, load_thresholds
        from eval.gold import load_gold
        from ingest.errors import UsageError
        from qa_service.engine import validate_k

        validate_k(k, 5)
        validate_k(search_k, 5)
        if url and data_dir is not None:
            raise UsageError("--url and --data-dir exclude each other (the server owns its data dir)")
        load_gold(gold)  # a malformed file fails before any model loads
        thresholds = load_thresholds(gate) if gate else None
        run = _run(gold, url, api_key, data_dir, k, search_k, timeout_s or None, seed, resamples, generator)
        if report is not None:
            from eval.report import write_report

            write_report(run, report)
        if as_json:
            _dump(run.to_json_dict())
        else:
            click.echo(format_run(run))
            if report is not None:
                click.echo(f"\nreport: {report}")
        if thresholds is not None:
            failures = check_gate(run, thresholds)
            for f in failures:
                click.echo(f"medcite: quality gate: {f}", err=True)
            if failures:
                sys.exit(1)


def _run(
    gold: Path,
    url: str | None,
    api_key: str | None,
    data_dir: Path | None,
    k: int | None,
    search_k: int,
    timeout_s: float | None,
    seed: int,
    resamples: int,
    generator: str | None = None,
) -> Any:
    from eval.runner import Backend, EngineBackend, HttpBackend, run_eval

    def evaluate(backend: Backend) -> Any:
        progress = _progress if sys.stderr.isatty() else None
        return run_eval(
            gold,
            backend,
            k=k,
            search_k=search_k,
            timeout_s=timeout_s,
            seed=seed,
            resamples=resamples,
            progress=progress,
        )

    if url:
        remote = HttpBackend(url, timeout_s=timeout_s, api_key=api_key, generator=generator)
        try:
            remote.check()
            return evaluate(remote)
        finally:
            remote.close()
    from qa_service.cli import _open_engine

    engine = _open_engine(data_dir, "eval")
    try:
        engine.store.require_documents()
        return evaluate(EngineBackend(engine, generator))
    finally:
        engine.close()


def _progress(done: int, total: int, result: Any) -> None:
    click.echo(f"\r{done}/{total} {result.id} {result.status}".ljust(60), err=True, nl=done == total)


def format_run(run: Any) -> str:
    """Terminal rendering of a run: metric table with intervals, failures."""
    from eval.metrics import METRICS

    r = run.run
    lines = [
        f"{run.n} questions · {run.failures} failed · config {r.config_hash} · corpus {r.corpus_version}",
        "",
        f"{'metric':<22} {'value':>9}  {'95% interval':<22} {'n':>5}",
    ]
    for m in METRICS:
        value = run.metrics.get(m.name)
        interval = run.intervals.get(m.name)
        if value is None:
            lines.append(f"{m.name:<22} {'—':>9}  {run.undefined.get(m.name, '')}")
            continue
        fmt = "{:.0f}" if m.unit else "{:.3f}"
        ci = f"[{fmt.format(interval[0])}, {fmt.format(interval[1])}]" if interval else ""
        lines.append(f"{m.name:<22} {fmt.format(value):>9}  {ci:<22} {run.support.get(m.name, 0):>5}")
    failed = [q for q in run.per_question if q.failed]
    if failed:
        lines += ["", "Failures:"] + [f"  {q.id}: {q.status}: {q.error}" for q in failed]
    return "\n".join(lines)


@eval_command.command("compare")
@click.argument("a", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("b", type=click.Path(dir_okay=False, path_type=Path))
@_json_option("Print the comparison as JSON.")
@_bootstrap_options(min_resamples=1)
@click.option("--fail-on-worse", is_flag=True, help="Exit 1 when any metric is significantly worse in B.")
def compare_command(a: Path, b: Path, as_json: bool, seed: int, resamples: int, fail_on_worse: bool) -> None:
    """Compare two `medcite eval --json` results A and B (B − A, paired bootstrap)."""
    with user_errors():
        from eval.compare import compare_runs, format_comparison, load_run

        result = compare_runs(load_run(a), load_run(b), resamples=resamples, seed=seed)
        if as_json:
            _dump(result.model_dump(mode="json"))
        else:
            click.echo(format_comparison(result))
        if fail_on_worse and any(m.verdict == "worse" for m in result.metrics):
            sys.exit(1)


@eval_command.command("agreement")
@click.argument("csv_path", metavar="[CSV]", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--database-url", default=None, help="SQLAlchemy URL of the audit database (instead of CSV).")
@_json_option("Print JSON.")
@_bootstrap_options(min_resamples=0)
@data_dir_option
def agreement_command(
    csv_path: Path | None,
    database_url: str | None,
    as_json: bool,
    seed: int,
    resamples: int,
    data_dir: Path | None,
) -> None:
    """Cohen's kappa between reviewers who judged the same answers.

    From a CSV with columns answer_id,reviewer,status, or from the audit database's
    review history (--database-url, or the one configured for --data-dir).
    """
    with user_errors():
        from eval.agreement import agreement, format_agreement, read_judgements_csv, read_judgements_database
        from ingest.errors import UsageError

        if csv_path is not None and database_url:
            raise UsageError("give either CSV or --database-url, not both")
        if csv_path is not None:
            rows = read_judgements_csv(csv_path)
        else:
            rows = read_judgements_database(database_url or _audit_url(data_dir))
        report = agreement(rows, resamples=resamples, seed=seed)
        if as_json:
            _dump(report.model_dump(mode="json"))
        else:
            click.echo(format_agreement(report))


def _audit_url(data_dir: Path | None) -> str:
    """The audit database of the data dir ($MEDCITE_DATABASE_URL, else DATA_DIR/audit.db)."""
    from ingest.errors import UsageError
    from ingest.settings import get_settings
    from qa_service.audit import default_database_url

    settings = get_settings(data_dir)
    if settings.database_url:
        return settings.database_url
    path = settings.data_dir / "audit.db"
    if not path.exists():  # SQLAlchemy would silently create an empty one
        raise UsageError(f"no audit database at {path}: give a CSV file or --database-url")
    return default_database_url(settings)
