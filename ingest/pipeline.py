"""Ingest: paths -> documents -> chunks -> vectors + rows -> IngestReport.

Crash safety (``kill -9`` at any point, then the same ingest again, gives the
store of one clean run):
1. vectors are upserted first under deterministic ids (doc id, content hash, index);
2. the document and its chunk rows are then replaced in ONE SQLite transaction;
3. the vectors of the old version are deleted afterwards.
Search only serves chunks that have a row, so vectors from an interrupted step 1
or 3 are invisible, and the next ingest deletes them (``Store.collect_garbage``).
The lexical index carries the store generation it reflects and is rebuilt when
stale. Embedding happens before any write transaction is opened.

A whole run holds the store's write lock (``Store.writing``): on shared services
a second ingest (another CLI, an upload to any API worker) waits for it, so two
runs never garbage-collect each other's vectors or interleave replacements.
"""

from __future__ import annotations

import hashlib
import logging
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ingest.chunking import chunk_document, split_sentences
from ingest.docstore import SentenceVectors, StoredDoc
from ingest.errors import LoaderError
from ingest.loaders import SUPPORTED_SUFFIXES, load_document, read_file
from ingest.models import Chunk, Document, IngestFileError, IngestReport, SourceDocument
from ingest.store import Store

logger = logging.getLogger(__name__)

# A sentence's pooled vector is kept only when the chunk it came from showed the model
# this share of its characters (the rest of a sentence cut by a chunk edge or the
# model's token limit); other sentences are encoded on their own.
SENTENCE_MIN_COVER = 0.8

# Encode this many chunks per model call across documents: big batches keep the
# model busy (per-document calls on short documents measured ~15% slower).
ENCODE_GROUP = 256

class Progress(Protocol):
    """The part of a progress bar (tqdm) that ingest uses."""

    def update(self, n: int) -> object: ...
    def close(self) -> object: ...


@dataclass
class _Pending:
    doc: SourceDocument
    doc_id: str
    chunks: list[Chunk]
    is_update: bool


def make_doc_id(path: Path) -> str:
    """Readable and stable: the file stem plus a hash of the absolute path."""
    stem = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")[:48] or "doc"
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
    return f"{stem}-{digest}"


def discover(paths: Sequence[Path]) -> tuple[list[tuple[Path, str]], list[IngestFileError]]:
    """Expand files and folders (recursively) into (file, source) pairs.

    ``source`` is the path relative to the folder given (the file name for a
    single file). In folders, hidden files and ``README.*`` (a folder's notes
    about itself, such as corpus/README.md) are skipped.
    """
    found: list[tuple[Path, str]] = []
    errors: list[IngestFileError] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_file():
            found.append((path.resolve(), path.name))
        elif path.is_dir():
            root = path.resolve()
            for file in sorted(p for p in root.rglob("*") if p.is_file()):
                rel = file.relative_to(root)
                if any(part.startswith(".") for part in rel.parts) or file.name.lower().startswith("readme."):
                    continue
                found.append((file, rel.as_posix()))
        else:
            errors.append(IngestFileError(source=str(raw), error="no such file or folder"))
    seen: set[Path] = set()
    unique = [(f, s) for f, s in found if not (f in seen or seen.add(f))]
    return unique, errors


def ingest_paths(
    store: Store,
    paths: Sequence[Path],
    *,
    prune: bool = False,
    progress_factory: Callable[[int], Progress] | None = None,
) -> IngestReport:
    """Ingest files and folders into ``store``; see the module docstring for guarantees."""
    with store.writing():
        return _ingest_locked(store, paths, prune=prune, progress_factory=progress_factory)


