"""The web UI in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

A person's path through the page: ask a question, read a citation's tooltip (by
mouse and by keyboard), open the cited span in its document, upload a document,
approve an answer. Also: a document and a question containing markup are shown
as text and never run. Screenshots go to benchmarks/out/.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from qa_service.models import Answer
from tests.conftest import REPO
from tests.qa_service.api.conftest import ANSWERABLE, live_server, make_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUT = Path(os.environ.get("MEDCITE_SCREENSHOTS") or REPO / "benchmarks" / "out")  # docs/screenshots/make.py
PWNED_DOC = (
    "Hostile test document\n\n"
    "This line carries markup that must stay text: <script>window.__pwned=1</script> "
    'and <img src="x" onerror="window.__pwned=2"> inside a sentence about ferritin thresholds.\n'
)
HOSTILE_QUESTION = '<img src="x" onerror="window.__pwned=3">What is the ferritin threshold?'
WAIT_MS = 120_000


def _require_browser() -> Any:
    """Playwright's sync API, or skip (fail under CI, where .ci/run installs Chromium)."""
    in_ci = os.environ.get("CI", "").lower() == "true"
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (apt-get install chromium chromium-driver)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = problem or "the playwright package is not installed"
        sync_playwright = None
    if problem:
        if in_ci:
            pytest.fail(f"browser test cannot run in CI: {problem}")
        pytest.skip(problem)
    return sync_playwright


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, writable_engine: Any) -> Iterator[tuple[str, Any]]:
    from qa_service.api.app import create_app

    app = create_app(make_settings(tmp_path_factory.mktemp("browser-api")), engine=writable_engine)
    with live_server(app) as base:
        yield base, app


@pytest.fixture(scope="module")
def page(server: tuple[str, Any]) -> Iterator[Any]:
    sync_playwright = _require_browser()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(WAIT_MS)
        tab.errors = []  # type: ignore[attr-defined]
        tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))  # type: ignore[attr-defined]
        yield tab
        context.close()
        browser.close()


def test_ask_hover_and_open_the_cited_span(server: tuple[str, Any], page: Any) -> None:
    base, _ = server
    OUT.mkdir(parents=True, exist_ok=True)
    page.goto(base + "/")
    page.get_by_label("Question", exact=True).fill(ANSWERABLE)
    page.get_by_role("button", name="Ask", exact=True).click()
    page.wait_for_selector("#answer[data-state] .cite")

    served = httpx.get(f"{base}/v1/answers", params={"limit": 1}).json()["answers"][0]["answer"]
    assert not served["abstained"]
    first = served["citations"][0]

    marker = page.locator("#answer .bottom-line .cite").first
    assert marker.inner_text() == f"[{first['id']}]"
    marker.hover()
    tooltip = page.locator("#tooltip")
    tooltip.wait_for(state="visible")
    assert first["text"] in tooltip.inner_text()
    assert first["source"] in tooltip.inner_text()
    page.screenshot(path=str(OUT / "ui-answer.png"), full_page=False)

    page.mouse.move(0, 0)
    tooltip.wait_for(state="hidden")
    marker.focus()  # keyboard users get the same tooltip
    tooltip.wait_for(state="visible")
    page.keyboard.press("Escape")
    tooltip.wait_for(state="hidden")

    page.keyboard.press("Enter")  # the focused marker opens the source
    mark = page.locator("#source-dialog mark#cited-span")
    mark.wait_for(state="visible")
    assert mark.inner_text() == first["text"]
    assert page.locator("#source-title").inner_text() in {first["source"], first["title"]}
    page.wait_for_timeout(300)  # let the smooth layout settle before measuring
    in_view = page.evaluate(
        """() => {
            const box = document.getElementById('source-text').getBoundingClientRect();
            const m = document.getElementById('cited-span').getBoundingClientRect();
            return m.top >= box.top && m.top < box.bottom;
        }"""
    )
    assert in_view, "the cited span was not scrolled into view"
    page.screenshot(path=str(OUT / "ui-source.png"))
    page.keyboard.press("Escape")
    page.locator("#source-dialog").wait_for(state="hidden")
    assert page.errors == []  # type: ignore[attr-defined]


