"""Bulk approve: drafts a reviewer explicitly ticked, without unsupported claims, approved after a
confirmation that shows the count, each through the same approve service as a single approval."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from outreach.integrations.models import EmittedEvent
from outreach.mail.models import OutboundMessage
from outreach.mail.services.sending import outbound_message_send
from outreach.suppression.models import Suppression
from review.models import Draft, DraftDecision
from tests.factories import DraftFactory, SuppressionFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _grounded(sender, n, **kwargs) -> list[Draft]:
    now = timezone.now()
    return [
        DraftFactory(
            sender=sender,
            grounding=[],
            unsupported_claim_count=0,
            subject=f"Subject {i}",
            ready_at=now - timedelta(minutes=n - i),
            **kwargs,
        )
        for i in range(n)
    ]


def _post(client, drafts, *, confirmed: bool, versions=None):
    data = {"draft": [f"{d.pk}:{(versions or {}).get(d.pk, d.version)}" for d in drafts]}
    if confirmed:
        data["confirmed"] = "1"
    return client.post(reverse("draft_bulk_approve"), data, **HTMX)


def test_the_list_offers_a_tick_box_only_for_drafts_without_unsupported_claims(rep, rep_client):
    clean = _grounded(rep, 1)[0]
    flagged = DraftFactory(sender=rep)  # one unsupported claim
    page = rep_client.get(reverse("review_queue")).content.decode()
    assert f'value="{clean.pk}:{clean.version}" form="bulk-form"' in page
    assert f'value="{flagged.pk}:' not in page
    assert "Approve selected (<span data-bulk-count>0</span>)" in page


def test_the_confirmation_shows_the_count_and_approves_nothing_yet(rep, rep_client):
    drafts = _grounded(rep, 3)
    response = _post(rep_client, drafts[:2], confirmed=False)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Approve 2 emails?" in html and "Subject 0" in html and "Subject 1" in html
    assert html.count('name="draft"') == 2 and 'name="confirmed" value="1"' in html
    assert not Draft.objects.filter(state=Draft.State.APPROVED).exists()


def test_each_confirmed_draft_is_approved_by_that_user_through_the_approve_service(rep, rep_client, undo_hold):
    drafts = _grounded(rep, 3)
    response = _post(rep_client, drafts, confirmed=True)

    assert response.status_code == 200
    assert "Approved 3 emails; it is held for 10 s" in response.content.decode()
    assert "draftDecided" in response["HX-Trigger"]
    for draft in drafts:
        draft.refresh_from_db()
        assert (draft.state, draft.decided_by) == (Draft.State.APPROVED, rep)
        decision = DraftDecision.objects.get(draft=draft)
        assert (decision.action, decision.user, decision.note) == (
            "approve",
            rep,
            "bulk approval of 3 selected drafts",
        )
        # The undo hold applies as to a single approval.
        message = OutboundMessage.objects.get(draft_ref=draft.pk)
        assert message.not_before > timezone.now() + timedelta(seconds=5)
    assert EmittedEvent.objects.filter(type=EmittedEvent.Type.DRAFT_EDIT).count() == 3


def test_a_draft_with_unsupported_claims_is_refused_with_the_reason(rep, rep_client):
    clean = _grounded(rep, 1)[0]
    flagged = DraftFactory(sender=rep, recipient__first_name="Flagged", recipient__last_name="Person")

    confirm = _post(rep_client, [clean, flagged], confirmed=False).content.decode()
    assert "Approve 1 email?" in confirm
    assert "Flagged Person: it has 1 unsupported claim: open it and approve it on its own." in confirm

    # A crafted POST (or a draft regenerated meanwhile) is refused by the service itself.
    done = _post(rep_client, [clean, flagged], confirmed=True).content.decode()
    assert "Approved 1 email;" in done
    assert "Flagged Person: it has 1 unsupported claim" in done
    assert Draft.objects.get(pk=flagged.pk).state == Draft.State.READY
    assert not OutboundMessage.objects.filter(draft_ref=flagged.pk).exists()


def test_a_draft_that_changed_since_it_was_ticked_is_not_approved_unseen(rep, rep_client):
    kept, changed = _grounded(rep, 2)
    Draft.objects.filter(pk=changed.pk).update(version=5, subject="A regenerated subject")

    response = _post(rep_client, [kept, changed], confirmed=True, versions={changed.pk: 1})
    assert "This draft changed since you opened it" in response.content.decode()
    assert Draft.objects.get(pk=changed.pk).state == Draft.State.READY
    assert Draft.objects.get(pk=kept.pk).state == Draft.State.APPROVED


def test_another_reps_draft_is_neither_approved_nor_named(rep, other_rep, rep_client):
    mine = _grounded(rep, 1)[0]
    theirs = _grounded(other_rep, 1, recipient__first_name="Secret")[0]

    confirm = _post(rep_client, [mine, theirs], confirmed=False).content.decode()
    assert "Approve 1 email?" in confirm and "Secret" not in confirm
    _post(rep_client, [mine, theirs], confirmed=True)
    assert Draft.objects.get(pk=theirs.pk).state == Draft.State.READY


def test_suppression_still_applies_to_a_bulk_approved_email(rep, rep_client):
    first, second = _grounded(rep, 2)
    SuppressionFactory(kind=Suppression.Kind.ADDRESS, value=second.recipient.email)
    _post(rep_client, [first, second], confirmed=True)

    message = OutboundMessage.objects.get(draft_ref=second.pk)
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == OutboundMessage.State.SKIPPED


def test_nothing_ticked_approves_nothing(rep, rep_client):
    _grounded(rep, 1)
    response = rep_client.post(reverse("draft_bulk_approve"), {"confirmed": "1"}, **HTMX)
    assert response.status_code == 200 and "Approved 0 emails; nothing to send." in response.content.decode()
    assert not OutboundMessage.objects.exists()


def test_without_javascript_the_confirmation_is_a_page_and_the_result_a_message(rep, rep_client):
    drafts = _grounded(rep, 2)
    data = {"draft": [f"{d.pk}:{d.version}" for d in drafts]}
    page = rep_client.post(reverse("draft_bulk_approve"), data)
    assert "<title>Approve together" in page.content.decode() and "Approve 2 emails?" in page.content.decode()

    done = rep_client.post(reverse("draft_bulk_approve"), {**data, "confirmed": "1"}, follow=True)
    assert "Approved 2 emails" in done.content.decode()
    assert Draft.objects.filter(state=Draft.State.APPROVED).count() == 2


def test_the_queue_page_keeps_its_query_count_with_tick_boxes(rep, rep_client, django_assert_max_num_queries):
    _grounded(rep, 20)
    with django_assert_max_num_queries(13):
        assert rep_client.get(reverse("review_queue")).status_code == 200
