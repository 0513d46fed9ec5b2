"""Every page works on a phone: at 360 px wide no page scrolls sideways, the navigation is a menu,
and the review queue is list → draft → approve / edit / reject with touch targets of 44 px."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from campaigns.models import Campaign, Enrollment
from outreach.mail.models import LocalMailboxMessage, MailboxConnection, OutboundMessage
from outreach.people.models import Recipient
from review.models import Draft
from tests.factories import DEFAULT_PASSWORD, UserFactory

from .conftest import NARROW, PHONE, horizontal_overflow, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _pages() -> list[str]:
    """Every page a person opens (not the admin site, which has its own layout), with demo ids."""
    campaign = Campaign.objects.order_by("pk").first()
    enrollment = Enrollment.objects.order_by("pk").first()
    recipient = Recipient.objects.order_by("pk").first()
    pages = [
        reverse("home"),
        reverse("review_queue"),
        reverse("review_queue") + "?state=failed",
        reverse("replies"),
        reverse("campaign_list"),
        reverse("campaign_create"),
        reverse("campaign_detail", args=[campaign.pk]),
        reverse("campaign_edit", args=[campaign.pk]),
        reverse("campaign_target", args=[campaign.pk]),
        reverse("campaign_automation_new", args=[campaign.pk]) + "?label=champion",
        reverse("recipient_list"),
        reverse("recipient_detail", args=[recipient.pk]),
        reverse("import_index"),
        reverse("edit_analytics"),
        reverse("audit_index"),
        reverse("recipient_audit", args=[recipient.pk]),
        reverse("mailbox"),
        reverse("mailbox_connections"),
        reverse("mailbox_admin"),
        reverse("sender_config"),
        reverse("reviewer_settings"),
        reverse("settings_tokens"),
        reverse("settings_webhooks"),
        reverse("suppression_index"),
    ]
    if enrollment is not None:
        pages.append(reverse("enrollment_detail", args=[enrollment.pk]))
    pages.append(reverse("contact_threads", args=[recipient.pk]))
    message = OutboundMessage.objects.filter(in_reply_to="").order_by("pk").first()
    if message is not None:
        pages.append(reverse("thread_detail", args=[message.pk]))
    mailbox = MailboxConnection.objects.order_by("pk").first()
    if mailbox is not None:
        pages.append(reverse("mailbox_threads", args=[mailbox.pk]))
    draft = Draft.objects.order_by("pk").first()
    if draft is not None:
        pages.append(reverse("draft_versions", args=[draft.pk]))
    mail = LocalMailboxMessage.objects.order_by("pk").first()
    if mail is not None:
        pages.append(reverse("mailbox_detail", args=[mail.pk]))
    return pages


@pytest.fixture
def demo(db):
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo_campaigns", verbosity=0)
    call_command("seed_review_demo", verbosity=0)
    Draft.objects.filter(state__in=[Draft.State.QUEUED, Draft.State.DRAFTING]).update(state=Draft.State.READY)


@pytest.mark.broker
def test_no_page_scrolls_sideways_at_360_px(chromium, live_server, demo):
    context = chromium.new_context(viewport=NARROW)
    page = context.new_page()
    login(page, live_server.url, "ada", "outreach-demo")  # the admin sees every page
    wide = {}
    for path in _pages():
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        overflow = horizontal_overflow(page)
        if overflow["over"] > 0:
            wide[path] = overflow
    screenshot(page, "phone-360-last-page")
    assert wide == {}


@pytest.mark.broker
def test_the_navigation_collapses_into_a_menu_and_escape_closes_it(chromium, live_server, demo):
    page = chromium.new_context(viewport=PHONE).new_page()
    login(page, live_server.url, "carl", "outreach-demo")
    assert not page.is_visible("#main-nav")
    page.click(".menu-toggle")
    assert page.is_visible("#main-nav a[href='/campaigns/']")
    assert page.get_attribute(".menu-toggle", "aria-expanded") == "true"
    screenshot(page, "phone-menu-open")
    page.keyboard.press("Escape")
    assert not page.is_visible("#main-nav")
    assert page.evaluate("document.activeElement.classList.contains('menu-toggle')")


def _touch_target_sizes(page, selector: str) -> list[tuple[str, float, float]]:
    return page.eval_on_selector_all(
        selector,
        "els => els.filter(e => e.offsetParent).map(e => [e.textContent.trim(), e.getBoundingClientRect().width,"
        " e.getBoundingClientRect().height])",
    )


@pytest.mark.broker
def test_a_rep_on_a_phone_goes_from_the_list_to_a_draft_and_decides_by_touch(chromium, live_server, demo):
    page = chromium.new_context(viewport=PHONE, has_touch=True).new_page()
    login(page, live_server.url, "rita", "outreach-demo")
    page.goto(f"{live_server.url}/review/")
    assert page.is_visible("#queue-list") and not page.is_visible("#detail")
    screenshot(page, "phone-queue-list")

    first, second = page.query_selector_all("#queue-list .queue-item")[:2]
    second_id = second.get_attribute("data-draft-id")
    first.tap()
    page.wait_for_selector("#detail #draft[data-draft-id]", state="visible")
    assert not page.is_visible("#queue-list")
    small = [t for t in _touch_target_sizes(page, "#detail .actions button, .queue-back") if t[2] < 44 or t[1] < 44]
    assert small == []
    assert horizontal_overflow(page)["over"] == 0
    screenshot(page, "phone-draft")

    # Approve by touch: the next draft follows, still in the draft view.
    shown = page.get_attribute("#draft", "data-draft-id")
    page.tap("[data-action=approve]")
    page.wait_for_function(
        "prev => { const d = document.querySelector('#draft[data-draft-id]'); return d && d.dataset.draftId !== prev; }",
        arg=shown,
    )
    assert Draft.objects.get(pk=shown).state == Draft.State.APPROVED
    assert page.get_attribute("#draft", "data-draft-id") == second_id

    # Edit by touch, then reject the next one.
    page.tap("[data-action=edit]")
    page.fill("#edit-body", "Hi,\n\nA shorter note from my phone.\n\nRita")
    page.tap("#edit-form button[type=submit]")
    page.wait_for_function(
        "prev => { const d = document.querySelector('#draft[data-draft-id]'); return d && d.dataset.draftId !== prev; }",
        arg=second_id,
    )
    assert Draft.objects.get(pk=second_id).body_text == "Hi,\n\nA shorter note from my phone.\n\nRita"
    third = page.get_attribute("#draft", "data-draft-id")
    page.tap("[data-action=reject]")
    page.select_option("#reject-reason", "tone")
    page.tap("#reject-form button[type=submit]")
    page.wait_for_function(
        "prev => { const d = document.querySelector('#draft[data-draft-id]'); return d && d.dataset.draftId !== prev; }",
        arg=third,
    )
    assert Draft.objects.get(pk=third).state == Draft.State.REJECTED

    # Back to the list.
    page.tap(".queue-back")
    assert page.is_visible("#queue-list") and not page.is_visible("#detail")


def test_dark_mode_follows_the_system_setting(chromium, live_server):
    UserFactory(username="night-rep", role="rep")
    page = chromium.new_context(viewport=PHONE, color_scheme="dark").new_page()
    login(page, live_server.url, "night-rep", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/review/")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    text = page.evaluate("getComputedStyle(document.body).color")
    assert background == "rgb(17, 21, 29)" and text == "rgb(230, 233, 240)"
    screenshot(page, "phone-dark-queue")
