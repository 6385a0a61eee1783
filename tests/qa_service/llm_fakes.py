"""Helpers for LLM answerer tests: LangChain fake chat models behind a real engine on corpus/.

The fakes stand in for the model only (a real one cannot be scripted); retrieval,
composition, the citation check and rendering are the real ones.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import BaseMessage
from pydantic import Field

from qa_service.answering import Draft, Sentence, clean_statement_text
from qa_service.generation import LLMGenerator
from qa_service.llm import ChatBackend, ModelSpec

TREATMENT_Q = "What is the recommended treatment for vitamin B12 deficiency in infants?"

# Read at import: the autouse fixture of tests/conftest.py removes MEDCITE_* variables from each test.
# CI sets it after `make setup-llm`, so a missing extra fails there instead of skipping.
REQUIRE_LLM = os.environ.get("MEDCITE_REQUIRE_LLM") == "1"


def require_extra(*modules: str) -> None:
    """Skip (or, with MEDCITE_REQUIRE_LLM=1, fail) when a module of the llm extra is missing."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        message = f"the llm extra is not installed ({', '.join(missing)}): run `make setup-llm`"
        if REQUIRE_LLM:
            pytest.fail(message)
        pytest.skip(message)


def draft_for(engine: Any, question: str) -> Draft:
    """The composer's draft for ``question``, as ``Engine.ask`` builds it."""
    k = engine.settings.answer.evidence_chunks
    index = engine._index()
    vector, cands = engine.candidates(question, max(engine.settings.retrieval.candidates, k), index)
    return engine.composer.compose(question, vector, cands[:k], index)  # type: ignore[no-any-return]


def backend(
    model: Any, *, schema: bool = False, transient: tuple[type[BaseException], ...] = ()
) -> ChatBackend:
    from qa_service.llm import _json_object, _json_schema

    bindings = (_json_schema, _json_object) if schema else ()
    return ChatBackend(
        ModelSpec("openai", "fake"),
        model,
        "fake",
        bindings,
        transient=transient,
        rejects=lambda e: isinstance(e, ValueError),
    )


def generator(engine: Any, model: Any, **kw: Any) -> LLMGenerator:
    """An LLM generator on ``model`` with the engine's settings (generation knobs overridable)."""
    settings = engine.settings.model_copy(deep=True)
    settings.llm = "openai:fake"
    for key, value in kw.pop("generation", {}).items():
        setattr(settings.generation, key, value)
    return LLMGenerator(backend(model, **kw), settings)


def evidence_texts(gen: LLMGenerator, draft: Draft) -> list[str]:
    return [clean_statement_text(s.text) for s in gen.evidence(draft)]


def reply(*statements: tuple[str, list[int]]) -> str:
    return json.dumps({"statements": [{"citations": c, "text": t} for t, c in statements]})


def scripted(*replies: str, sleep: float | None = None) -> FakeListChatModel:
    return FakeListChatModel(responses=list(replies), sleep=sleep)


def first_with(texts: list[str], pattern: str) -> int:
    """1-based number of the first evidence text matching ``pattern``."""
    return next(i for i, t in enumerate(texts, 1) if re.search(pattern, t))


class RecordingModel(FakeListChatModel):
    """A fake that also keeps the messages and call options it was given."""

    seen: list[list[BaseMessage]] = Field(default_factory=list)
    options: list[dict[str, Any]] = Field(default_factory=list)

    def _stream(  # type: ignore[override]
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Any:
        self.seen.append(messages)
        self.options.append(kwargs)
        return super()._stream(messages, stop, run_manager, **kwargs)


class FlakyModel(FakeListChatModel):
    """Raises ``error`` on the first ``failures`` calls, then answers."""

    failures: int = 1
    error: Callable[[], BaseException] = lambda: ConnectionError("connection reset")
    calls: int = 0

    def _stream(  # type: ignore[override]
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error()
        return super()._stream(messages, stop, run_manager, **kwargs)


def cited_sentences(answer: Any) -> dict[int, str]:
    return {c.id: c.text for c in answer.citations}


def all_sentences(draft: Draft) -> list[Sentence]:
    return list(draft.pool)


class CopyingModel(FakeListChatModel):
    """A fake that copies the first evidence sentences of its prompt (any question), plus ``extra``
    statements.

    ``extra`` items are ``(text, [numbers])`` added after the copies: made-up statements the check must drop.
    """

    responses: list[str] = Field(default_factory=lambda: ["{}"])
    copies: int = 2
    extra: list[tuple[str, list[int]]] = Field(default_factory=list)

    def _stream(  # type: ignore[override]
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Any:
        lines = re.findall(r"^\[(\d+)\] (.*)$", str(messages[-1].content), re.MULTILINE)
        statements = [(text, [int(n)]) for n, text in lines[: self.copies]] + list(self.extra)
        self.responses = [reply(*statements)]
        self.i = 0
        return super()._stream(messages, stop, run_manager, **kwargs)
