"""The Replies list, a message's timeline and a campaign's rates chart."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from outreach.mail.models import EngagementEvent
from outreach.mail.selectors import engagement_rates_for_campaign
from review.models import DraftDecision
from tests.factories import CampaignFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db


def reply_to(message, text="Thanks, let's talk."):
    return EngagementEvent.objects.create(
        message=message,
        recipient=message.recipient,
        kind="replied",
        email=message.to_email,
        occurred_at=timezone.now(),
        reply_text=text,
        provider="imap",
    )


def event(message, kind):
    return EngagementEvent.objects.create(
        message=message,
        recipient=message.recipient,
        kind=kind,
        email=message.to_email,
        occurred_at=timezone.now(),
        provider="resend",
        payload={"description": f"{kind} detail"},
    )


# --- Replies --------------------------------------------------------------------------------------


def test_a_rep_sees_replies_to_the_messages_they_sent_only(rep, other_rep, rep_client):
    mine = reply_to(OutboundMessageFactory(draft__sender=rep), "Mine: yes please")
    reply_to(OutboundMessageFactory(draft__sender=other_rep), "Theirs: no thanks")
    response = rep_client.get("/messages/replies/")
    assert response.status_code == 200
    assert b"Mine: yes please" in response.content
    assert b"Theirs: no thanks" not in response.content
    assert f'href="/messages/{mine.message_id}/"'.encode() in response.content


def test_an_admin_sees_every_reply_newest_first(rep, other_rep, admin_client_):
    older = reply_to(OutboundMessageFactory(draft__sender=rep), "older reply")
    EngagementEvent.objects.filter(pk=older.pk).update(occurred_at=timezone.now() - timezone.timedelta(days=1))
    reply_to(OutboundMessageFactory(draft__sender=other_rep), "newer reply")
    content = admin_client_.get("/messages/replies/").content.decode()
    assert content.index("newer reply") < content.index("older reply")


def test_the_replies_page_query_count_does_not_grow_with_replies(rep, rep_client, django_assert_max_num_queries):
    for _ in range(15):
        reply_to(OutboundMessageFactory(draft__sender=rep))
    with django_assert_max_num_queries(8):
        response = rep_client.get("/messages/replies/")
    assert response.content.count(b"let&#x27;s talk") == 15


def test_the_nav_links_to_replies(rep_client):
    assert b'href="/messages/replies/"' in rep_client.get("/").content


# --- Timeline -------------------------------------------------------------------------------------


@pytest.fixture
def message(rep):
    message = OutboundMessageFactory(draft__sender=rep)
    DraftDecision.objects.create(
        draft_id=message.draft_ref, action="edit_approve", user=rep, note="shortened the intro"
    )
    event(message, "delivered")
    reply_to(message, "Sounds good, Thursday?")
    return message


def test_the_sender_sees_the_timeline_from_approval_to_reply(rep_client, message, rep):
    response = rep_client.get(f"/messages/{message.pk}/")
    assert response.status_code == 200
    content = response.content.decode()
    for label in ("Edited and approved", "Queued", "Sent", "Delivered", "Replied"):
        assert label in content
    assert rep.get_full_name() in content and "shortened the intro" in content
    assert content.index("Edited and approved") < content.index("Delivered") < content.index("Sounds good")


def test_another_rep_gets_404_for_a_message_they_did_not_send(login_client, other_rep, message):
    assert login_client(other_rep).get(f"/messages/{message.pk}/").status_code == 404


def test_an_admin_may_open_any_timeline(admin_client_, message):
    assert admin_client_.get(f"/messages/{message.pk}/").status_code == 200


def test_the_timeline_needs_a_login(client, message):
    response = client.get(f"/messages/{message.pk}/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_timeline_query_count_does_not_grow_with_events(rep_client, message, django_assert_max_num_queries):
    for _ in range(10):
        event(message, "deferred")
    with django_assert_max_num_queries(9):
        response = rep_client.get(f"/messages/{message.pk}/")
    assert response.content.count(b"Delivery delayed") == 10


# --- Campaign rates -------------------------------------------------------------------------------


@pytest.fixture
def campaign():
    campaign = CampaignFactory()
    messages = [OutboundMessageFactory(draft__campaign=campaign) for _ in range(4)]
    for m in messages[:3]:
        event(m, "delivered")
    event(messages[0], "delivered")  # a duplicate delivery counts the message once
    event(messages[3], "bounced")
    reply_to(messages[0])
    event(messages[1], "unsubscribed")
    OutboundMessageFactory(draft__campaign=campaign, state="queued", sent_at=None)  # not sent yet
    OutboundMessageFactory()  # another campaign's message
    return campaign


def test_rates_count_each_message_once_per_kind_out_of_those_sent(campaign, django_assert_num_queries):
    with django_assert_num_queries(1):
        rates = engagement_rates_for_campaign(campaign_id=campaign.pk)
    assert rates.sent == 4
    assert {bar.key: bar.count for bar in rates.bars} == {
        "sent": 4,
        "delivered": 3,
        "bounced": 1,
        "replied": 1,
        "unsubscribed": 1,
    }
    assert rates.get("delivered").percent == 75.0 and rates.get("bounced").percent == 25.0


def test_a_campaign_without_sends_has_zero_rates():
    rates = engagement_rates_for_campaign(campaign_id=CampaignFactory().pk)
    assert rates.sent == 0 and all(bar.rate == 0 for bar in rates.bars)


def test_the_rates_fragment_renders_an_svg_chart_for_htmx(csm_client, campaign):
    # (A rep sees only the rates of campaigns they send in: tests/hostile/test_found_bugs.py.)
    response = csm_client.get(reverse("campaign_rates", args=[campaign.pk]), headers={"HX-Request": "true"})
    assert response.status_code == 200
    content = response.content.decode()
    assert content.lstrip().startswith("<figure") and "<svg" in content
    assert 'class="bar-delivered"' in content and "3 · 75.0%" in content
    assert "<html" not in content


def test_the_rates_page_without_htmx_is_a_full_page(csm_client, campaign):
    response = csm_client.get(reverse("campaign_rates", args=[campaign.pk]))
    assert b"<html" in response.content and b"<svg" in response.content


def test_rates_for_a_missing_campaign_are_404(rep_client):
    assert rep_client.get(reverse("campaign_rates", args=[99999])).status_code == 404


def test_the_replies_page_shows_each_replys_class_and_why(rep, rep_client):
    event = reply_to(OutboundMessageFactory(draft__sender=rep), "Please remove me.")
    EngagementEvent.objects.filter(pk=event.pk).update(
        reply_class="unsubscribe_request", reply_class_reason="They wrote 'remove me'."
    )
    content = rep_client.get("/messages/replies/").content.decode()
    assert '<span class="badge bad">Unsubscribe request</span>' in content
    assert "They wrote &#x27;remove me&#x27;." in content


def test_the_message_timeline_shows_the_replys_class(rep_client, rep):
    message = OutboundMessageFactory(draft__sender=rep)
    event = reply_to(message, "Next quarter please.")
    EngagementEvent.objects.filter(pk=event.pk).update(reply_class="not_now")
    assert "[Not now] Next quarter please." in rep_client.get(f"/messages/{message.pk}/").content.decode()
