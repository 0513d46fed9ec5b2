"""Threads: a contact's and an inbox's conversations, every email in and out, oldest first,
seen through `messages_visible_to` (a rep only their own)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from outreach.mail import selectors
from outreach.mail.models import EngagementEvent, MailboxConnection
from tests.factories import DraftFactory, OutboundMessageFactory, RecipientFactory

pytestmark = pytest.mark.django_db

Kind = EngagementEvent.Kind


def _email(sender, recipient, *, at, parent=None, subject="Your October usage", body="Hi there"):
    draft = DraftFactory(sender=sender, recipient=recipient, state="approved", subject=subject, body_text=body)
    fields = {"draft": draft, "sent_at": at, "subject": subject, "body_text": body}
    if parent is not None:
        fields["in_reply_to"] = parent.message_id
        fields["references"] = " ".join(filter(None, [parent.references, parent.message_id]))
    return OutboundMessageFactory(**fields)


def _came_back(message, kind, *, at, text="", **payload):
    return EngagementEvent.objects.create(
        message=message,
        recipient=message.recipient,
        kind=kind,
        provider="mailbox",
        email=message.to_email,
        occurred_at=at,
        reply_text=text,
        payload=payload,
    )


@pytest.fixture
def conversation(rep):
    """Rep's thread with Liu: first email, a bounce-free follow-up, a reply to each, an
    out-of-office in between; and a second, separate thread."""
    t0 = timezone.now() - timedelta(days=5)
    liu = RecipientFactory(owner=rep, email="liu@customer.example")
    first = _email(rep, liu, at=t0, body="First email body")
    auto = _came_back(first, Kind.AUTO_REPLIED, at=t0 + timedelta(hours=1), text="I am away", subject="Out of office")
    follow_up = _email(rep, liu, at=t0 + timedelta(days=2), parent=first, subject="Re: Your October usage")
    reply = _came_back(follow_up, Kind.REPLIED, at=t0 + timedelta(days=3), text="Yes, let's talk", subject="Re: x")
    later = _email(rep, liu, at=t0 + timedelta(days=4), subject="Another topic", body="Second thread body")
    bounce = _came_back(later, Kind.BOUNCED, at=t0 + timedelta(days=4, hours=1), status="5.1.1", description="no user")
    return {
        "liu": liu, "first": first, "auto": auto, "follow_up": follow_up, "reply": reply, "later": later,
        "bounce": bounce,
    }  # fmt: skip


def test_it_lists_every_email_of_a_thread_in_and_out_oldest_first(rep, conversation):
    entries = selectors.thread_entries(user=rep, thread_id=conversation["first"].pk)
    assert [(e.direction, e.kind) for e in entries] == [
        ("out", "email"),
        ("in", "auto_replied"),
        ("out", "email"),
        ("in", "replied"),
    ]
    assert entries[3].text == "Yes, let's talk"
    assert entries[3].from_address == "liu@customer.example"
    assert all(e.thread_id == conversation["first"].pk for e in entries)


def test_a_follow_up_is_not_a_thread_of_its_own(rep, conversation):
    assert selectors.thread_entries(user=rep, thread_id=conversation["follow_up"].pk) == []
    assert selectors.thread_id_of(user=rep, message_id=conversation["follow_up"].pk) == conversation["first"].pk


def test_the_contact_view_has_every_email_across_threads(rep, conversation):
    entries = selectors.contact_conversation(user=rep, recipient=conversation["liu"])
    assert [e.event or e.message for e in entries] == [
        conversation["first"],
        conversation["auto"],
        conversation["follow_up"],
        conversation["reply"],
        conversation["later"],
        conversation["bounce"],
    ]
    assert {e.thread_id for e in entries} == {conversation["first"].pk, conversation["later"].pk}
    assert entries[-1].text == "5.1.1 no user"


def test_an_inbox_lists_its_threads_with_counts(rep, conversation):
    threads = {t.pk: t for t in selectors.threads_of(selectors.messages_visible_to(rep))}
    assert set(threads) == {conversation["first"].pk, conversation["later"].pk}
    first = threads[conversation["first"].pk]
    assert (first.email_count, first.inbound_count) == (2, 2)
    assert first.last_activity_at == conversation["reply"].occurred_at
    later = threads[conversation["later"].pk]
    assert (later.email_count, later.inbound_count, later.last_activity_at) == (
        1,
        1,
        conversation["bounce"].occurred_at,
    )


def test_a_rep_sees_no_one_elses_thread(other_rep, conversation, login_client):
    assert selectors.thread_entries(user=other_rep, thread_id=conversation["first"].pk) == []
    client = login_client(other_rep)
    assert client.get(reverse("thread_detail", args=[conversation["first"].pk])).status_code == 404
    assert client.get(reverse("contact_threads", args=[conversation["liu"].pk])).status_code == 404


def test_a_csm_reads_the_teams_threads(csm_client, conversation):
    page = csm_client.get(reverse("thread_detail", args=[conversation["first"].pk])).content.decode()
    assert "First email body" in page and "I am away" in page and "Yes, let&#x27;s talk" in page
    assert page.index("First email body") < page.index("I am away") < page.index("Yes, let&#x27;s talk")


def test_the_thread_page_is_the_owners(rep_client, conversation):
    response = rep_client.get(reverse("thread_detail", args=[conversation["first"].pk]))
    assert response.status_code == 200
    assert "Second thread body" not in response.content.decode()


def test_a_follow_ups_id_leads_to_its_thread(rep_client, conversation):
    response = rep_client.get(reverse("thread_detail", args=[conversation["follow_up"].pk]))
    assert response.status_code == 302
    assert response.url == reverse("thread_detail", args=[conversation["first"].pk]) + (
        f"#out-{conversation['follow_up'].pk}"
    )


def test_the_recipient_page_links_to_every_email_with_the_contact(rep_client, conversation):
    liu = conversation["liu"]
    page = rep_client.get(reverse("recipient_detail", args=[liu.pk])).content.decode()
    assert reverse("contact_threads", args=[liu.pk]) in page
    listing = rep_client.get(reverse("contact_threads", args=[liu.pk])).content.decode()
    assert "First email body" in listing and "Second thread body" in listing and "no user" in listing
    assert reverse("thread_detail", args=[conversation["later"].pk]) in listing


def test_the_replies_page_opens_each_replys_thread(rep_client, conversation):
    page = rep_client.get(reverse("replies")).content.decode()
    reply = conversation["reply"]
    assert f"{reverse('thread_detail', args=[reply.message_id])}#in-{reply.pk}" in page


def test_a_mailbox_lists_its_owners_threads(rep, rep_client, other_rep, conversation, login_client):
    mailbox = MailboxConnection.objects.create(user=rep, email_address="rep1@team.example", kind="local")
    page = rep_client.get(reverse("mailbox_threads", args=[mailbox.pk])).content.decode()
    assert reverse("thread_detail", args=[conversation["first"].pk]) in page
    assert reverse("thread_detail", args=[conversation["later"].pk]) in page
    assert login_client(other_rep).get(reverse("mailbox_threads", args=[mailbox.pk])).status_code == 404


def _grow(rep, recipient, n):
    """n more threads of two emails, each with a reply, to the same contact."""
    now = timezone.now()
    for i in range(n):
        first = _email(rep, recipient, at=now - timedelta(hours=i + 2), subject=f"Topic {i}")
        follow = _email(rep, recipient, at=now - timedelta(hours=i + 1), parent=first, subject=f"Re: Topic {i}")
        _came_back(follow, Kind.REPLIED, at=now - timedelta(hours=i), text=f"answer {i}")


def test_the_thread_pages_make_a_fixed_number_of_queries(rep, rep_client, conversation, django_assert_num_queries):
    liu = conversation["liu"]
    mailbox = MailboxConnection.objects.create(user=rep, email_address="rep1@team.example", kind="local")
    urls = [
        reverse("thread_detail", args=[conversation["first"].pk]),
        reverse("contact_threads", args=[liu.pk]),
        reverse("mailbox_threads", args=[mailbox.pk]),
    ]
    counts = {}
    for url in urls:
        with CaptureQueriesContext(connection) as ctx:
            assert rep_client.get(url).status_code == 200
        counts[url] = len(ctx)
    _grow(rep, liu, 8)
    for first in (conversation["first"],):
        _email(rep, liu, at=timezone.now(), parent=first, subject="Re: more")
    for url in urls:
        with django_assert_num_queries(counts[url]):
            assert rep_client.get(url).status_code == 200
    # Emails and what came back are two queries, whatever their number (the role is read once).
    selectors.contact_conversation(user=rep, recipient=liu)
    with django_assert_num_queries(2):
        selectors.contact_conversation(user=rep, recipient=liu)
