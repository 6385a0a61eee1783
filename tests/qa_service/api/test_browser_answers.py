"""The answer page in a real headless Chromium: its own address, phone previews, review groups, evidence drift.

Screenshots go to ``$MEDCITE_SCREENSHOTS`` (``docs/screenshots/make.py`` sets it to docs/screenshots/),
else benchmarks/out/.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO
from tests.qa_service.api.conftest import ANSWERABLE, UNANSWERABLE, live_server, make_settings
from tests.qa_service.api.test_browser import CHROMIUM, CHROMIUM_ARGS, WAIT_MS, _require_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OUT = Path(os.environ.get("MEDCITE_SCREENSHOTS") or REPO / "benchmarks" / "out")
ZINC = "What oral zinc dose is recommended for adults with zinc deficiency?"
NOTE = (
    "Zinc replacement protocol\n\nDosing\n\n"
    "For adults with zinc deficiency, give oral zinc {dose} once daily for 12 weeks.\n"
)
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, writable_engine: Any) -> Iterator[str]:
    from qa_service.api.app import create_app

    app = create_app(make_settings(tmp_path_factory.mktemp("browser-answers")), engine=writable_engine)
    with live_server(app) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright = _require_browser()
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def new_page(browser: Any, **context: Any) -> Any:
    ctx = browser.new_context(**({"viewport": {"width": 1280, "height": 900}} | context))
    page = ctx.new_page()
    page.set_default_timeout(WAIT_MS)
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))  # type: ignore[attr-defined]
    return page


def test_an_answer_has_its_own_address_that_survives_a_reload(server: str, browser: Any) -> None:
    page = new_page(browser)
    page.goto(server + "/")
    page.get_by_label("Question", exact=True).fill(ANSWERABLE)
    page.get_by_role("button", name="Ask", exact=True).click()
    page.wait_for_selector("#answer[data-state] .cite")
    page.wait_for_url("**/answers/*")
    answer_id = page.url.rsplit("/", 1)[1]
    assert httpx.get(f"{server}/v1/answers/{answer_id}").json()["question"] == ANSWERABLE
    first_text = page.locator("#answer .bottom-line").inner_text()

    page.reload()  # a reload, or the link opened by a colleague, shows the same answer from the audit log
    page.wait_for_selector("#answer[data-state] .cite")
    assert page.locator("#answer .bottom-line").inner_text() == first_text
    assert page.locator("#answer .answer-question").inner_text() == ANSWERABLE
    assert "submitted" in page.locator("#answer .record-line").inner_text().lower()
    assert page.locator("#ask-status").get_attribute("data-kind") == "ok"
    # the source's footnote digits are set apart in quotes (the citation JSON keeps them)
    refs = page.locator("#answer .quote sup.ref")
    assert refs.count() >= 1
    page.locator("#answer").scroll_into_view_if_needed()
    page.evaluate("() => window.scrollTo(0, document.getElementById('answer').offsetTop - 80)")
    page.screenshot(path=str(OUT / "answer-permalink.png"), full_page=False)
    card = page.locator("#answer .source-card", has=page.locator("sup.ref")).first
    card.screenshot(path=str(OUT / "quote-references.png"))
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_an_abstention_says_so_in_amber_and_in_the_users_words(server: str, browser: Any) -> None:
    page = new_page(browser)
    page.goto(server + "/")
    page.get_by_label("Question", exact=True).fill(UNANSWERABLE)
    page.get_by_role("button", name="Ask", exact=True).click()
    page.wait_for_selector("#answer[data-state='abstained']")
    assert page.locator("#ask-status").get_attribute("data-kind") == "warn"
    color = page.evaluate("() => getComputedStyle(document.getElementById('ask-status')).color")
    assert color != "rgb(31, 122, 63)"  # not the green of an answer
    asked = page.locator("#answer .callout .asked").inner_text()
    assert UNANSWERABLE in asked
    page.context.close()


def test_on_a_phone_a_tap_previews_the_citation_before_opening_the_document(
    server: str, browser: Any
) -> None:
    answer = httpx.post(f"{server}/v1/ask", json={"question": ANSWERABLE}, timeout=120).json()
    page = new_page(browser, **PHONE)
    page.goto(f"{server}/answers/{answer['id']}")
    marker = page.locator("#answer .bottom-line .cite").first
    marker.wait_for(state="visible")
    marker.tap()
    tooltip = page.locator("#tooltip")
    tooltip.wait_for(state="visible")
    assert not page.locator("#source-dialog").is_visible()  # the first tap only previews
    first = answer["citations"][0]
    assert first["source"] in tooltip.inner_text()
    assert page.locator("#tooltip .bullet, #tooltip .tip-quote").count() >= 1
    page.screenshot(path=str(OUT / "phone-tap-preview.png"))
    page.get_by_role("button", name="Open in document").tap()
    page.locator("#source-dialog mark#cited-span").wait_for(state="visible")
    assert page.locator("#source-dialog mark#cited-span").inner_text() == first["text"]
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
    page.context.close()


def test_repeated_asks_are_one_review_card_that_one_decision_covers(server: str, browser: Any) -> None:
    question = "How long should oral vitamin B12 treatment continue in infants?"
    ids = [
        httpx.post(f"{server}/v1/ask", json={"question": question}, timeout=120).json()["id"]
        for _ in range(3)
    ]
    page = new_page(browser)
    page.goto(server + "/#/review")
    page.get_by_label("Your name (reviewer)").fill("Dr Group")
    card = page.locator(".review-card", has_text=question).first
    card.wait_for(state="visible")
    assert card.get_attribute("data-group-size") == "3"
    assert "asked 3×" in card.locator(".badge-group").inner_text().lower()
    assert "one review covers all 3" in card.inner_text().lower()
    card.scroll_into_view_if_needed()
    card.screenshot(path=str(OUT / "review-group-card.png"))
    card.get_by_role("button", name="Approve all 3").click()
    page.wait_for_function("() => document.getElementById('review-status').dataset.kind === 'ok'")
    statuses = {httpx.get(f"{server}/v1/answers/{i}").json()["status"] for i in ids}
    assert statuses == {"approved"}
    page.context.close()


def test_a_changed_dose_shows_a_drift_banner_and_the_recheck_diff(server: str, browser: Any) -> None:
    name = "zinc-protocol-browser.txt"

    def upload(dose: str) -> None:
        files = [("files", (name, io.BytesIO(NOTE.format(dose=dose).encode())))]
        assert httpx.post(f"{server}/v1/documents", files=files, timeout=300).status_code == 200

    upload("50 mg")
    answer = httpx.post(f"{server}/v1/ask", json={"question": ZINC}, timeout=120).json()
    assert any(c["source"] == name for c in answer["citations"])
    approved = httpx.post(
        f"{server}/v1/answers/{answer['id']}/review", json={"status": "approved", "reviewer": "Dr Q"}
    )
    assert approved.status_code == 200
    upload("25 mg")

    page = new_page(browser)
    page.goto(f"{server}/answers/{answer['id']}")
    banner = page.locator("#answer .drift-banner")
    banner.wait_for(state="visible")
    assert "changed" in banner.inner_text() and name in banner.inner_text()
    assert "back in the review queue" in banner.inner_text()
    assert page.locator("#answer .source-changed").count() >= 1
    banner.get_by_role("button", name="Recheck on current documents").click()
    diff = banner.locator(".diff")
    diff.wait_for(state="visible")
    assert "50 mg" in diff.locator(".diff-removed").inner_text()
    assert "25 mg" in diff.locator(".diff-added").inner_text()
    page.screenshot(path=str(OUT / "drift-banner.png"))
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_the_documents_table_speaks_in_pages(server: str, browser: Any) -> None:
    page = new_page(browser)
    page.goto(server + "/#/documents")
    row = page.locator("#documents-body tr").first
    row.wait_for(state="visible")
    headers = page.locator(".doc-table thead").inner_text().lower()
    assert "length" in headers and "chunks" not in headers
    assert "page" in page.locator("#documents-body td[data-label='Length']").first.inner_text()
    page.context.close()
