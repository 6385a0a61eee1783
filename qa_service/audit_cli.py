"""``medcite audit``: the audit log from the command line (``audit recheck``).

Outside the ``qa_service.audit`` package, whose import loads SQLAlchemy: ``medcite --help`` stays instant.
"""

from __future__ import annotations

from pathlib import Path

import click

from qa_service.cli import data_dir_option, emit_json, user_errors


@click.group("audit")
def audit_command() -> None:
    """The audit log of served answers (review status, evidence drift)."""


@audit_command.command("recheck")
@click.option("--id", "answer_ids", multiple=True, help="Recheck only this answer (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines, one object per changed answer.")
@data_dir_option
def recheck_command(answer_ids: tuple[str, ...], as_json: bool, data_dir: Path | None) -> None:
    """Ask again every logged question whose cited evidence changed, and show what changed.

    Each line: {"id", "before", "after", "statements_added", "statements_removed", "new_conflicts",
    "changed_citations", "citations_moved"}. The old answer's history notes the recheck.
    """
    with user_errors():
        from ingest.settings import get_settings
        from qa_service.audit import AuditLog
        from qa_service.audit.drift import check_drift
        from qa_service.audit.recheck import compare, summary
        from qa_service.engine import Engine

        settings = get_settings(data_dir)
        engine = Engine.open(settings, owner={"command": "audit recheck"})
        try:
            audit = AuditLog.open(settings)
            try:
                check_drift(audit, engine.store)  # catch a change no check has seen yet
                ids = list(answer_ids) or audit.evidence_changed_ids()
                asked: dict[str, object] = {}  # identical questions are asked once
                for answer_id in ids:
                    record = audit.get(answer_id)
                    after = asked.get(record.question)
                    if after is None:
                        after = asked[record.question] = engine.ask(record.question)
                    result = compare(record, after, engine.store)  # type: ignore[arg-type]
                    audit.add_event(answer_id, event="recheck", comment=summary(result), role="cli")
                    if as_json:
                        emit_json(result)
                    else:
                        click.echo(_human(result))
                if not ids and not as_json:
                    click.echo("no logged answer has changed evidence")
            finally:
                audit.close()
        finally:
            engine.close()


def _human(result: dict[str, object]) -> str:
    before = result["before"]
    assert isinstance(before, dict)
    lines = [f"answer {result['id']}: {before.get('question')}"]
    for label, key in (
        ("+", "statements_added"),
        ("-", "statements_removed"),
        ("! new conflict:", "new_conflicts"),
    ):
        for text in result[key]:  # type: ignore[attr-defined]
            lines.append(f"  {label} {text}")
    if len(lines) == 1:
        lines.append("  the answer's statements are unchanged")
    return "\n".join(lines)
