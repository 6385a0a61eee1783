"""``MEDCITE_LLM``: every form works or fails at start-up with one clear line, never a silent switch."""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ingest.settings import get_settings
from qa_service.llm import LLMConfigError, build_chat_model, parse_spec
from tests.qa_service.llm_fakes import require_extra

REPO = Path(__file__).resolve().parents[2]


def one_line_error(spec: str, **settings: Any) -> str:
    with pytest.raises(LLMConfigError) as info:
        build_chat_model(get_settings(None, llm=spec, **settings))
    message = str(info.value)
    assert "\n" not in message and message.startswith(("MEDCITE_LLM=", "no LLM")), message
    return message


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def model_server() -> Iterator[dict[str, Any]]:
    """A stand-in model server on loopback that lists models (OpenAI /v1/models and Ollama /api/tags)."""
    state: dict[str, Any] = {"models": ["served-model"], "status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.endswith("/models"):
                body = {"object": "list", "data": [{"id": m, "object": "model"} for m in state["models"]]}
            elif self.path.endswith("/api/tags"):
                body = {"models": [{"name": f"{m}:latest"} for m in state["models"]]}
            else:
                self.send_response(404)
                self.end_headers()
                return
            data = json.dumps(body).encode()
            self.send_response(state["status"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def test_unknown_scheme_and_empty_target() -> None:
    assert "unknown scheme 'gpt4'" in one_line_error("gpt4:turbo")
    assert "unknown scheme" in one_line_error("just-a-name")
    assert "needs a path to a .gguf file" in one_line_error("llamacpp:")
    assert "needs a model name" in one_line_error("ollama:  ")
    assert parse_spec(" LlamaCpp:/x/y.gguf ").scheme == "llamacpp"


def test_llamacpp_file_problems(tmp_path: Path) -> None:
    assert "no such file" in one_line_error(f"llamacpp:{tmp_path / 'missing.gguf'}")
    assert "is not a file" in one_line_error(f"llamacpp:{tmp_path}")
    not_gguf = tmp_path / "weights.gguf"
    not_gguf.write_bytes(b"PK\x03\x04 a zip, not a model")
    assert "is not a GGUF model file" in one_line_error(f"llamacpp:{not_gguf}")


def test_llamacpp_without_the_extra_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"GGUF" + b"\0" * 64)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llama_cpp" else real_find_spec(name, *a),
    )
    message = one_line_error(f"llamacpp:{fake}")
    assert "needs llama-cpp-python" in message and "make setup-llm" in message


def test_llamacpp_with_a_corrupt_gguf_is_a_clear_error(tmp_path: Path) -> None:
    require_extra("llama_cpp", "langchain_community")
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"GGUF" + b"\0" * 64)
    assert "cannot load the model" in one_line_error(f"llamacpp:{fake}")


def test_openai_hosted_needs_a_key_and_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    require_extra("langchain_openai")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # never silently used
    message = one_line_error("openai:gpt-4o-mini")
    assert "OPENAI_API_KEY" in message and "MEDCITE_LLM_BASE_URL" in message


def test_unreachable_servers_are_a_start_up_error() -> None:
    require_extra("langchain_openai", "langchain_ollama")
    port = free_port()  # nothing listens there
    assert "cannot reach" in one_line_error("openai:any", llm_base_url=f"http://127.0.0.1:{port}/v1")
    assert "cannot reach" in one_line_error("ollama:llama3.2", llm_base_url=f"http://127.0.0.1:{port}")


def test_a_model_the_server_does_not_have_is_named(model_server: dict[str, Any]) -> None:
    require_extra("langchain_openai", "langchain_ollama")
    url = model_server["url"]
    message = one_line_error("openai:other-model", llm_base_url=f"{url}/v1")
    assert "does not serve model 'other-model'" in message and "served-model" in message
    assert "ollama pull other-model" in one_line_error("ollama:other-model", llm_base_url=url)
    model_server["status"] = 401
    assert "refused the API key" in one_line_error("openai:served-model", llm_base_url=f"{url}/v1")


def test_a_served_model_builds_and_health_follows_the_server(model_server: dict[str, Any]) -> None:
    require_extra("langchain_openai", "langchain_ollama")
    url = model_server["url"]
    backend = build_chat_model(get_settings(None, llm="openai:served-model", llm_base_url=f"{url}/v1"))
    assert backend.name == "llm:served-model" and backend.health() is None
    assert (
        build_chat_model(get_settings(None, llm="ollama:served-model", llm_base_url=url)).name
        == "llm:served-model"
    )
    model_server["models"] = []
    backend._health = None  # the probe result is cached for 30 s; look again now
    assert "does not serve model" in (backend.health() or "")


def test_the_cli_reports_a_bad_medcite_llm_in_one_line(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "MEDCITE_DATA_DIR": str(tmp_path / "data"),
        "MEDCITE_LLM": "llamacpp:/nowhere/model.gguf",
        "HF_HUB_OFFLINE": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "qa_service.cli", "ask", "What dose?"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [
        "medcite: error: MEDCITE_LLM=llamacpp:/nowhere/model.gguf: no such file: /nowhere/model.gguf"
    ]
    assert done.stdout == ""
