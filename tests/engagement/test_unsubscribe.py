"""The unsubscribe link in every email: GET confirms, POST (RFC 8058 one-click) unsubscribes."""

from __future__ import annotations

import pytest
from django.test import Client

from outreach.mail.models import EngagementEvent
from outreach.mail.unsubscribe import unsubscribe_token
from outreach.suppression.models import Suppression
from tests.factories import OutboundMessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def message():
    return OutboundMessageFactory()


@pytest.fixture
def url(message):
    return f"/u/{unsubscribe_token(recipient_id=message.recipient_id, message_id=message.pk)}/"


def one_click(url, **extra):
    """What a mail client sends: no cookies, no CSRF token, the RFC 8058 body."""
    client = Client(enforce_csrf_checks=True)
    return client.post(
        url, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded", **extra
    )


def test_get_shows_a_confirmation_page_and_changes_nothing(client, url, message):
    response = client.get(url)
    assert response.status_code == 200
    assert b"Unsubscribe?" in response.content and message.to_email.encode() in response.content
    assert b'method="post"' in response.content
    assert not Suppression.objects.exists() and not EngagementEvent.objects.exists()


def test_one_click_post_without_cookies_or_csrf_token_unsubscribes_at_once(
    url, message, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = one_click(url)
    assert response.status_code == 200  # answered directly, no redirect
    assert b"You are unsubscribed" in response.content
    entry = Suppression.objects.get()
    assert (entry.kind, entry.value, entry.reason) == ("address", message.to_email, "unsubscribed")
    assert entry.source == f"one-click unsubscribe, message #{message.pk}"
    event = EngagementEvent.objects.get()
    assert (event.kind, event.message, event.recipient) == ("unsubscribed", message, message.recipient)


def test_one_click_post_emits_engagement_recorded(url, recorded_signals, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        one_click(url)
    assert [event.kind for event in recorded_signals] == ["unsubscribed"]


def test_posting_twice_changes_nothing_the_second_time(url, recorded_signals, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first, second = one_click(url), one_click(url)
    assert (first.status_code, second.status_code) == (200, 200)
    assert Suppression.objects.count() == 1
    assert EngagementEvent.objects.count() == 1
    assert len(recorded_signals) == 1


def test_the_confirmation_button_works_for_a_logged_in_team_member_too(rep_client, url):
    response = rep_client.post(url)
    assert response.status_code == 200
    assert Suppression.objects.filter(reason="unsubscribed").exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_token_is_refused_with_a_readable_page_and_nothing_changes(client, message, method):
    token = unsubscribe_token(recipient_id=message.recipient_id, message_id=message.pk)
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    response = getattr(client, method)(f"/u/{forged}/")
    assert response.status_code == 400
    assert b"This link does not work" in response.content
    assert not Suppression.objects.exists() and not EngagementEvent.objects.exists()


def test_a_token_naming_another_recipient_cannot_be_forged_by_editing_it(client, message):
    import base64
    import json

    payload = base64.urlsafe_b64encode(json.dumps({"r": message.recipient_id + 1, "m": None}).encode()).decode()
    response = one_click(f"/u/{payload.rstrip('=')}:abc:def/")
    assert response.status_code == 400
    assert not Suppression.objects.exists()


def test_the_same_message_always_gets_the_same_link():
    from outreach.mail.unsubscribe import read_unsubscribe_token

    first = unsubscribe_token(recipient_id=7, message_id=3)
    assert unsubscribe_token(recipient_id=7, message_id=3) == first
    assert read_unsubscribe_token(first) == (7, 3)


def test_a_link_issued_with_a_timestamped_token_still_works(client, message, django_capture_on_commit_callbacks):
    from django.core import signing

    old = signing.dumps({"r": message.recipient_id, "m": message.pk}, salt="outreach.unsubscribe.v1", compress=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert one_click(f"/u/{old}/").status_code == 200
    assert Suppression.objects.get().reason == "unsubscribed"
