"""medcite ingest layer: files -> normalised documents -> chunks -> store.

Nothing here knows about answering; ``qa_service`` reads the store through the
interfaces in :mod:`ingest.store`.
"""
