"""POST /v1/ask with a generator choice, and /health's llm backend, with and without an LLM configured."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.qa_service.api.conftest import ANSWERABLE, make_settings, open_client
from tests.qa_service.llm_fakes import CopyingModel, generator


def test_llm_is_a_422_when_no_model_is_configured(client: TestClient) -> None:
    response = client.post("/v1/ask", json={"question": ANSWERABLE, "generator": "llm"})
    assert response.status_code == 422 and "no LLM is configured" in response.json()["detail"]
    assert client.post("/v1/ask", json={"question": ANSWERABLE, "generator": "gpt"}).status_code == 422
    plain = client.post("/v1/ask", json={"question": ANSWERABLE, "generator": "extractive"})
    assert plain.status_code == 200 and plain.json()["generator"] == "extractive"
    assert plain.json()["dropped_statements"] == [] and plain.json()["fallback"] is None
    health = client.get("/health").json()
    assert health["backends"]["llm"] is None and health["llm_ok"] is None


@pytest.fixture(scope="module")
def llm_client(tmp_path_factory: pytest.TempPathFactory, corpus_engine: Any) -> Iterator[TestClient]:
    """The service over an engine whose LLM is a fake that copies two sentences and adds a made-up one."""
    from qa_service.api.app import create_app
    from qa_service.engine import Engine

    model = CopyingModel(copies=2, extra=[("Every infant needs 50 mg a day.", [1])])
    gen = generator(corpus_engine, model)
    engine = Engine(gen.settings, corpus_engine.store, gen)  # shares the store; the app does not close it
    app = create_app(make_settings(tmp_path_factory.mktemp("api-llm")), engine=engine)
    with open_client(app) as c:
        yield c


def test_the_llm_answers_by_default_and_its_dropped_statements_are_served_and_recorded(
    llm_client: TestClient,
) -> None:
    response = llm_client.post("/v1/ask", json={"question": ANSWERABLE})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["generator"] == "llm:fake" and body["fallback"] is None
    assert len(body["statements"]) == 2
    [dropped] = body["dropped_statements"]
    assert (
        dropped["text"] == "Every infant needs 50 mg a day."
        and dropped["citations"] == [1]
        and dropped["reason"]
    )
    assert dropped["cited_texts"] and "50 mg" not in body["answer"]
    records = llm_client.get("/v1/answers").json()["answers"]
    [record] = [r for r in records if r["id"] == body["id"]]
    assert record["answer"]["dropped_statements"] == body["dropped_statements"]
    extractive = llm_client.post("/v1/ask", json={"question": ANSWERABLE, "generator": "extractive"}).json()
    assert extractive["generator"] == "extractive"


def test_health_names_the_model_and_says_it_answers(llm_client: TestClient) -> None:
    health = llm_client.get("/health").json()
    assert health["status"] == "ok" and health["backends"]["llm"] == "openai:fake"
    assert health["llm_ok"] is True and health["llm_error"] is None


def _generator_choices(c: TestClient) -> set[str]:
    prop = c.get("/openapi.json").json()["components"]["schemas"]["AskRequest"]["properties"]["generator"]
    return {v for option in prop["anyOf"] for v in option.get("enum", [])}


def test_openapi_offers_llm_only_when_a_model_is_configured(
    client: TestClient, llm_client: TestClient
) -> None:
    # schemathesis sends every value the document allows: "llm" without a model would be a 422 it calls a lie
    assert _generator_choices(client) == {"extractive"}
    assert _generator_choices(llm_client) == {"extractive", "llm"}
