"""GET /v1/inboxes/{id}/threads/ and a thread's messages: every email in and out, oldest first,
with public ids; a rep reads only their own inbox, CSMs and admins any."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from outreach.core.public_ids import encode as pid
from outreach.mail.models import EngagementEvent
from tests.factories import DraftFactory, OutboundMessageFactory, RecipientFactory

pytestmark = pytest.mark.django_db


def _email(sender, recipient, *, at, parent=None, subject="Proposal", body="Hi"):
    draft = DraftFactory(sender=sender, recipient=recipient, state="approved", subject=subject, body_text=body)
    fields = {"draft": draft, "sent_at": at, "subject": subject, "body_text": body}
    if parent is not None:
        fields["in_reply_to"] = parent.message_id
        fields["references"] = parent.message_id
    return OutboundMessageFactory(**fields)


@pytest.fixture
def thread(rep):
    t0 = timezone.now() - timedelta(days=3)
    buyer = RecipientFactory(owner=rep, email="buyer@example.com")
    first = _email(rep, buyer, at=t0, body="Checking whether you had a chance to review the proposal.")
    follow = _email(rep, buyer, at=t0 + timedelta(days=1), parent=first, subject="Re: Proposal", body="Any questions?")
    reply = EngagementEvent.objects.create(
        message=follow, recipient=buyer, kind="replied", provider="mailbox", email="buyer@example.com",
        occurred_at=t0 + timedelta(days=2), reply_text="Let's talk Tuesday.",
        payload={"subject": "Re: Proposal", "message_id": "<answer@example.com>"},
    )  # fmt: skip
    return {"buyer": buyer, "first": first, "follow": follow, "reply": reply}


def test_an_inbox_lists_its_threads(rep, thread, api_client_for):
    api = api_client_for(rep, "inboxes:read")
    response = api.get(f"/v1/inboxes/{pid('inb', rep.sender.pk)}/threads/")
    assert response.status_code == 200
    body = response.json()
    assert body["next_cursor"] is None
    [item] = body["items"]
    assert item["id"] == pid("thr", thread["first"].pk)
    assert item["first_message_id"] == pid("msg", thread["first"].pk)
    assert item["inbox_id"] == pid("inb", rep.sender.pk)
    assert item["contact_id"] == pid("ctc", thread["buyer"].pk)
    assert (item["email_count"], item["inbound_count"]) == (2, 1)


def test_a_threads_messages_are_every_email_in_and_out_oldest_first(rep, thread, api_client_for):
    api = api_client_for(rep, "inboxes:read")
    url = f"/v1/inboxes/{pid('inb', rep.sender.pk)}/threads/{pid('thr', thread['first'].pk)}/messages/"
    body = api.get(url).json()
    assert body["thread"]["id"] == pid("thr", thread["first"].pk)
    assert [(m["direction"], m["kind"], m["id"]) for m in body["items"]] == [
        ("out", "email", pid("msg", thread["first"].pk)),
        ("out", "email", pid("msg", thread["follow"].pk)),
        ("in", "replied", pid("eng", thread["reply"].pk)),
    ]
    reply = body["items"][2]
    assert reply["text"] == "Let's talk Tuesday."
    assert reply["answers_id"] == pid("msg", thread["follow"].pk)
    assert reply["message_id"] == "<answer@example.com>"
    assert reply["from_address"] == "buyer@example.com"
    assert body["items"][0]["status"] == "success"
    assert body["items"][0]["message_id"] == thread["first"].message_id


def test_a_follow_up_is_not_a_thread_id(rep, thread, api_client_for):
    api = api_client_for(rep, "inboxes:read")
    url = f"/v1/inboxes/{pid('inb', rep.sender.pk)}/threads/{pid('thr', thread['follow'].pk)}/messages/"
    assert api.get(url).status_code == 404


def test_a_rep_cannot_read_another_reps_inbox(rep, other_rep, thread, api_client_for):
    api = api_client_for(other_rep, "inboxes:read")
    inbox = pid("inb", rep.sender.pk)
    assert api.get(f"/v1/inboxes/{inbox}/threads/").status_code == 404
    assert api.get(f"/v1/inboxes/{inbox}/threads/{pid('thr', thread['first'].pk)}/messages/").status_code == 404
    # Nor a thread of someone else's through their own inbox.
    own = f"/v1/inboxes/{pid('inb', other_rep.sender.pk)}/threads/{pid('thr', thread['first'].pk)}/messages/"
    assert api.get(own).status_code == 404


def test_a_csm_reads_any_inbox(csm, rep, thread, api_client_for):
    api = api_client_for(csm, "inboxes:read")
    items = api.get(f"/v1/inboxes/{pid('inb', rep.sender.pk)}/threads/").json()["items"]
    assert [i["id"] for i in items] == [pid("thr", thread["first"].pk)]


def test_threads_page_by_cursor_and_filter_by_contact(rep, api_client_for):
    now = timezone.now()
    contacts = [RecipientFactory(owner=rep) for _ in range(3)]
    firsts = [_email(rep, c, at=now - timedelta(hours=i)) for i, c in enumerate(contacts)]
    api = api_client_for(rep, "inboxes:read")
    base = f"/v1/inboxes/{pid('inb', rep.sender.pk)}/threads/"
    page1 = api.get(base, {"limit": 2}).json()
    page2 = api.get(base, {"limit": 2, "cursor": page1["next_cursor"]}).json()
    assert [i["id"] for i in page1["items"] + page2["items"]] == [pid("thr", m.pk) for m in firsts]
    assert page2["next_cursor"] is None
    only = api.get(base, {"contact_id": pid("ctc", contacts[1].pk)}).json()["items"]
    assert [i["id"] for i in only] == [pid("thr", firsts[1].pk)]


def test_the_thread_list_makes_a_fixed_number_of_queries(rep, api_client_for, django_assert_num_queries):
    api = api_client_for(rep, "inboxes:read")
    url = f"/v1/inboxes/{pid('inb', rep.sender.pk)}/threads/"
    now = timezone.now()
    _email(rep, RecipientFactory(owner=rep), at=now)
    api.get(url)  # the token's first use is recorded once
    with CaptureQueriesContext(connection) as first:
        api.get(url)
    for i in range(6):
        _email(rep, RecipientFactory(owner=rep), at=now - timedelta(hours=i))
    with django_assert_num_queries(len(first)):
        assert len(api.get(url).json()["items"]) == 7


def test_a_made_up_thread_id_is_a_422(rep, api_client_for):
    api = api_client_for(rep, "inboxes:read")
    response = api.get(f"/v1/inboxes/{pid('inb', rep.sender.pk)}/threads/thr_made_up/messages/")
    assert response.status_code == 422
    assert response.json()["field"] == "thread_id"