def test_document_markup_is_shown_as_text_and_never_runs(server: tuple[str, Any], page: Any) -> None:
    base, app = server
    uploaded = httpx.post(
        f"{base}/v1/documents",
        files=[("files", ("hostile-markup.txt", io.BytesIO(PWNED_DOC.encode())))],
        timeout=300,
    )
    assert uploaded.status_code == 200, uploaded.text
    answer = Answer(
        id=uuid.uuid4().hex,
        question=HOSTILE_QUESTION,
        answer="",
        abstained=True,
        abstain_reason="<b>no</b>",
        config_hash="x",
        generator="extractive",
        latency_ms=1.0,
    )
    app.state.services.audit.record_answer(answer, corpus_version="v", role="local")

    page.goto(base + "/#/documents")
    row = page.locator("#documents-body tr", has_text="hostile-markup.txt")
    row.get_by_role("button", name="View hostile-markup.txt").click()
    text = page.locator("#source-text")
    text.wait_for(state="visible")
    assert "<script>window.__pwned=1</script>" in text.inner_text()
    assert page.locator("#source-text script, #source-text img").count() == 0
    page.keyboard.press("Escape")

    page.goto(base + "/#/review")
    card = page.locator(".review-card", has_text="ferritin threshold")
    card.wait_for(state="visible")
    assert HOSTILE_QUESTION in card.locator(".review-question").inner_text()
    assert page.locator(".review-list img").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    assert page.errors == []  # type: ignore[attr-defined]


def test_upload_with_progress_and_approve_in_the_review_page(
    server: tuple[str, Any], page: Any, tmp_path: Path
) -> None:
    base, _ = server
    doc = tmp_path / "vitamin-k-note.txt"
    doc.write_text(
        "Vitamin K: give 1 mg intramuscularly at birth to prevent haemorrhagic disease.\n", encoding="utf-8"
    )
    page.goto(base + "/#/documents")
    page.get_by_label("Add documents").set_input_files(str(doc))
    page.get_by_role("button", name="Upload and ingest").click()
    status = page.locator("#upload-status")
    page.wait_for_function("() => document.getElementById('upload-status').dataset.kind === 'ok'")
    assert "1 added" in status.inner_text()
    page.locator("#documents-body tr", has_text="vitamin-k-note.txt").wait_for(state="visible")

    page.goto(base + "/#/review")
    page.get_by_label("Your name (reviewer)").fill("Dr Browser")
    page.get_by_label("Status", exact=True).select_option("submitted")
    card = page.locator(".review-card", has_text=ANSWERABLE).first
    card.wait_for(state="visible")
    card.get_by_label("Comment (optional)").fill("citations checked against the source")
    card.get_by_role("button", name="Approve").click()
    page.wait_for_function("() => document.getElementById('review-status').dataset.kind === 'ok'")
    page.get_by_label("Status", exact=True).select_option("approved")
    approved = page.locator(".review-card", has_text=ANSWERABLE).first
    approved.wait_for(state="visible")
    assert "Approved by Dr Browser" in approved.inner_text()
    assert "citations checked against the source" in approved.inner_text()
    page.screenshot(path=str(OUT / "ui-review.png"))
    assert page.errors == []  # type: ignore[attr-defined]


def test_phone_layout_keeps_the_answer_readable(server: tuple[str, Any], page: Any) -> None:
    base, _ = server
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        page.goto(base + "/#/review")
        page.get_by_label("Status", exact=True).select_option("approved")
        page.locator(".review-card").first.wait_for(state="visible")
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the page scrolls sideways by {overflow}px on a phone"
        page.screenshot(path=str(OUT / "ui-phone-review.png"))
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})
