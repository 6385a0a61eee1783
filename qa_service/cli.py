"""The ``medcite`` command line.

Heavy libraries (torch, chromadb) are imported inside the commands that need
them, so ``medcite --help`` answers at once. Every ``--json`` output is exactly
one JSON document (or JSON Lines where the contract says so) on stdout; logs and
progress go to stderr. Exit status: 0 success, 1 request not served, 2 usage error.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from ingest.errors import MedciteError

F = TypeVar("F", bound=Callable[..., Any])
logger = logging.getLogger("medcite")


def configure_logging(verbose: int, json_lines: bool = False) -> None:
    """Entry-point logging: stderr, quiet third-party loggers."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        from qa_service.logs import JsonFormatter

        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(level)  # some libraries (bm25s) set their own loggers to DEBUG
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in (
        "chromadb",
        "httpx",
        "sentence_transformers",
        "urllib3",
        "bm25s",
        "transformers",
        "uvicorn.access",
    ):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def data_dir_option(func: F) -> F:
    """``--data-dir`` on every command (default: $MEDCITE_DATA_DIR, else ./.medcite)."""
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Where medcite stores everything (default: $MEDCITE_DATA_DIR, else ./.medcite).",
    )(func)


def emit_json(obj: Any) -> None:
    """Print one JSON document on stdout."""
    click.echo(json.dumps(obj, ensure_ascii=False))


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn expected failures into a one-line message and the contract's exit status."""
    try:
        yield
    except MedciteError as exc:
        click.echo(f"medcite: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("medcite: interrupted", err=True)
        sys.exit(130)
    except (click.exceptions.Exit, click.ClickException, SystemExit):
        raise
    except Exception as exc:  # a bug: still one line for the user, details with -v
        logger.debug("internal error", exc_info=True)
        click.echo(
            f"medcite: internal error: {type(exc).__name__}: {exc} (run with -v for details)", err=True
        )
        if logging.getLogger().level <= logging.INFO:
            import traceback

            traceback.print_exc()
        sys.exit(1)


def open_store(data_dir: Path | None, command: str, **owner: Any) -> Any:
    """Open the store under the data dir (takes the data-dir lock)."""
    from ingest.settings import get_settings
    from ingest.store import Store

    settings = get_settings(data_dir)
    return Store(settings, owner={"command": command, **owner})


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-v info, -vv debug).")
@click.version_option(package_name="medcite")
def cli(verbose: int) -> None:
    """medcite: answers to clinical questions in which every statement cites its source sentence.

    \b
    Quick start:
      medcite ingest corpus/
      medcite ask "What dose of vitamin B12 is recommended for infants?"
      medcite serve            # web UI and API on http://127.0.0.1:8000
    """
    configure_logging(verbose)


# ---------------------------------------------------------------- ingest
@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--prune", is_flag=True, help="Remove stored documents whose source file is gone.")
@click.option("--json", "as_json", is_flag=True, help="Print the ingest summary as JSON.")
@data_dir_option
def ingest(paths: tuple[Path, ...], prune: bool, as_json: bool, data_dir: Path | None) -> None:
    """Ingest files or folders (.txt .md .html .htm .pdf .docx); unchanged files are skipped."""
    with user_errors():
        from tqdm import tqdm

        from ingest.pipeline import ingest_paths
        from qa_service.audit.drift import check_after_change

        with open_store(data_dir, "ingest") as store:
            report = ingest_paths(
                store,
                list(paths),
                prune=prune,
                progress_factory=lambda total: tqdm(
                    total=total,
                    unit="chunk",
                    desc="embedding",
                    file=sys.stderr,
                    disable=None if total > 50 else True,
                ),
            )
            drift = check_after_change(store.settings, store)  # logged answers citing changed text
        if drift is not None and drift.flagged:
            click.echo(
                f"medcite: the evidence of {len(drift.flagged)} logged answer(s) changed; "
                "`medcite audit recheck` asks them again",
                err=True,
            )
        if as_json:
            emit_json(report.model_dump())
        else:
            click.echo(
                f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
                f"removed {report.removed}; {report.chunks} chunks written"
            )
            for err in report.errors:
                click.echo(f"  skipped {err.source}: {err.error}", err=True)
        if report.errors and report.added + report.updated + report.unchanged == 0:
            click.echo("medcite: error: nothing could be ingested", err=True)
            sys.exit(1)


