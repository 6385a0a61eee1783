"""Asks keep being served, correctly, while an upload is ingested (real uvicorn server, real threads)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from qa_service.api.gate import StoreGate
from tests.qa_service.api.conftest import ANSWERABLE, live_server, make_settings

pytestmark = pytest.mark.slow

TOPICS = ["iron", "folate", "iodine"]


class RecordingGate(StoreGate):
    """The real gate, noting when sections start and end."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []
        self._events_lock = threading.Lock()

    def _note(self, event: str) -> None:
        with self._events_lock:
            self.events.append(event)

    @contextmanager
    def reading(self) -> Iterator[None]:
        with super().reading():
            self._note("read")
            yield

    @contextmanager
    def writing(self) -> Iterator[None]:
        with super().writing():
            self._note("write-in")
            yield
            self._note("write-out")


def guideline(topic: str) -> bytes:
    """A few kilobytes of distinct text, so each file takes a moment to embed."""
    lines = [f"# {topic.title()} supplementation guideline", ""]
    for n in range(1, 41):
        lines.append(
            f"Recommendation {n}: for {topic} deficiency stage {n}, give {n * 2} mg of {topic} daily "
            f"for {n + 4} weeks and recheck the {topic} level after {n + 8} weeks."
        )
        lines.append("")
    return "\n".join(lines).encode()


def test_asks_during_an_upload_all_succeed_and_interleave(
    tmp_path_factory: pytest.TempPathFactory, writable_engine: Any
) -> None:
    from qa_service.api.app import create_app

    app = create_app(make_settings(tmp_path_factory.mktemp("concurrency-api")), engine=writable_engine)
    with live_server(app) as base:
        gate = RecordingGate()
        app.state.services.gate = gate
        upload_started, upload_done = threading.Event(), threading.Event()
        results: dict[str, Any] = {"asks": [], "errors": []}

        def do_upload() -> None:
            files = [("files", (f"{t}-guideline.md", guideline(t))) for t in TOPICS]
            with httpx.Client(base_url=base, timeout=300) as http:
                upload_started.set()
                results["upload"] = http.post("/v1/documents", files=files)
            upload_done.set()

        def keep_asking() -> None:
            upload_started.wait(30)
            with httpx.Client(base_url=base, timeout=300) as http:
                for _ in range(6):  # bounded: stops by itself
                    try:
                        response = http.post("/v1/ask", json={"question": ANSWERABLE})
                        results["asks"].append((response.status_code, response.json()))
                    except Exception as exc:
                        results["errors"].append(repr(exc))
                    if upload_done.is_set():
                        break

        threads = [threading.Thread(target=do_upload)] + [
            threading.Thread(target=keep_asking) for _ in range(3)
        ]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        elapsed = time.perf_counter() - started

        assert not any(t.is_alive() for t in threads)
        assert results["errors"] == []
        assert results["upload"].status_code == 200, results["upload"].text
        assert results["upload"].json()["added"] == len(TOPICS)
        assert len(results["asks"]) >= 3
        for status, body in results["asks"]:
            assert status == 200, body
            assert body["citations"] and not body["abstained"]
        # Asks were served between the files of the upload, not only before or after it.
        events = gate.events
        first_out, last_in = events.index("write-out"), len(events) - 1 - events[::-1].index("write-in")
        assert "read" in events[first_out:last_in], (events, elapsed)

        answers = httpx.get(f"{base}/v1/answers", params={"limit": 500}).json()
        assert answers["total"] == len(results["asks"])  # every answer served was recorded
