"""``python -m eval.datasets {pubmedqa,medquad,consumer,nih} OUT_DIR ...``: build a corpus and a gold file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from qa_service.cli import configure_logging, user_errors

if TYPE_CHECKING:
    from eval.datasets.common import BuildSummary

F = TypeVar("F", bound=Callable[..., Any])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output on stderr.")
def main(verbose: int) -> None:
    """Build OUT_DIR/corpus/ and OUT_DIR/gold.jsonl from a dataset in the shared data folder.

    \b
    Then:
      medcite ingest OUT_DIR/corpus --data-dir OUT_DIR/store
      medcite eval OUT_DIR/gold.jsonl --data-dir OUT_DIR/store --report OUT_DIR/report.html
    """
    configure_logging(verbose)


def _output(func: F) -> F:
    """The arguments and options every adapter takes: where to write, where the data is."""
    options = [
        click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path)),
        click.option(
            "--source",
            "data_root",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="Shared data folder (default: $MEDCITE_SHARED_DATA, else ../shared/data).",
        ),
        click.option("--force", is_flag=True, help="Replace an earlier build in OUT_DIR."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _common(func: F) -> F:
    """The options of the sampling adapters (pubmedqa, medquad), on top of :func:`_output`."""
    options = [
        click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed."),
        click.option(
            "--distractors", type=click.IntRange(min=0), default=None, help="Extra non-gold documents."
        ),
        click.option(
            "--unanswerable",
            type=click.IntRange(min=0),
            default=0,
            show_default=True,
            help="Questions added whose answer is left out of the corpus.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return _output(func)


def _done(summary: BuildSummary) -> None:
    click.echo(json.dumps(summary.model_dump(), ensure_ascii=False))
    out = Path(summary.gold_path).parent
    click.echo(
        f"next: medcite ingest {out / 'corpus'} --data-dir {out / 'store'} && "
        f"medcite eval {out / 'gold.jsonl'} --data-dir {out / 'store'}",
        err=True,
    )


@main.command()
@_common
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="Answerable questions (default: all 500)."
)
def pubmedqa(
    out_dir: Path,
    seed: int,
    distractors: int | None,
    unanswerable: int,
    data_root: Path | None,
    force: bool,
    limit: int | None,
) -> None:
    """PubMedQA dev: question → its abstract (other abstracts as distractors)."""
    with user_errors():
        from eval.datasets.common import default_data_root
        from eval.datasets.pubmedqa import build_pubmedqa

        _done(
            build_pubmedqa(
                out_dir,
                data_root=data_root or default_data_root(),
                limit=limit,
                seed=seed,
                distractors=distractors,
                unanswerable=unanswerable,
                force=force,
            )
        )


@main.command()
@_common
@click.option(
    "--limit", type=click.IntRange(min=1), default=100, show_default=True, help="Answerable questions."
)
def medquad(
    out_dir: Path,
    seed: int,
    distractors: int | None,
    unanswerable: int,
    data_root: Path | None,
    force: bool,
    limit: int,
) -> None:
    """MedQuAD: question → its answer passage (same-page and random answers as distractors)."""
    with user_errors():
        from eval.datasets.common import default_data_root
        from eval.datasets.medquad import build_medquad

        _done(
            build_medquad(
                out_dir,
                data_root=data_root or default_data_root(),
                limit=limit,
                seed=seed,
                distractors=distractors,
                unanswerable=unanswerable,
                force=force,
            )
        )


@main.command()
@_output
def consumer(out_dir: Path, data_root: Path | None, force: bool) -> None:
    """Consumer-health pages on 8 conditions (eval/gold/dev_consumer_pages.json) + dev_consumer.jsonl."""
    with user_errors():
        from eval.datasets.common import default_data_root
        from eval.datasets.consumer import build_consumer

        _done(build_consumer(out_dir, data_root=data_root or default_data_root(), force=force))


@main.command()
@_output
def nih(out_dir: Path, data_root: Path | None, force: bool) -> None:
    """The 110 NIH blood/nutrition demo pages (shared/data/nih_demo_corpus) + dev_nih.jsonl."""
    with user_errors():
        from eval.datasets.common import default_data_root
        from eval.datasets.nih import build_nih

        _done(build_nih(out_dir, data_root=data_root or default_data_root(), force=force))


if __name__ == "__main__":  # pragma: no cover
    main(prog_name="python -m eval.datasets")
