"""The document store's Alembic migrations: a new store, a store written before migrations, PostgreSQL SQL."""

from __future__ import annotations

import io
import sqlite3
import tarfile
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from ingest.docstore import DocumentStore, metadata
from ingest.errors import StoreError
from ingest.migrate import VERSION_TABLE, alembic_config, current_revision, head_revision, upgrade
from ingest.settings import get_settings
from ingest.store import Store

DATA = Path(__file__).parent / "data"
# Written by medcite before the store had migrations (commit e3cf108): one Markdown document
# (store-v1-source.md), its chunk, sentence vectors, Chroma collection and bm25s folder.
LEGACY_STORE = DATA / "store-v1.tar.gz"
LEGACY_STORE_ID = "95be75ce3ca9459387589aacf1026c13"


def legacy_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "legacy"
    with tarfile.open(LEGACY_STORE) as tar:
        tar.extractall(folder, filter="data")
    return folder


def test_a_new_store_is_at_head_and_matches_the_tables_in_code(tmp_path: Path) -> None:
    docs = DocumentStore(tmp_path)
    try:
        assert current_revision(docs.engine) == head_revision()
        own = set(metadata.tables)
        with docs.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_name": lambda n, t, _: t != "table" or n in own}
            )
            assert compare_metadata(context, metadata) == []
        assert docs.generation() == 0 and len(docs.store_id()) == 32
    finally:
        docs.close()


def test_a_store_written_before_migrations_is_upgraded_and_keeps_everything(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    data_dir = legacy_copy(tmp_path)
    raw = sqlite3.connect(data_dir / "documents.db")
    before_docs = raw.execute("SELECT doc_id, text, sections, content_hash FROM documents").fetchall()
    before_chunks = raw.execute("SELECT chunk_id, start, \"end\", text FROM chunks").fetchall()
    before_vectors = raw.execute("SELECT doc_id, spans, vectors FROM sentence_vectors").fetchall()
    assert raw.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("1",)
    raw.close()

    store = Store(get_settings(data_dir), embedder=embedder)
    try:
        assert current_revision(store.docs.engine) == head_revision()
        assert store.docs.store_id() == LEGACY_STORE_ID  # so the same Chroma collection is found
        assert store.docs.generation() == 1  # the counter moved to its new table
        (doc,) = store.list_documents()
        assert (doc.doc_id, store.get_document(doc.doc_id).text) == (before_docs[0][0], before_docs[0][1])
        rows = store.docs.document_chunks(doc.doc_id)
        assert [(r.chunk_id, r.start, r.end, r.text) for r in rows] == before_chunks
        evidence = store.docs.evidence([doc.doc_id])[doc.doc_id]
        assert len(evidence.sentence_vectors) == len(__import__("json").loads(before_vectors[0][1])) > 0
        assert store.vectors.count() == len(before_chunks)  # the old collection, not a new empty one
        vector = embedder.encode(["elemental iron dose for infants"])[0]
        assert store.dense_search(vector, 1)[0][0].chunk_id == before_chunks[0][0]
        assert store.lexical_search("ferritin", 1)[0][0].doc_id == doc.doc_id
    finally:
        store.close()
    raw = sqlite3.connect(data_dir / "documents.db")
    try:
        # an older medcite opening this store now refuses it (it checks this value) instead of misreading it
        assert raw.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("2",)
    finally:
        raw.close()


def test_upgrading_twice_and_down_and_up_again_keeps_the_rows(tmp_path: Path) -> None:
    data_dir = legacy_copy(tmp_path)
    docs = DocumentStore(data_dir)
    try:
        upgrade(docs.engine)  # idempotent
        config = alembic_config()
        with docs.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0001")
        assert current_revision(docs.engine) == "0001"
        upgrade(docs.engine)
        assert docs.generation() == 1 and docs.counts() == (1, 1)
    finally:
        docs.close()


def test_store_migrations_render_for_postgresql_in_their_own_version_table() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        command.upgrade(alembic_config("postgresql://medcite@db.invalid/medcite"), "head", sql=True)
    sql = out.getvalue()
    for table in ("documents", "chunks", "sentence_vectors", "meta", "store_state", VERSION_TABLE):
        assert f"CREATE TABLE {table}" in sql
    assert "BYTEA" in sql and "BIGINT" in sql
    assert "REFERENCES documents (doc_id) ON DELETE CASCADE" in sql


def test_generation_moves_once_per_change(tmp_path: Path) -> None:
    from ingest.models import Chunk, SourceDocument

    docs = DocumentStore(tmp_path)
    try:
        doc = SourceDocument(source="a.txt", path="/a.txt", format="txt", text="Some text.", content_hash="0" * 64)
        chunk = Chunk(chunk_id="a:0", doc_id="a", index=0, start=0, end=10, text="Some text.")
        docs.replace_document("a", doc, [chunk], "fp")
        docs.replace_document("a", doc, [chunk], "fp")
        assert docs.generation() == 2
        assert docs.delete_documents(["a"]) == ["a:0"]
        assert docs.generation() == 3
    finally:
        docs.close()


def test_missing_postgres_driver_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "psycopg" else real(name, *a))
    with pytest.raises(StoreError, match=r"pip install -e '\.\[postgres\]'"):
        DocumentStore(tmp_path, "postgresql+psycopg://u@127.0.0.1:1/medcite")


def test_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(StoreError, match=r"cannot reach the database at postgresql\+psycopg://u:\*\*\*@127\.0\.0\.1:1/"):
        DocumentStore(tmp_path, "postgresql+psycopg://u:secret@127.0.0.1:1/medcite")
