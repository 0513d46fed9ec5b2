"""Review journeys in Chromium: undo after approve (button and `u`), the next draft shown from its
top, and claims whose fact or reason is reachable by keyboard as well as by mouse."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from outreach.mail.models import OutboundMessage
from review.models import Draft, ReviewerSettings
from tests.factories import DEFAULT_PASSWORD, DraftFactory, RecipientFactory, UserFactory

from .conftest import DESKTOP, PHONE, horizontal_overflow, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEXT = "prev => { const d = document.querySelector('#draft[data-draft-id]'); return d && d.dataset.draftId !== prev; }"
LONG_BODY = "Hi Liu,\n\n" + "\n\n".join(f"Paragraph {i} about your account." for i in range(30)) + "\n\nRita"


def _drafts(rep, n: int) -> list[Draft]:
    now = timezone.now()
    return [
        DraftFactory(
            sender=rep,
            recipient=RecipientFactory(first_name=f"Person{i}", owner=rep),
            ready_at=now - timedelta(minutes=10 - i),
            body_text=LONG_BODY,
        )
        for i in range(n)
    ]


@pytest.mark.broker
def test_u_undoes_an_approve_and_nothing_is_sent(chromium, live_server, undo_hold):
    rep = UserFactory(username="undo-rep", role="rep")
    first, second = _drafts(rep, 2)
    page = chromium.new_context(viewport=DESKTOP).new_page()
    login(page, live_server.url, "undo-rep", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/review/")

    page.keyboard.press("a")
    page.wait_for_function(NEXT, arg=str(first.pk))
    assert "held for 10 s so you can undo" in page.inner_text("#detail [role=status]")
    screenshot(page, "desktop-undo-offered")
    page.keyboard.press("u")
    page.wait_for_function(f"() => document.querySelector('#draft').dataset.draftId === '{first.pk}'")

    assert "Approval undone: nothing was sent" in page.inner_text("#detail")
    assert Draft.objects.get(pk=first.pk).state == Draft.State.READY
    assert OutboundMessage.objects.get(recipient=first.recipient).state == OutboundMessage.State.SKIPPED
    assert Draft.objects.get(pk=second.pk).state == Draft.State.READY


@pytest.mark.broker
def test_a_rep_on_a_phone_undoes_an_approve_by_touch(chromium, live_server, undo_hold):
    rep = UserFactory(username="undo-phone", role="rep")
    first, _ = _drafts(rep, 2)
    page = chromium.new_context(viewport=PHONE, has_touch=True).new_page()
    login(page, live_server.url, "undo-phone", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/review/")
    page.tap("#queue-list .queue-item")
    page.wait_for_selector("#detail #draft", state="visible")

    page.tap("[data-action=approve]")
    page.wait_for_function(NEXT, arg=str(first.pk))
    box = page.locator("[data-action=undo]").bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44
    page.tap("[data-action=undo]")
    page.wait_for_function(f"() => document.querySelector('#draft').dataset.draftId === '{first.pk}'")
    assert Draft.objects.get(pk=first.pk).state == Draft.State.READY


def test_the_next_draft_is_shown_from_its_top_with_a_visible_focus_ring(chromium, live_server):
    rep = UserFactory(username="scroll-rep", role="rep")
    first, _, _ = _drafts(rep, 3)
    page = chromium.new_context(viewport={"width": 1280, "height": 700}).new_page()
    login(page, live_server.url, "scroll-rep", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/review/")
    page.mouse.wheel(0, 2500)  # read to the end of a long email
    page.wait_for_function("() => window.scrollY > 500")

    page.keyboard.press("j")
    page.wait_for_function(NEXT, arg=str(first.pk))

    top = page.evaluate("document.getElementById('draft-heading').getBoundingClientRect().top")
    subject = page.evaluate("document.querySelector('.headers .subject').getBoundingClientRect().bottom")
    assert 0 <= top < 200 and subject < 700  # To, Subject and first line on screen
    screenshot(page, "desktop-next-draft-top")


def test_a_supported_claims_fact_is_reachable_by_keyboard(chromium, live_server):
    rep = UserFactory(username="claims-rep", role="rep")
    DraftFactory(sender=rep)  # "14" is supported by fact 1, "October" is not
    page = chromium.new_context(viewport=DESKTOP).new_page()
    login(page, live_server.url, "claims-rep", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/review/")

    supported = page.locator("#draft-body mark.supported").first
    supported.focus()
    described = supported.get_attribute("aria-describedby")
    assert page.locator(f"#{described}").count() == 1  # the fact it points at is on the page
    tip = page.evaluate("getComputedStyle(document.activeElement, '::after').content")
    assert tip.startswith('"Fact: ')
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    unsupported = page.locator("#draft-body mark.unsupported").first
    unsupported.focus()
    assert "Not found in the recipient" in page.evaluate("getComputedStyle(document.activeElement, '::after').content")
    screenshot(page, "desktop-claim-focused")


def test_search_and_filters_update_the_list_without_a_page_load(chromium, live_server):
    rep = UserFactory(username="search-rep", role="rep")
    drafts = _drafts(rep, 3)
    page = chromium.new_context(viewport=DESKTOP).new_page()
    login(page, live_server.url, "search-rep", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/review/")
    page.evaluate("window.__sameDocument = true")

    page.fill("#filter-q", drafts[2].recipient.first_name)
    page.wait_for_function("() => document.querySelectorAll('#queue-list .queue-item').length === 1")
    page.check("#queue-filters input[name=unsupported]")
    page.wait_for_load_state("networkidle")

    assert page.evaluate("window.__sameDocument") is True  # no reload (WCAG 3.2.2)
    assert page.get_attribute("#queue-list .queue-item", "data-draft-id") == str(drafts[2].pk)
    assert page.get_attribute("#draft", "data-draft-id") == str(drafts[0].pk)  # the draft on screen stays


@pytest.mark.broker
def test_single_key_shortcuts_need_the_queue_focus_and_can_be_turned_off(chromium, live_server):
    rep = UserFactory(username="keys-rep", role="rep")
    first, _ = _drafts(rep, 2)
    page = chromium.new_context(viewport=DESKTOP).new_page()
    login(page, live_server.url, "keys-rep", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/review/")

    page.focus(".topbar nav a")  # focus outside the queue: `a` must not approve
    page.keyboard.press("a")
    page.wait_for_timeout(300)
    assert Draft.objects.get(pk=first.pk).state == Draft.State.READY

    page.focus("#draft")
    page.keyboard.press("?")
    with page.expect_response("**/review/settings/") as saved:
        page.uncheck("#shortcuts-toggle")
    assert saved.value.ok
    page.keyboard.press("Escape")
    page.focus("#draft")
    page.keyboard.press("a")
    page.wait_for_timeout(300)
    assert Draft.objects.get(pk=first.pk).state == Draft.State.READY
    assert ReviewerSettings.objects.get(user=rep).single_key_shortcuts is False

    # The setting lives on the server: a phone the rep logs in on has them off too.
    phone = chromium.new_context(viewport=PHONE, has_touch=True).new_page()
    login(phone, live_server.url, "keys-rep", DEFAULT_PASSWORD)
    phone.goto(f"{live_server.url}/review/")
    assert phone.get_attribute("#queue-page", "data-shortcuts") == "off"
    phone.focus("#draft")
    phone.keyboard.press("a")
    phone.wait_for_timeout(300)
    assert Draft.objects.get(pk=first.pk).state == Draft.State.READY
    phone.goto(f"{live_server.url}/review/settings/")
    assert phone.is_checked("#settings-shortcuts") is False
    box = phone.locator("label:has(#settings-shortcuts)").bounding_box()
    assert box["height"] >= 44  # a touch target
    assert horizontal_overflow(phone)["over"] <= 0
    screenshot(phone, "phone-review-settings")

    page.keyboard.press("?")
    with page.expect_response("**/review/settings/"):
        page.check("#shortcuts-toggle")
    page.keyboard.press("Escape")
    page.focus("#draft")
    page.keyboard.press("a")
    page.wait_for_function(NEXT, arg=str(first.pk))
    assert Draft.objects.get(pk=first.pk).state == Draft.State.APPROVED
    assert ReviewerSettings.objects.get(user=rep).single_key_shortcuts is True


def test_a_choice_kept_in_this_browser_before_moves_to_the_server(chromium, live_server):
    rep = UserFactory(username="old-keys-rep", role="rep")
    first, _ = _drafts(rep, 2)
    context = chromium.new_context(viewport=DESKTOP)
    # What the queue stored in the browser before the setting moved to the server.
    context.add_init_script("localStorage.setItem('outreach.queueShortcuts', 'off')")
    page = context.new_page()
    login(page, live_server.url, "old-keys-rep", DEFAULT_PASSWORD)
    with page.expect_response("**/review/settings/"):
        page.goto(f"{live_server.url}/review/")

    assert ReviewerSettings.objects.get(user=rep).single_key_shortcuts is False
    page.focus("#draft")
    page.keyboard.press("a")
    page.wait_for_timeout(300)
    assert Draft.objects.get(pk=first.pk).state == Draft.State.READY


def test_escape_returns_focus_to_the_button_that_opened_the_form(chromium, live_server):
    rep = UserFactory(username="esc-rep", role="rep")
    _drafts(rep, 1)
    page = chromium.new_context(viewport=DESKTOP).new_page()
    login(page, live_server.url, "esc-rep", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/review/")

    page.click("[data-action=reject]")
    assert page.evaluate("document.activeElement.id") == "reject-reason"
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.dataset.action") == "reject"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"


@pytest.mark.broker
def test_a_key_pressed_while_a_decision_is_on_its_way_is_visibly_refused(chromium, live_server):
    rep = UserFactory(username="fast-rep", role="rep")
    drafts = _drafts(rep, 4)
    page = chromium.new_context(viewport=DESKTOP).new_page()
    login(page, live_server.url, "fast-rep", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/review/")
    page.route("**/approve/", lambda route: (page.wait_for_timeout(400), route.continue_()))

    page.focus("#draft")
    page.keyboard.press("a")
    page.keyboard.press("a")  # while the first approval is on its way

    refused = page.wait_for_selector("#queue-refused:not([hidden])")
    assert "not used" in refused.inner_text()
    page.wait_for_function(NEXT, arg=str(drafts[0].pk))
    page.wait_for_load_state("networkidle")
    assert Draft.objects.filter(state=Draft.State.APPROVED).count() == 1
