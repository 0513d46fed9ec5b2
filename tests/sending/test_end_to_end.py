"""The demo's promise: an approved draft arrives in the local mailbox from the rep's name."""

from __future__ import annotations

import pytest
from django.urls import reverse

from outreach.mail.models import LocalMailboxMessage, OutboundMessage
from review.services import draft_approve
from tests.broker import run_queued_tasks
from tests.factories import DraftFactory

pytestmark = pytest.mark.django_db


@pytest.mark.broker
def test_an_approved_draft_is_sent_by_the_worker_into_the_local_mailbox(
    rep, rep_client, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "outreach.mail.local_mailbox.LocalMailboxBackend"
    rep.sender.display_name = "Rita Ramos"
    rep.sender.save()
    draft = DraftFactory(sender=rep)
    with django_capture_on_commit_callbacks(execute=True):
        draft_approve(draft=draft, user=rep, expected_version=draft.version)
    # What the worker does: take the task that approval enqueued from the broker and run it.
    assert [t.func for t in run_queued_tasks()] == ["outreach.mail.tasks.outbound_message_send"]
    assert OutboundMessage.objects.get().state == OutboundMessage.State.SENT
    mail = LocalMailboxMessage.objects.get()
    assert mail.from_email == "Rita Ramos <rep1@team.example>"
    assert mail.subject == draft.subject
    page = rep_client.get(reverse("mailbox")).content.decode()
    assert "Rita Ramos" in page and draft.subject in page
