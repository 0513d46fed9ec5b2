"""The review queue in a real browser: Playwright driving Debian Chromium against live_server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from review.models import Draft, DraftDecision, DraftEdit
from tests.factories import DEFAULT_PASSWORD, DraftFactory, RecipientFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def page(live_server, monkeypatch) -> Iterator:
    # Playwright's sync API runs an event loop in this thread, and the test reads the database
    # from it. Set for this test only: the variable must never reach a deployment check.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it, so a missing browser is a broken build
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 1400, "height": 950})
        page.set_default_timeout(10_000)
        yield page
        browser.close()


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _shown(page) -> int:
    return int(page.get_attribute("#draft", "data-draft-id"))


def _wait_for_next(page, previous: int) -> int:
    page.wait_for_function(
        "prev => { const d = document.querySelector('#draft[data-draft-id]'); return d && d.dataset.draftId !== prev; }",
        arg=str(previous),
    )
    return _shown(page)


@pytest.mark.broker
def test_a_rep_clears_drafts_with_the_keyboard_edits_one_and_rejects_one(page, live_server):
    rep = UserFactory(username="browser-rep", role="rep")
    now = timezone.now()
    drafts = [
        DraftFactory(
            sender=rep,
            recipient=RecipientFactory(first_name=f"Person{i}", owner=rep),
            ready_at=now - timedelta(minutes=10 - i),
            subject=f"Subject {i}",
        )
        for i in range(5)
    ]
    _login(page, live_server.url, "browser-rep")
    page.goto(f"{live_server.url}/review/")
    assert _shown(page) == drafts[0].pk
    page.wait_for_selector(f"#queue-item-{drafts[0].pk}[aria-current]")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "queue.png"), full_page=True)

    # a: approve as shown; the next draft arrives without a page load.
    page.keyboard.press("a")
    assert _wait_for_next(page, drafts[0].pk) == drafts[1].pk
    page.wait_for_function("() => document.querySelector('[data-count=ready]').textContent.trim() === '4'")

    # e: edit in place, then approve the edited text.
    page.keyboard.press("e")
    assert page.evaluate("document.activeElement.id") == "edit-body"
    page.fill("#edit-body", "Hi Person1,\n\nA shorter note.\n\nRita")
    page.fill("#edit-cc", "manager@customer.example")
    page.click("#edit-form button[type=submit]")
    assert _wait_for_next(page, drafts[1].pk) == drafts[2].pk

    # r: reject with a reason.
    page.keyboard.press("r")
    page.select_option("#reject-reason", "tone")
    page.fill("#reject-note", "Too formal")
    page.click("#reject-form button[type=submit]")
    assert _wait_for_next(page, drafts[2].pk) == drafts[3].pk
    assert "Rejected the draft" in page.inner_text("#detail")

    # j / k move through what is left, once the list has caught up.
    page.wait_for_selector(f"#queue-item-{drafts[2].pk}", state="detached")
    page.keyboard.press("j")
    assert _wait_for_next(page, drafts[3].pk) == drafts[4].pk
    page.keyboard.press("k")
    assert _wait_for_next(page, drafts[4].pk) == drafts[3].pk

    states = dict(Draft.objects.values_list("pk", "state"))
    assert [states[d.pk] for d in drafts] == ["approved", "approved", "rejected", "ready", "ready"]
    edit = DraftEdit.objects.get(draft=drafts[1])
    assert edit.body_after == "Hi Person1,\n\nA shorter note.\n\nRita" and edit.changed_parts == ["body", "cc"]
    decisions = dict(DraftDecision.objects.values_list("draft_id", "action"))
    assert decisions == {drafts[0].pk: "approve", drafts[1].pk: "edit_approve", drafts[2].pk: "reject"}
    assert DraftDecision.objects.get(draft=drafts[2]).reason == "tone"


@pytest.mark.broker
def test_a_stale_approve_shows_a_readable_message_in_place(page, live_server):
    rep = UserFactory(username="browser-rep2", role="rep")
    draft = DraftFactory(sender=rep)
    _login(page, live_server.url, "browser-rep2")
    page.goto(f"{live_server.url}/review/")
    # Another reviewer approves first.
    from review.services import draft_approve

    draft_approve(draft=draft, user=rep, expected_version=1)
    page.keyboard.press("a")
    alert = page.wait_for_selector("#detail [role=alert]")
    assert "already approved by" in alert.inner_text() and "nothing is sent twice" in alert.inner_text()


def test_the_help_dialog_opens_with_question_mark(page, live_server):
    UserFactory(username="browser-rep3", role="rep")
    _login(page, live_server.url, "browser-rep3")
    page.goto(f"{live_server.url}/review/")
    page.keyboard.press("?")
    assert page.is_visible("#queue-help")
    page.keyboard.press("Escape")
    assert not page.is_visible("#queue-help")