def _ingest_locked(
    store: Store,
    paths: Sequence[Path],
    *,
    prune: bool,
    progress_factory: Callable[[int], Progress] | None,
) -> IngestReport:
    report = IngestReport()
    files, errors = discover(paths)
    report.errors.extend(errors)
    store.collect_garbage()
    stored = store.docs.stored_docs()
    identity = _Identity(stored, store.docs.list_documents())
    fingerprint = store.fingerprint
    chunking = store.settings.chunking
    limits = store.settings.ingest_limits

    pending: list[_Pending] = []
    for file, source in files:
        if file.suffix.lower() not in SUPPORTED_SUFFIXES:
            report.errors.append(
                IngestFileError(
                    source=source,
                    error=f"unsupported file type '{file.suffix or file.name}' (supported: {', '.join(sorted(SUPPORTED_SUFFIXES))})",
                )
            )
            continue
        try:
            old = identity.stored_for(file, source)
        except LoaderError as exc:
            report.errors.append(IngestFileError(source=source, error=str(exc)))
            continue
        try:
            raw = read_file(file, limits)  # refused before reading when over the size limit
        except LoaderError as exc:
            report.errors.append(IngestFileError(source=source, error=str(exc)))
            continue
        raw_hash = hashlib.sha256(raw).hexdigest()
        if old is not None and old.content_hash == raw_hash and old.fingerprint == fingerprint:
            identity.claim(file, source, old)
            report.unchanged += 1
            continue
        try:
            doc = load_document(file, source, limits=limits, raw=raw)
        except LoaderError as exc:
            report.errors.append(IngestFileError(source=source, error=str(exc)))
            continue
        except Exception as exc:  # a loader bug must not stop the other files
            logger.exception("unexpected loader failure")
            report.errors.append(IngestFileError(source=source, error=f"could not read this file ({type(exc).__name__})"))
            continue
        doc_id = old.doc_id if old is not None else make_doc_id(file)
        chunks = chunk_document(doc, doc_id, chunking.chunk_size, chunking.chunk_overlap)
        if not chunks:
            report.errors.append(IngestFileError(source=source, error="no text found"))
            continue
        identity.claim(file, source, old)
        pending.append(_Pending(doc, doc_id, chunks, old is not None))

    total_chunks = sum(len(p.chunks) for p in pending)
    bar = progress_factory(total_chunks) if progress_factory else None
    changed = False
    for group in _groups(pending, ENCODE_GROUP):
        texts = [ch.text for p in group for ch in p.chunks]
        vectors, sentence_vectors = _encode(store.embedder, group, texts)
        # One upsert for the whole group (per-document calls cost ~15% of ingest time);
        # vectors still precede the rows that make them visible.
        store.vectors.upsert(
            [ch.chunk_id for p in group for ch in p.chunks],
            vectors,
            [{"doc_id": p.doc_id, "start": ch.start, "end": ch.end, "section": ch.section} for p in group for ch in p.chunks],
        )  # no texts: Chroma would full-text index them for nothing (see ChromaVectorIndex.upsert)
        for p in group:
            n = len(p.chunks)
            replaced = store.docs.replace_document(
                p.doc_id, p.doc, p.chunks, fingerprint, sentence_vectors.get(p.doc_id)
            )
            if replaced:
                store.vectors.delete(replaced)
            changed = True
            report.chunks += n
            if p.is_update:
                report.updated += 1
            else:
                report.added += 1
            if bar:
                bar.update(n)
    if bar:
        bar.close()

    if prune:
        gone = [d.doc_id for path, d in store.docs.stored_docs().items() if not Path(path).exists()]
        if gone:
            store.vectors.delete(store.docs.delete_documents(gone))
            report.removed = len(gone)
            changed = True

    if changed or (not store.services and not store.lexical_dir.exists()):
        store.after_write()
    return report


