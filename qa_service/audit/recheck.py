"""Ask a logged question again on the current corpus and say what changed.

Used by ``POST /v1/answers/{id}/recheck`` and ``medcite audit recheck``. The result is the
contract's ``{"id", "before", "after", "statements_added", "statements_removed", "new_conflicts"}``
plus ``changed_citations`` (from the drift check) and ``citations_moved`` (cited text that is still
in its document, at other offsets).
"""

from __future__ import annotations

from typing import Any

from ingest.store import Store
from qa_service.audit.drift import locate
from qa_service.audit.repository import AuditRecord
from qa_service.models import Answer


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def compare(record: AuditRecord, after: Answer, store: Store) -> dict[str, Any]:
    """The recheck object for ``record`` (as served) and ``after`` (the question asked again)."""
    before = record.answer
    after_json = after.public()
    before_texts = [s["text"] for s in before.get("statements", [])]
    after_texts = [s.text for s in after.statements]
    before_seen = {_norm(t) for t in before_texts}
    after_seen = {_norm(t) for t in after_texts}
    old_conflicts = {_norm(c["description"]) for c in before.get("conflicts", [])}
    moved = []
    texts: dict[str, str | None] = {}
    for c in before.get("citations", []):
        doc_id = c["doc_id"]
        if doc_id not in texts:
            doc = store.docs.get_document(doc_id)
            texts[doc_id] = doc.text if doc is not None else None
        found = locate(c, texts[doc_id])
        if found is not None and found != (c["start"], c["end"]):
            moved.append(
                {
                    "id": c["id"],
                    "start": c["start"],
                    "end": c["end"],
                    "new_start": found[0],
                    "new_end": found[1],
                }
            )
    return {
        "id": record.id,
        "before": before,
        "after": after_json,
        "statements_added": [t for t in after_texts if _norm(t) not in before_seen],
        "statements_removed": [t for t in before_texts if _norm(t) not in after_seen],
        "new_conflicts": [
            c.description for c in after.conflicts if _norm(c.description) not in old_conflicts
        ],
        "changed_citations": list(record.changed_citations),
        "citations_moved": moved,
    }


def summary(result: dict[str, Any]) -> str:
    """One line for the answer's history."""
    parts = [
        f"{len(result['statements_added'])} statement(s) added",
        f"{len(result['statements_removed'])} removed",
    ]
    if result["new_conflicts"]:
        parts.append(f"{len(result['new_conflicts'])} new conflict(s)")
    if result["after"].get("abstained"):
        parts.append("the new answer abstains")
    return f"asked again on the current documents (new answer {result['after']['id']}): " + ", ".join(parts)
