"""The Replies page in Chromium, at a laptop's and a phone's width: the class of each reply, the
flagged "please remove me", and actions that update the list in place (htmx) with no sideways scroll."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from outreach.mail.models import EngagementEvent
from outreach.suppression.models import Suppression
from tests.factories import DEFAULT_PASSWORD, OutboundMessageFactory, RecipientFactory, UserFactory

from .conftest import DESKTOP, PHONE, horizontal_overflow, login, screenshot
from .test_accessibility import AXE, RUN, TAGS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPLIES = [
    ("Ana Ruiz", "Sounds good, could we talk Tuesday at 10?", "interested", "They ask for a call on Tuesday."),
    ("Ben Okoro", "Please remove me from your list.", "unsubscribe_request", "They wrote 'remove me'."),
    ("Chloé Martin", "Pas pour le moment, revenez vers moi l'année prochaine.", "not_now", "Later: 'next year'."),
    ("Dieter Braun", "I no longer work at Acme; please write to jana@acme.example.", "referral", "They left Acme."),
]


@pytest.fixture
def rep_with_replies(db):
    rep = UserFactory(username="rita", role="rep", first_name="Rita", last_name="Lane")
    for name, text, reply_class, reason in REPLIES:
        first, last = name.split(" ")
        recipient = RecipientFactory(owner=rep, first_name=first, last_name=last)
        message = OutboundMessageFactory(draft__sender=rep, draft__recipient=recipient, subject="Your renewal")
        EngagementEvent.objects.create(
            message=message,
            recipient=recipient,
            kind="replied",
            email=message.to_email,
            occurred_at=timezone.now(),
            reply_text=text,
            provider="mailbox",
            reply_class=reply_class,
            reply_class_reason=f"offline rules (no LLM): {reason}",
        )
    return rep


@pytest.mark.parametrize(("viewport", "label"), [(DESKTOP, "1280"), (PHONE, "390")])
def test_a_rep_triages_replies_in_place_at_each_width(chromium, live_server, rep_with_replies, viewport, label):
    context = chromium.new_context(viewport=viewport)
    page = context.new_page()
    login(page, live_server.url, "rita", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/messages/replies/")
    assert page.locator(".reply.card").count() == 4
    assert horizontal_overflow(page)["over"] <= 0, horizontal_overflow(page)
    screenshot(page, f"replies-{label}")

    # Mark the first one handled: the list updates in place (no navigation), the count follows.
    url_before = page.url
    page.locator(".reply.card", has_text="Ana Ruiz").get_by_role("button", name="Mark handled").click()
    expect(page.locator(".reply.card")).to_have_count(3)
    assert page.url == url_before
    assert "Handled 1" in page.locator(".reply-filters").inner_text().replace("\n", " ")

    # Confirm the removal request in one click.
    page.locator(".reply.card", has_text="Ben Okoro").get_by_role("button", name="Confirm removal").click()
    expect(page.locator(".reply.card")).to_have_count(2)
    assert Suppression.objects.filter(reason="unsubscribed", added_by=rep_with_replies).count() == 1

    # The handled filter, in place, with its address in the bar.
    page.get_by_role("link", name="Handled 2").click()
    page.wait_for_url("**/messages/replies/?status=handled")
    page.wait_for_selector("text=Removal confirmed by")
    screenshot(page, f"replies-handled-{label}")
    assert horizontal_overflow(page)["over"] <= 0, horizontal_overflow(page)
    context.close()


@pytest.mark.parametrize(("viewport", "scheme"), [(DESKTOP, "light"), (PHONE, "dark")])
def test_axe_finds_no_violation_on_the_replies_page_with_replies(
    chromium, live_server, rep_with_replies, viewport, scheme
):
    page = chromium.new_context(viewport=viewport, color_scheme=scheme, bypass_csp=True).new_page()
    login(page, live_server.url, "rita", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/messages/replies/?status=all")
    page.locator(".snooze summary").first.click()  # the snooze form open, too
    page.add_script_tag(content=AXE)
    assert page.evaluate(RUN, TAGS) == []