class _Identity:
    """Which stored document a file is: the one at its path, else the one with its ``source``.

    The same ``source`` is the same document, whichever door it came in by: a file
    uploaded through the API (kept under ``DATA_DIR/uploads``) replaces the document that
    ``medcite ingest corpus/`` stored under that name, and the other way round. Within one
    run a document is written once: a second file that would be the same document (two
    folders each holding ``notes.md``, say) is reported instead of silently replacing the
    first. A store holding several documents of one source (written before this rule) keeps
    them; a new file of that source is refused as ambiguous rather than guessed.
    """

    def __init__(self, stored: dict[str, StoredDoc], documents: Sequence[Document]) -> None:
        self._by_path = stored
        by_id = {d.doc_id: d for d in stored.values()}
        self._by_source: dict[str, list[StoredDoc]] = {}
        for document in documents:
            if document.doc_id in by_id:
                self._by_source.setdefault(document.source, []).append(by_id[document.doc_id])
        self._claimed: dict[str, Path] = {}

    def stored_for(self, file: Path, source: str) -> StoredDoc | None:
        """The stored document this file replaces (None: a new one); LoaderError when taken or ambiguous."""
        old = self._by_path.get(str(file))
        if old is None:
            same = self._by_source.get(source, [])
            if len(same) > 1:
                ids = ", ".join(sorted(d.doc_id for d in same))
                raise LoaderError(
                    f"{len(same)} stored documents already have the source name '{source}' ({ids}); "
                    "delete the ones you no longer want, then ingest this file again"
                )
            old = same[0] if same else None
        taken = self._claimed.get(self._key(source, old))
        if taken is not None and taken != file:
            raise LoaderError(
                f"same source name as {taken} in this ingest; one name is one document, "
                "so ingest them from a common folder (their relative paths then differ) or rename one"
            )
        return old

    def claim(self, file: Path, source: str, old: StoredDoc | None) -> None:
        """Record that ``file`` is this run's version of its document."""
        self._claimed[self._key(source, old)] = file

    @staticmethod
    def _key(source: str, old: StoredDoc | None) -> str:
        return f"doc:{old.doc_id}" if old is not None else f"new:{source}"


def _encode(embedder: object, group: list[_Pending], texts: list[str]) -> tuple[np.ndarray, dict[str, SentenceVectors]]:
    """Chunk vectors, and (when the embedder can pool spans) each document's sentence vectors."""
    if not hasattr(embedder, "encode_with_spans"):
        return embedder.encode(texts), {}  # type: ignore[attr-defined]
    per_chunk: list[list[tuple[int, int]]] = []
    layout: list[tuple[_Pending, list[list[tuple[int, int]]]]] = []  # per document: each chunk's sentences
    for p in group:
        doc_spans = split_sentences(p.doc.text, 0)  # sorted, not overlapping
        starts, ends = [s for s, _ in doc_spans], [e for _, e in doc_spans]
        inside = [doc_spans[bisect_right(ends, ch.start) : bisect_left(starts, ch.end)] for ch in p.chunks]
        layout.append((p, inside))
        for ch, spans in zip(p.chunks, inside):
            per_chunk.append([(max(s, ch.start) - ch.start, min(e, ch.end) - ch.start) for s, e in spans])
    vectors, pooled = embedder.encode_with_spans(texts, per_chunk)  # type: ignore[attr-defined]
    # per document: every sentence some chunk overlaps -> (share of it the model saw, vector)
    best: list[dict[tuple[int, int], tuple[float, np.ndarray | None]]] = []
    chunk_pools = iter(pooled)
    for _p, inside in layout:
        doc_best: dict[tuple[int, int], tuple[float, np.ndarray | None]] = {}
        for spans_of_chunk in inside:
            got = next(chunk_pools)
            for j, (s, e) in enumerate(spans_of_chunk):
                cover = float(got.seen[j]) / max(e - s, 1)
                if cover > doc_best.get((s, e), (-1.0, None))[0]:
                    doc_best[(s, e)] = (cover, got.vectors[j])
        best.append(doc_best)
    # Sentences no chunk showed the model whole enough (past its token limit): encoded on their
    # own (measured: 0.4% of the sentences of the 20k-chunk benchmark store, 3% of their text).
    rest = [(i, sp) for i, doc_best in enumerate(best) for sp, (cover, _) in doc_best.items() if cover < SENTENCE_MIN_COVER]
    if rest:
        extra = embedder.encode([layout[i][0].doc.text[s:e] for i, (s, e) in rest])  # type: ignore[attr-defined]
        for (i, sp), vec in zip(rest, extra):
            best[i][sp] = (1.0, vec)
    out: dict[str, SentenceVectors] = {}
    for (p, _inside), doc_best in zip(layout, best):
        spans = sorted(doc_best)
        out[p.doc_id] = SentenceVectors(spans=spans, vectors=np.stack([doc_best[sp][1] for sp in spans]) if spans else None)
    return vectors, out


def _groups(items: Iterable[_Pending], size: int) -> Iterable[list[_Pending]]:
    group: list[_Pending] = []
    count = 0
    for item in items:
        group.append(item)
        count += len(item.chunks)
        if count >= size:
            yield group
            group, count = [], 0
    if group:
        yield group