# ---------------------------------------------------------------- documents
@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@data_dir_option
@click.pass_context
def documents(ctx: click.Context, as_json: bool, data_dir: Path | None) -> None:
    """List ingested documents (``documents show DOC_ID`` prints one with its text)."""
    if ctx.invoked_subcommand is not None:
        ctx.ensure_object(dict)
        ctx.obj.update(as_json=as_json, data_dir=data_dir)
        return
    with user_errors():
        docs = _read_documents(data_dir)
        if as_json:
            emit_json({"documents": [d.public() for d in docs]})
            return
        if not docs:
            click.echo("no documents ingested: run `medcite ingest PATH`")
            return
        for d in docs:
            click.echo(f"{d.doc_id}  {d.source}  ({d.format}, {d.chars} chars, {d.chunks} chunks)")


@documents.command("show")
@click.argument("doc_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@data_dir_option
@click.pass_context
def documents_show(ctx: click.Context, doc_id: str, as_json: bool, data_dir: Path | None) -> None:
    """Print one document with its text."""
    as_json = as_json or ctx.obj.get("as_json", False)
    data_dir = data_dir or ctx.obj.get("data_dir")
    with user_errors():
        from ingest.docstore import DocumentStore
        from ingest.errors import NotFoundError
        from ingest.settings import get_settings

        # Reading document rows is safe beside a running server (SQLite WAL readers, or PostgreSQL).
        settings = get_settings(data_dir)
        store = DocumentStore(settings.data_dir, settings.database_url)
        try:
            doc = store.get_document(doc_id)
        finally:
            store.close()
        if doc is None:
            raise NotFoundError(f"no document with id {doc_id!r} (see `medcite documents`)")
        if as_json:
            emit_json(doc.public(with_text=True))
        else:
            click.echo(f"# {doc.title or doc.source}  [{doc.doc_id}]\n")
            click.echo(doc.text)


def _read_documents(data_dir: Path | None) -> list[Any]:
    from ingest.docstore import DocumentStore
    from ingest.settings import get_settings

    settings = get_settings(data_dir)
    if not settings.database_url and not (settings.data_dir / "documents.db").exists():
        return []
    store = DocumentStore(settings.data_dir, settings.database_url)
    try:
        return store.list_documents()
    finally:
        store.close()


# ---------------------------------------------------------------- search / ask
def _read_batch(path: Path) -> list[tuple[str, str]]:
    """JSON Lines ``{"id", "question"}``; a malformed line is a usage error naming it."""
    from ingest.errors import UsageError

    items: list[tuple[str, str]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read batch file {path}: {exc.strerror or exc}") from exc
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
        if not isinstance(obj, dict) or not isinstance(obj.get("question"), str):
            raise UsageError(f'{path}:{n}: expected an object with a "question" string')
        items.append((str(obj.get("id", n)), obj["question"]))
    return items


def _open_engine(data_dir: Path | None, command: str) -> Any:
    from ingest.settings import get_settings
    from qa_service.engine import Engine

    return Engine.open(get_settings(data_dir), owner={"command": command})


def _validate_k(k: int | None) -> None:
    from qa_service.engine import validate_k

    validate_k(k, 5)


@cli.command()
@click.argument("query", required=False)
@click.option("-k", "k", type=int, default=None, help="Number of passages (1-50, default 5).")
@click.option(
    "--batch",
    "batch",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON Lines file of {id, question}.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@data_dir_option
def search(
    query: str | None, k: int | None, batch: Path | None, as_json: bool, data_dir: Path | None
) -> None:
    """Show the passages that best match QUERY."""
    with user_errors():
        from ingest.errors import UsageError
        from qa_service.engine import validate_question

        if (query is None) == (batch is None):
            raise UsageError("give either QUERY or --batch FILE")
        _validate_k(k)
        items = _read_batch(batch) if batch else [("", validate_question(query or ""))]
        engine = _open_engine(data_dir, "search")
        try:
            for qid, q in items:
                result = engine.search(q, k)
                if batch:
                    emit_json(
                        {
                            "question_id": qid,
                            "query": result.query,
                            "passages": [p.model_dump() for p in result.passages],
                        }
                    )
                elif as_json:
                    emit_json(result.model_dump())
                else:
                    for i, p in enumerate(result.passages, 1):
                        where = (
                            f"{p.source}"
                            + (f" · {p.section}" if p.section else "")
                            + f" · chars {p.start}-{p.end}"
                        )
                        click.echo(f"[{i}] {where}  (score {p.score:.3f})")
                        click.echo("    " + p.text.replace("\n", "\n    ")[:600])
        finally:
            engine.close()


@cli.command()
@click.argument("question", required=False)
@click.option("-k", "k", type=int, default=None, help="Passages used as evidence (1-50).")
@click.option(
    "--batch",
    "batch",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON Lines file of {id, question}.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the Answer as JSON (JSON Lines with --batch).")
@click.option(
    "--generator",
    type=click.Choice(["extractive", "llm"]),
    default=None,
    help="Who writes the answer (default: the LLM when MEDCITE_LLM is set, else extractive).",
)
@data_dir_option
def ask(
    question: str | None,
    k: int | None,
    batch: Path | None,
    as_json: bool,
    generator: str | None,
    data_dir: Path | None,
) -> None:
    """Answer QUESTION with statements that cite their source sentences."""
    with user_errors():
        from ingest.errors import MedciteError, UsageError
        from qa_service.engine import validate_question

        if (question is None) == (batch is None):
            raise UsageError("give either QUESTION or --batch FILE")
        _validate_k(k)
        items = _read_batch(batch) if batch else [("", validate_question(question or ""))]
        engine = _open_engine(data_dir, "ask")
        failed = 0
        try:
            if generator == "llm":
                engine.generator_for("llm")  # no LLM configured: a usage error before any question
            for qid, q in items:
                try:
                    answer = engine.ask(q, k, question_id=qid if batch else None, generator=generator)
                except UsageError as exc:
                    if not batch:
                        raise
                    # one bad line must not lose the others: report it in place
                    failed += 1
                    emit_json({"question_id": qid, "question": q, "error": str(exc)})
                    continue
                if batch or as_json:
                    emit_json(answer.public())
                else:
                    click.echo(format_answer(answer))
        except MedciteError:
            raise
        finally:
            engine.close()
        if failed:
            sys.exit(1)


def format_answer(answer: Any) -> str:
    """The terminal rendering: answer text, then numbered sources with section and span."""
    lines = [f"Q: {answer.question}", "", answer.answer, ""]
    for c in answer.citations:
        where = (
            f"[{c.id}] {c.source}" + (f" · {c.section}" if c.section else "") + f" · chars {c.start}-{c.end}"
        )
        lines.append(where)
    lines.extend(_generation_notes(answer))
    return "\n".join(lines).rstrip()


def _generation_notes(answer: Any) -> list[str]:
    """Who wrote an LLM answer, and what the citation check dropped (reviewers want to see it)."""
    fallback = getattr(answer, "fallback", None)
    dropped = list(
        getattr(answer, "dropped_statements", []) or (fallback.dropped_statements if fallback else [])
    )
    lines: list[str] = []
    if answer.generator != "extractive":
        lines += ["", f"Written by {answer.generator}; every statement passed the citation check."]
    if fallback is not None:
        lines += ["", f"{fallback.generator} was asked, but its answer is not shown: {fallback.reason}."]
    if dropped:
        lines.append(f"Dropped by the citation check ({len(dropped)}):")
        for d in dropped:
            cited = f" (cited evidence {', '.join(map(str, d.citations))})" if d.citations else ""
            lines.append(f"  - {d.text}{cited} — {d.reason}")
    return lines


# ---------------------------------------------------------------- serve
@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="API worker processes (more than 1 needs MEDCITE_DATABASE_URL and MEDCITE_CHROMA_URL).",
)
@data_dir_option
def serve(host: str, port: int, workers: int, data_dir: Path | None) -> None:
    """Serve the HTTP API and the web UI."""
    with user_errors():
        from qa_service.api.server import run

        run(host=host, port=port, data_dir=data_dir, workers=workers)


def main() -> None:
    """Console-script entry point."""
    _register_optional_commands()
    cli(prog_name="medcite")


def _register_optional_commands() -> None:
    """eval and quiz live in their own modules (they import only click at module level)."""
    import importlib

    for module, name in (
        ("eval.cli", "eval_command"),
        ("qa_service.quiz.cli", "quiz_command"),
        ("qa_service.audit_cli", "audit_command"),
    ):
        try:
            command = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):  # not built yet
            continue
        cli.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    main()
