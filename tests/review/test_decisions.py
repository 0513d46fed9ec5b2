"""Decisions on a draft: approve, edit and approve, reject; optimistic locking; the signal."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from outreach.core.errors import ApplicationError
from outreach.mail.models import OutboundMessage
from outreach.suppression.models import Suppression
from outreach.suppression.selectors import suppression_check
from review import services
from review.models import Draft, DraftDecision, DraftEdit, DraftVersion
from review.signals import draft_decided
from tests.factories import DraftFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(rep):
    return DraftFactory(sender=rep, cc=["boss@customer.example"])


@pytest.fixture
def decided():
    received = []

    def listener(sender, **kwargs):
        received.append(kwargs)

    draft_decided.connect(listener)
    yield received
    draft_decided.disconnect(listener)


def test_approving_creates_one_outbound_message_from_the_approved_text(draft, rep):
    services.draft_approve(draft=draft, user=rep, expected_version=draft.version)
    draft.refresh_from_db()
    assert draft.state == Draft.State.APPROVED and draft.decided_by == rep and draft.version == 2
    message = OutboundMessage.objects.get(draft_ref=draft.pk)
    assert (message.subject, message.body_text, message.cc) == (draft.subject, draft.body_text, draft.cc)
    assert message.approved_by == rep and message.to_email == draft.recipient.email
    assert DraftDecision.objects.get(draft=draft).action == "approve"
    assert not DraftEdit.objects.exists()


def test_approving_a_version_the_user_did_not_see_is_refused(draft, rep):
    with pytest.raises(services.DraftConflict, match="changed since you opened it"):
        services.draft_approve(draft=draft, user=rep, expected_version=draft.version + 1)
    assert not OutboundMessage.objects.exists()


def test_a_double_click_approves_once_and_the_second_gets_a_conflict(draft, rep):
    services.draft_approve(draft=draft, user=rep, expected_version=1)
    with pytest.raises(services.DraftConflict, match="already approved by"):
        services.draft_approve(draft=draft, user=rep, expected_version=1)
    assert OutboundMessage.objects.count() == 1
    assert DraftDecision.objects.filter(action="approve").count() == 1


def test_editing_then_approving_records_the_edit_with_its_distances(draft, rep):
    body = "Hi Liu,\n\nYou logged in 14 times last month.\n\nBest,\nRita"
    services.draft_approve(draft=draft, user=rep, expected_version=1, subject="October", body_text=body)
    edit = DraftEdit.objects.get(draft=draft)
    assert (edit.subject_before, edit.subject_after) == ("Your October usage", "October")
    assert edit.body_after == body and edit.editor == rep
    assert edit.char_distance > 0 and 0 < edit.normalized_similarity < 1 and edit.word_distance == 4
    assert edit.changed_parts == ["subject", "body"]
    draft.refresh_from_db()
    assert draft.body_text == body and "last month" in draft.body_html
    assert DraftVersion.objects.get(draft=draft).origin == "edited"
    assert DraftDecision.objects.get(draft=draft).action == "edit_approve"
    assert OutboundMessage.objects.get(draft_ref=draft.pk).body_text == body


def test_an_edited_body_is_sanitized_before_it_is_stored(draft, rep):
    body = "Hi <script>alert(1)</script>Liu,\n\nSee https://example.com/x\n\nBest"
    services.draft_approve(draft=draft, user=rep, expected_version=1, body_text=body)
    draft.refresh_from_db()
    assert "<script" not in draft.body_html and "alert" not in draft.body_text
    assert '<a href="https://example.com/x" rel="nofollow noopener">' in draft.body_html


def test_changing_only_cc_and_bcc_is_an_edit_of_those_parts(draft, rep):
    services.draft_approve(draft=draft, user=rep, expected_version=1, cc=[], bcc=["Ops@Team.example"])
    edit = DraftEdit.objects.get(draft=draft)
    assert edit.changed_parts == ["cc", "bcc"] and edit.char_distance == 0
    assert OutboundMessage.objects.get(draft_ref=draft.pk).bcc == ["ops@team.example"]


def test_an_invalid_cc_address_refuses_the_approval(draft, rep):
    with pytest.raises(ApplicationError, match="not a valid email address"):
        services.draft_approve(draft=draft, user=rep, expected_version=1, cc=["not-an-address"])
    assert Draft.objects.get(pk=draft.pk).state == Draft.State.READY


def test_an_empty_body_cannot_be_approved(draft, rep):
    with pytest.raises(ApplicationError, match="cannot be empty"):
        services.draft_approve(draft=draft, user=rep, expected_version=1, body_text="   ")


def test_rejecting_records_the_reason_and_the_note(draft, rep):
    services.draft_reject(draft=draft, user=rep, expected_version=1, reason="tone", note="Too pushy")
    draft.refresh_from_db()
    decision = DraftDecision.objects.get(draft=draft)
    assert draft.state == Draft.State.REJECTED
    assert (decision.action, decision.reason, decision.note) == ("reject", "tone", "Too pushy")
    assert suppression_check(recipient=draft.recipient) is None


def test_rejecting_with_do_not_contact_suppresses_the_recipient(draft, rep):
    services.draft_reject(draft=draft, user=rep, expected_version=1, reason="do_not_contact")
    entry = Suppression.objects.get()
    assert (entry.kind, entry.value, entry.reason) == ("recipient", str(draft.recipient_id), "do_not_contact")
    assert entry.added_by == rep
    assert suppression_check(recipient=draft.recipient).reason == "do_not_contact"


def test_a_reject_needs_a_reason_from_the_list(draft, rep):
    with pytest.raises(ApplicationError, match="reason"):
        services.draft_reject(draft=draft, user=rep, expected_version=1, reason="because")


def test_an_approved_draft_cannot_then_be_rejected(draft, rep):
    services.draft_approve(draft=draft, user=rep, expected_version=1)
    with pytest.raises(services.DraftConflict):
        services.draft_reject(draft=draft, user=rep, expected_version=2, reason="tone")


@pytest.mark.broker
def test_decisions_send_draft_decided_on_commit_with_the_edit(draft, rep, decided, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.draft_approve(draft=draft, user=rep, expected_version=1, subject="New subject")
    assert decided == []  # nothing before the commit
    for callback in callbacks:
        callback()
    [kwargs] = decided
    assert kwargs["decision"].action == "edit_approve" and kwargs["edit"].subject_after == "New subject"
    assert kwargs["draft"].pk == draft.pk


def test_rejections_are_emitted_as_events_too(draft, rep, decided, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.draft_reject(draft=draft, user=rep, expected_version=1, reason="not_relevant")
    assert decided[0]["decision"].reason == "not_relevant" and decided[0]["edit"] is None


@pytest.mark.broker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_reviewers_racing_to_approve_create_one_message(rep, other_rep):
    draft = DraftFactory(sender=rep, reviewer=other_rep)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(user):
        try:
            barrier.wait()
            services.draft_approve(draft=draft, user=user, expected_version=1)
            outcomes.append("approved")
        except services.DraftConflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(u,)) for u in (rep, other_rep)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["approved", "conflict"]
    assert OutboundMessage.objects.filter(draft_ref=draft.pk).count() == 1
    assert DraftDecision.objects.filter(draft=draft).count() == 1


@pytest.mark.broker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_reviewer_who_waited_on_the_lock_is_told_who_decided(rep, other_rep):
    """The second reviewer blocks on the row lock while the first commits; PostgreSQL then hands
    back the new row but not a re-read of joined tables, so "who decided" must not come from a
    join made under the lock (found by the load test: the message lost the name)."""
    from django.db import transaction

    rep.first_name, rep.last_name = "Ana", "First"
    rep.save()
    draft = DraftFactory(sender=rep, reviewer=other_rep)
    locked, release = threading.Event(), threading.Event()
    outcome: list[str] = []

    def first():
        try:
            with transaction.atomic():
                services.draft_approve(draft=draft, user=rep, expected_version=1)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    def second():
        try:
            locked.wait(10)
            services.draft_approve(draft=draft, user=other_rep, expected_version=1)
            outcome.append("approved")
        except services.DraftConflict as exc:
            outcome.append(exc.message)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    # Commit the first approval only once the second is waiting on the row lock.
    with connection.cursor() as cursor:
        for _ in range(200):
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                break
            threading.Event().wait(0.05)
    release.set()
    for t in threads:
        t.join()
    assert len(outcome) == 1 and "already approved by Ana First" in outcome[0], outcome
