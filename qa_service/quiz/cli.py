"""``medcite quiz``: build a cited multiple-choice quiz on a topic and print or write it.

Registered on the ``medcite`` group by ``qa_service.cli._register_optional_commands``.
Only click is imported at module level (``medcite --help`` stays instant).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from qa_service.cli import data_dir_option, user_errors
from qa_service.quiz.export import FILE_FORMATS, FORMATS

logger = logging.getLogger(__name__)


@click.command("quiz")
@click.option(
    "--topic", required=True, help='What the quiz is about, e.g. "vitamin B12 deficiency in infants".'
)
@click.option(
    "--n", "n", type=click.IntRange(1, 50), default=5, show_default=True, help="Number of items (1-50)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="json",
    show_default=True,
    help="json, Moodle gift, qti (IMS content package zip), csv, or anki (.apkg).",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Same seed and corpus give identical items."
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file (required for qti and anki) instead of stdout.",
)
@click.option(
    "--explain",
    is_flag=True,
    help="On stderr: each rejected candidate sentence and the check that rejected it.",
)
@data_dir_option
def quiz_command(
    topic: str, n: int, fmt: str, seed: int, out: Path | None, explain: bool, data_dir: Path | None
) -> None:
    """Build a quiz whose every answer key cites the source sentence that supports it.

    \b
    Examples:
      medcite quiz --topic "vitamin B12 deficiency in infants" --n 10 --format gift
      medcite quiz --topic "B12 dosing" --format qti --out quiz.zip
    A topic the ingested documents do not cover gives no items (exit status 1).
    """
    if fmt in FILE_FORMATS and out is None:
        suffix = "zip" if fmt == "qti" else "apkg"
        raise click.UsageError(f"--format {fmt} writes a package: give --out PATH.{suffix}")
    with user_errors():
        from ingest.settings import get_settings
        from qa_service.engine import Engine
        from qa_service.quiz import QuizError
        from qa_service.quiz.generate import build_report, validate_request

        topic = validate_request(topic, n)
        engine = Engine.open(get_settings(data_dir), owner={"command": "quiz"})
        try:
            report = build_report(engine, topic, n=n, seed=seed)
        except QuizError as exc:
            if explain and exc.report is not None:
                _explain(exc.report.rejected)
            raise
        finally:
            engine.close()
        items = report.items
        if explain:
            _explain(report.rejected)
        if len(items) < n:
            click.echo(f"medcite: note: {shortfall_note(report, n)}", err=True)
        _emit(items, fmt, out, topic)


def shortfall_note(report: Any, n: int) -> str:
    """Why fewer items than asked: how many candidate sentences each check rejected."""
    counts: dict[str, int] = {}
    for r in report.rejected:
        name = r.check.split(" (")[0]
        counts[name] = counts.get(name, 0) + 1
    why = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    return f"the evidence supports {len(report.items)} of the {n} items asked for" + (
        f"; candidate sentences rejected by: {why} (details: --explain)" if why else ""
    )


def _explain(rejected: list[Any]) -> None:
    for r in rejected:
        click.echo(f"rejected [{r.check}] ({r.source}): {r.sentence}", err=True)


def _emit(items: list, fmt: str, out: Path | None, topic: str) -> None:  # type: ignore[type-arg]
    from qa_service.quiz import export

    if fmt == "qti":
        assert out is not None
        export.write_qti(items, out, title=f"medcite quiz: {topic}")
        click.echo(f"wrote {len(items)} QTI 2.1 items to {out}", err=True)
        return
    if fmt == "anki":
        assert out is not None
        export.write_anki(items, out, topic)
        click.echo(f"wrote {len(items)} Anki notes to {out}", err=True)
        return
    text = {"json": export.to_json, "csv": export.to_csv}.get(fmt)
    body = text(items) if text else export.to_gift(items, topic)
    if out is None:
        sys.stdout.write(body if body.endswith("\n") else body + "\n")
        sys.stdout.flush()
    else:
        out.write_text(body, encoding="utf-8")
        click.echo(f"wrote {len(items)} items to {out}", err=True)
