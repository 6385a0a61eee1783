"""Evidence drift: answers whose cited text changed or vanished when a document was updated or deleted.

``ingest`` knows nothing of answers, so the audit side finds the changes itself, from the store:
each logged answer keeps, per cited document, the document's content hash as the answer saw it
(``audit_cited_docs``). :func:`check_drift` compares those with the store's current hashes and reads
only the answers whose documents differ. A citation still stands when its text is still in the
document, at its offsets or moved elsewhere (whitespace aside); otherwise it changed (document
updated) or vanished (document deleted), and the answer is flagged (an approved one goes back to
the review queue; see :meth:`AuditLog.mark_evidence_changed`).

Every path that changes documents calls it afterwards: ``medcite ingest`` (also ``--prune``), and
the API's upload and delete. The server also runs it at start-up, which catches a change made while
no audit log was reachable, and marking is idempotent, so running it twice is harmless.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ingest.errors import NotFoundError
from ingest.settings import Settings
from ingest.store import Store
from qa_service.audit.repository import AuditLog, default_database_url
from qa_service.models import Answer

logger = logging.getLogger(__name__)

DELETED = "deleted"  # the hash recorded once a cited document is gone (a re-added one differs again)


@dataclass
class DriftReport:
    """What one check found."""

    checked: int = 0  # (answer, document) pairs re-read
    flagged: list[str] = field(default_factory=list)  # answers newly marked evidence_changed


def current_hashes(store: Store) -> dict[str, str]:
    """Every stored document's content hash, by doc id."""
    return {d.doc_id: d.content_hash for d in store.docs.stored_docs().values()}


def cited_hashes(store: Store, answer: Answer) -> dict[str, str]:
    """The content hashes of the documents ``answer`` cites, as they are now (call it with the answer)."""
    current = current_hashes(store)
    return {c.doc_id: current[c.doc_id] for c in answer.citations if c.doc_id in current}


def _squash(text: str) -> str:
    return " ".join(text.split())


def locate(citation: dict[str, Any], text: str | None) -> tuple[int, int] | None:
    """Where the cited text is in ``text`` now: its old span, the nearest exact occurrence, or None.

    A span found only after collapsing whitespace (a re-wrapped line) counts as present; its
    offsets are then the old ones (the page re-finds the text when it highlights it).
    """
    if text is None:
        return None
    quote, start, end = citation["text"], citation["start"], citation["end"]
    if text[start:end] == quote:
        return start, end
    hits: list[int] = []
    at = text.find(quote)
    while at != -1 and len(hits) < 50:
        hits.append(at)
        at = text.find(quote, at + 1)
    if hits:
        best = min(hits, key=lambda h: abs(h - start))
        return best, best + len(quote)
    if quote.strip() and _squash(quote) in _squash(text):
        return start, end
    return None


def check_drift(audit: AuditLog, store: Store) -> DriftReport:
    """Flag every logged answer whose cited spans changed or vanished since it was served."""
    report = DriftReport()
    current = current_hashes(store)
    by_doc: dict[str, list[str]] = defaultdict(list)
    for answer_id, doc_id in audit.stale_citations(current):
        by_doc[doc_id].append(answer_id)
    for doc_id, answer_ids in by_doc.items():
        doc = store.docs.get_document(doc_id)
        text = doc.text if doc is not None else None
        new_hash = current.get(doc_id, DELETED)
        for answer_id in answer_ids:
            report.checked += 1
            try:
                record = audit.get(answer_id)
            except NotFoundError:  # removed from the log meanwhile: nothing to flag
                logger.debug("answer gone before its drift check", extra={"answer_id": answer_id})
                continue
            cited = [c for c in record.answer.get("citations", []) if c.get("doc_id") == doc_id]
            changed = [int(c["id"]) for c in cited if locate(c, text) is None]
            if not changed:
                audit.settle_citation(answer_id, doc_id, new_hash)
                continue
            label = (doc.source if doc is not None else None) or (cited[0].get("source") or doc_id)
            if audit.mark_evidence_changed(
                answer_id,
                doc_id=doc_id,
                document=label,
                citations=changed,
                content_hash=new_hash,
                how="deleted" if text is None else "updated",
            ):
                report.flagged.append(answer_id)
    if report.flagged:
        logger.warning(
            "evidence changed for logged answers",
            extra={"answers": len(report.flagged), "documents": len(by_doc)},
        )
    return report


def check_after_change(settings: Settings, store: Store) -> DriftReport | None:
    """Run the check against the settings' audit log, if there is one (the CLI's ingest calls this).

    No audit database yet means no answer was ever logged: nothing to check, nothing created.
    """
    if settings.database_url is None and not (settings.data_dir / "audit.db").exists():
        return None
    audit = AuditLog(default_database_url(settings))
    try:
        return check_drift(audit, store)
    finally:
        audit.close()
