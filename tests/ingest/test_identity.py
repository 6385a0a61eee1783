"""A document's identity is its source name: same name from another path replaces it, never a second copy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.chunking import chunk_document
from ingest.loaders import load_document
from ingest.pipeline import ingest_paths
from ingest.settings import get_settings
from ingest.store import Store

NOTE = "Folic acid 400 micrograms daily from before conception to 12 weeks of pregnancy.\n"
CHANGED = "Folic acid 5 mg daily for women at high risk of a neural tube defect.\n"


@pytest.fixture
def store(tmp_path: Path, embedder) -> Iterator[Store]:  # type: ignore[no-untyped-def]
    s = Store(get_settings(tmp_path / "data"), embedder=embedder)
    yield s
    s.close()


def folder_with(path: Path, text: str, name: str = "folate.txt") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / name).write_text(text, encoding="utf-8")
    return path


def test_the_same_name_in_another_folder_replaces_the_document(store: Store, tmp_path: Path) -> None:
    first = ingest_paths(store, [folder_with(tmp_path / "2024", NOTE)])
    assert first.added == 1
    (doc,) = store.list_documents()

    again = ingest_paths(store, [folder_with(tmp_path / "copy", NOTE)])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)

    newer = ingest_paths(store, [folder_with(tmp_path / "2025", CHANGED)])
    assert (newer.added, newer.updated) == (0, 1)
    (after,) = store.list_documents()
    assert after.doc_id == doc.doc_id and after.source == "folate.txt"
    assert "5 mg" in store.get_document(doc.doc_id).text
    assert store.vectors.count() == after.chunks  # the old version's vectors are gone


def test_two_files_of_one_name_in_one_run_are_not_merged_silently(store: Store, tmp_path: Path) -> None:
    a = folder_with(tmp_path / "a", NOTE)
    b = folder_with(tmp_path / "b", CHANGED)
    report = ingest_paths(store, [a, b])
    assert report.added == 1
    (error,) = report.errors
    assert error.source == "folate.txt"
    assert error.error.startswith(f"same source name as {a / 'folate.txt'} in this ingest")
    (doc,) = store.list_documents()
    assert "400 micrograms" in store.get_document(doc.doc_id).text  # the first one, untouched


def test_several_stored_documents_of_one_name_are_kept_and_a_new_file_is_refused(
    store: Store, tmp_path: Path
) -> None:
    """A store written before names were identities may hold a name twice: nothing is lost or guessed."""
    a = folder_with(tmp_path / "a", NOTE)
    assert ingest_paths(store, [a]).added == 1
    legacy = load_document(folder_with(tmp_path / "b", CHANGED) / "folate.txt", "folate.txt")
    chunks = chunk_document(legacy, "legacy-copy", 1000, 150)
    store.docs.replace_document("legacy-copy", legacy, chunks, store.fingerprint)
    assert [d.source for d in store.list_documents()] == ["folate.txt", "folate.txt"]

    rerun = ingest_paths(store, [a, tmp_path / "b"])  # each file still finds its own document by path
    assert (rerun.unchanged, rerun.errors) == (2, [])

    report = ingest_paths(store, [folder_with(tmp_path / "c", "Folic acid: a third version.\n")])
    (error,) = report.errors
    assert error.error.startswith("2 stored documents already have the source name 'folate.txt'")
    assert len(store.list_documents()) == 2
