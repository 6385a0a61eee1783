"""Ingest pipeline against the real model and a real Chroma store: idempotency, update, prune,
bad files, crash safety and the one-owner lock."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.pipeline import ingest_paths
from ingest.settings import get_settings
from ingest.store import Store
from tests.conftest import CORPUS, REPO

PARAGRAPH = (
    "Vitamin B12 deficiency in infants presents with hypotonia, lethargy and developmental regression. "
    "Treatment with intramuscular hydroxocobalamin leads to rapid improvement of muscle tone. "
)


@pytest.fixture
def store(tmp_path: Path, embedder) -> Store:  # type: ignore[no-untyped-def]
    s = Store(get_settings(tmp_path / "data"), embedder=embedder)
    yield s
    s.close()


def snapshot(store: Store) -> dict[str, object]:
    """Everything that must be identical between two stores built from the same files."""
    docs = sorted((d.doc_id, d.source, d.chars, d.chunks) for d in store.list_documents())
    chunk_ids = store.docs.chunk_ids()
    return {
        "docs": docs,
        "chunks": sorted(chunk_ids),
        "vectors": sorted(store.vectors.all_ids()),
        "vector_count": store.vectors.count(),
    }


def write_docs(folder: Path, n: int, paragraphs: int = 2) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        body = "\n\n".join(f"Paragraph {j} of note {i}. {PARAGRAPH * 3}" for j in range(paragraphs))
        (folder / f"note-{i:03d}.txt").write_text(f"Clinical note {i}\n\n{body}\n", encoding="utf-8")


def test_ingest_corpus_then_again_is_a_no_op(store: Store) -> None:
    first = ingest_paths(store, [CORPUS])
    assert (first.added, first.updated, first.unchanged, first.errors) == (2, 0, 0, [])
    assert first.chunks == store.docs.counts()[1] > 0
    before = snapshot(store)
    second = ingest_paths(store, [CORPUS])
    assert (second.added, second.updated, second.unchanged, second.chunks) == (0, 0, 2, 0)
    assert snapshot(store) == before
    assert before["chunks"] == before["vectors"]


def test_sources_are_relative_to_the_folder_and_readme_is_skipped(store: Store) -> None:
    ingest_paths(store, [CORPUS])
    sources = {d.source for d in store.list_documents()}
    assert sources == {"b12-infant-case-report.txt", "b12-under-2-treatment-answer.txt"}


def test_every_stored_chunk_is_exactly_addressable(store: Store) -> None:
    ingest_paths(store, [CORPUS])
    for doc in store.list_documents():
        text = store.get_document(doc.doc_id).text
        chunks = store.docs.document_chunks(doc.doc_id)
        assert len(chunks) == doc.chunks
        for ch in chunks:
            assert text[ch.start : ch.end] == ch.text


def test_changed_file_is_replaced(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_docs(folder, 2)
    ingest_paths(store, [folder])
    old_chunks = store.docs.chunk_ids()
    target = folder / "note-001.txt"
    target.write_text(
        "Clinical note 1\n\nFolate deficiency causes megaloblastic anaemia in goats.\n", encoding="utf-8"
    )
    report = ingest_paths(store, [folder])
    assert (report.added, report.updated, report.unchanged) == (0, 1, 1)
    new_chunks = store.docs.chunk_ids()
    doc = next(d for d in store.list_documents() if d.source == "note-001.txt")
    assert "goats" in store.get_document(doc.doc_id).text
    assert store.vectors.all_ids() == new_chunks  # the old version's vectors are gone
    assert old_chunks - new_chunks  # some old chunk ids were retired
    hits = store.lexical_search("goats megaloblastic", 3)
    assert hits and hits[0][0].doc_id == doc.doc_id


def test_prune_removes_documents_whose_file_is_gone(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_docs(folder, 3)
    ingest_paths(store, [folder])
    (folder / "note-002.txt").unlink()
    kept = ingest_paths(store, [folder])
    assert kept.removed == 0 and store.docs.counts()[0] == 3  # without --prune nothing is removed
    pruned = ingest_paths(store, [folder], prune=True)
    assert pruned.removed == 1
    assert {d.source for d in store.list_documents()} == {"note-000.txt", "note-001.txt"}
    assert store.vectors.all_ids() == store.docs.chunk_ids()
    assert all(row.source != "note-002.txt" for row, _ in store.lexical_search("note 2 paragraph", 20))


def test_bad_files_are_reported_and_the_rest_ingested(store: Store, tmp_path: Path) -> None:
    ingest_paths(store, [CORPUS])
    kept = snapshot(store)
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.md").write_text(
        "# Dosing\n\nGive 1 mg hydroxocobalamin three times weekly.\n", encoding="utf-8"
    )
    (folder / "empty.txt").write_bytes(b"")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf \x00\x01\x02")
    (folder / "broken.docx").write_bytes(b"PK\x03\x04 not a zip")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n")
    report = ingest_paths(store, [folder, tmp_path / "does-not-exist"])
    errors = {e.source: e.error for e in report.errors}
    assert report.added == 1
    assert set(errors) == {
        "empty.txt",
        "broken.pdf",
        "broken.docx",
        "image.png",
        str(tmp_path / "does-not-exist"),
    }
    assert "empty" in errors["empty.txt"]
    assert "PDF" in errors["broken.pdf"]
    assert "DOCX" in errors["broken.docx"]
    assert "unsupported" in errors["image.png"]
    assert "no such file" in errors[str(tmp_path / "does-not-exist")]
    # nothing already stored was touched
    after = snapshot(store)
    assert set(kept["docs"]) <= set(after["docs"])  # type: ignore[arg-type]
    assert set(kept["chunks"]) <= set(after["chunks"])  # type: ignore[arg-type]


def test_a_second_process_is_refused_while_the_store_is_open(store: Store, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "qa_service.cli", "ingest", str(CORPUS), "--data-dir", str(store.data_dir)],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
    )
    assert proc.returncode == 1
    assert "in use by" in proc.stderr and "Traceback" not in proc.stderr


def _run_ingest(folder: Path, data_dir: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "MEDCITE_DATA_DIR": str(data_dir)}
    return subprocess.Popen(
        [sys.executable, "-m", "qa_service.cli", "ingest", str(folder), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env,
    )


def _committed_documents(data_dir: Path) -> int:
    db = data_dir / "documents.db"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            return int(conn.execute("select count(*) from documents").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_kill_minus_nine_mid_ingest_then_rerun_equals_one_clean_run(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "docs"
    write_docs(folder, 60, paragraphs=4)  # several encode groups: the kill lands between commits
    crashed = tmp_path / "crashed"
    proc = _run_ingest(folder, crashed)
    deadline = time.time() + 240
    while _committed_documents(crashed) == 0 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "ingest finished before it could be interrupted: " + proc.stderr.read()[-500:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    partial = _committed_documents(crashed)
    assert 0 < partial < 60

    rerun = _run_ingest(folder, crashed)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err[-2000:]
    summary = json.loads(out)
    assert summary["added"] == 60 - partial and summary["unchanged"] == partial

    clean = Store(get_settings(tmp_path / "clean"), embedder=embedder)
    try:
        ingest_paths(clean, [folder])
        expected = snapshot(clean)
    finally:
        clean.close()
    recovered = Store(get_settings(crashed), embedder=embedder)
    try:
        got = snapshot(recovered)
        doc_ids = [d[0] for d in got["docs"]]  # type: ignore[union-attr]
        # doc ids hash the absolute path, which is the same for both runs
        assert got == expected
        assert len(doc_ids) == len(set(doc_ids)) == 60
        # no vector without a row, no row without a vector, no duplicates in search
        hits = recovered.dense_search(recovered.embedder.encode(["hypotonia treatment"])[0], 50)
        assert len({row.chunk_id for row, _ in hits}) == len(hits)
    finally:
        recovered.close()


def test_collection_uses_our_embedding_function_and_cosine_space(store: Store) -> None:
    ingest_paths(store, [CORPUS])
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    raw = chromadb.PersistentClient(
        path=str(store.data_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    config = raw.get_collection(store.collection_name).configuration
    assert config["hnsw"]["space"] == "cosine"
    assert config["embedding_function"].name() == "medcite_sentence_transformer"
    # a text query through Chroma's own API embeds with our model (no download of its default ONNX model)
    col = raw.get_collection(store.collection_name)
    hits = col.query(query_texts=["hydroxocobalamin three times weekly"], n_results=1)
    assert hits["ids"][0] and hits["ids"][0][0] in store.docs.chunk_ids()


def test_changing_chunking_never_reuses_the_old_index(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    first = Store(get_settings(data), embedder=embedder)
    try:
        ingest_paths(first, [CORPUS])
        old_name, old_chunks = first.collection_name, first.docs.chunk_ids()
    finally:
        first.close()
    second = Store(get_settings(data, chunking={"chunk_size": 600, "chunk_overlap": 0}), embedder=embedder)
    try:
        assert second.collection_name != old_name
        assert second.vectors.count() == 0  # the new fingerprint starts from an empty collection
        report = ingest_paths(second, [CORPUS])
        assert report.updated == 2 and report.unchanged == 0  # re-chunked, not skipped
        assert second.docs.chunk_ids() != old_chunks
        assert second.vectors.all_ids() == second.docs.chunk_ids()
    finally:
        second.close()


def test_two_data_dirs_never_share_a_collection(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    a = Store(get_settings(tmp_path / "a"), embedder=embedder)
    b = Store(get_settings(tmp_path / "b"), embedder=embedder)
    try:
        assert a.fingerprint == b.fingerprint and a.collection_name != b.collection_name
    finally:
        a.close()
        b.close()
