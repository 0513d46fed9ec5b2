"""The promises, under random interleavings of everything that can happen to a recipient.

A hypothesis state machine imports recipients, suppresses and releases addresses, domains and
recipient ids, requests and generates drafts, approves (as is or edited) and rejects them, sends,
delivers provider webhook events and replies, enrolls recipients in a campaign, runs the milestone
scan and moves the clock. After every step it checks:

- nothing was sent to a recipient who was suppressed at the time of sending (the oracle reads the
  suppression rows itself, it does not ask the code under test);
- nothing was sent that a human did not approve in exactly that text;
- no recipient got the same enrollment step twice;
- every skip has a recorded reason.

Each example runs inside a savepoint that is rolled back, so the machine runs on the real database
(SQLite and PostgreSQL) without a flush between examples. `on_commit` work (the signals other apps
listen to) runs at the end of each step, as it would after the commit.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from anymail.signals import AnymailTrackingEvent
from django.core import mail
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count, Q
from django.test import TestCase
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from campaigns import services as campaign_services
from campaigns.models import Campaign, Enrollment, MilestoneRule, SequenceStep
from campaigns.services import milestones
from outreach.core.errors import ApplicationError
from outreach.drafting import OfflineProvider
from outreach.mail.models import EngagementEvent, OutboundMessage
from outreach.mail.services import engagement as tracking
from outreach.mail.services.sending import outbound_message_send
from outreach.people.models import Recipient
from outreach.people.services import imports
from outreach.suppression.models import Suppression
from outreach.suppression.services import suppression_add, suppression_list_get_global, suppression_remove
from review import services as review_services
from review.models import Draft, DraftDecision, DraftSkip, RejectReason
from tests.broker import broker_purge
from tests.factories import UserFactory

# Sends, webhooks and imports hand tasks to the broker: run on the ORM broker and on Redis.
pytestmark = pytest.mark.broker

State = OutboundMessage.State

# A small world, so that suppressions, drafts and sends collide often.
DOMAINS = ["acme.example", "mail.acme.example", "globex.example"]
LOCAL_PARTS = ["ana", "ben", "chen", "dora", "eli", "fay"]
EMAILS = [f"{local}@{domain}" for local in LOCAL_PARTS for domain in DOMAINS]
EDIT_SUFFIX = "\n\nP.S. I can also send the summary as a PDF."

# What the run exercised, printed at the end (pytest -s) so a run that tested nothing shows.
STATS: Counter[str] = Counter()

picks = st.integers(min_value=0, max_value=1000)


def _pick(items: list, index: int):
    return items[index % len(items)] if items else None


def has_recipients(machine) -> bool:
    return Recipient.objects.exists()


def has_drafts(*states: str):
    return lambda machine: Draft.objects.filter(state__in=states).exists()


def has_messages(state: str):
    return lambda machine: OutboundMessage.objects.filter(state=state).exists()


def _on_commit():
    """Run the on-commit callbacks registered during the block (signals, task nudges) at its end."""
    return TestCase.captureOnCommitCallbacks(execute=True)


def suppressed_now(recipient: Recipient) -> str | None:
    """The oracle: is this recipient suppressed right now, read straight from the entries of the
    global list (address, domain with subdomains, recipient id), honouring removal and expiry."""
    email = recipient.email.lower()
    domain = email.rsplit("@", 1)[-1]
    now = timezone.now()
    active = Suppression.objects.filter(suppression_list=suppression_list_get_global(), removed_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    for entry in active:
        if (
            (entry.kind == Suppression.Kind.ADDRESS and entry.value == email)
            or (entry.kind == Suppression.Kind.DOMAIN and (domain == entry.value or domain.endswith("." + entry.value)))
            or (entry.kind == Suppression.Kind.RECIPIENT and entry.value == str(recipient.pk))
        ):
            return f"{entry.kind} {entry.value} ({entry.reason})"
    return None


class PromisesMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # Everything this example writes is rolled back in teardown().
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        # The broker's queue too: the ORM broker's rows would roll back, a Redis queue would not.
        broker_purge()
        mail.outbox = []
        # What a human approved, by message id: (subject, body_text, user id).
        self.approved: dict[int, tuple[str, str, int]] = {}
        # Emails seen leaving, by message id, with what the oracle said at the moment of sending.
        self.sent: dict[int, str | None] = {}
        self.now = timezone.now()
        self.imports = 0

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- the world ----------------------------------------------------------------------------

    @initialize()
    def team_and_campaign(self) -> None:
        STATS["examples"] += 1
        self.rep = UserFactory(username="prop-rep", role="rep")
        self.reviewer = UserFactory(username="prop-csm", role="csm")
        self.admin = UserFactory(username="prop-admin", role="admin")
        self.campaign = Campaign.objects.create(
            name="Renewals", goal="Book renewal calls", key_message="Forecasting is included",
            call_to_action="A 20-minute call?", status=Campaign.Status.ACTIVE, created_by=self.reviewer,
        )  # fmt: skip
        for position, delay in ((1, 0), (2, 3)):
            SequenceStep.objects.create(
                campaign=self.campaign,
                position=position,
                delay_days=delay,
                subject=f"Step {position}: your renewal, {{{{ first_name }}}}",
                body=f"Hi {{{{ first_name }}}},\n\nStep {position}: your renewal is coming up.\n\nBest,",
            )
        milestones.milestone_rule_create(campaign=self.campaign, kind=MilestoneRule.Kind.RENEWAL_WITHIN, parameters={})

    @rule(emails=st.lists(st.sampled_from(EMAILS), min_size=1, max_size=4, unique=True), renewal=st.booleans())
    def import_recipients(self, emails: list[str], renewal: bool) -> None:
        self.imports += 1
        renewal_date = (timezone.localdate() + timedelta(days=10)).isoformat() if renewal else ""
        rows = [
            f"{e},{e.split('@')[0].title()},Acme {e.split('@')[1]},{self.rep.username},{renewal_date}" for e in emails
        ]
        content = "Email,First Name,Company,Owner,Renewal Date\n" + "\n".join(rows) + "\n"
        job = imports.import_job_create(
            file=ContentFile(content.encode(), name=f"p{self.imports}.csv"), user=self.admin
        )
        imports.import_job_confirm(job=job, mapping=job.mapping, enqueue=False)
        with _on_commit():
            imports.import_job_run(job_id=job.pk)
        job.refresh_from_db()
        assert job.error_count == 0, job.errors

    # --- suppression --------------------------------------------------------------------------

    @precondition(has_recipients)
    @rule(i=picks, kind=st.sampled_from(Suppression.Kind.values))
    def suppress(self, i: int, kind: str) -> None:
        recipient = _pick(list(Recipient.objects.order_by("pk")), i)
        if recipient is None:
            return
        value = {
            Suppression.Kind.ADDRESS: recipient.email,
            Suppression.Kind.DOMAIN: recipient.email.rsplit("@", 1)[-1],
            Suppression.Kind.RECIPIENT: str(recipient.pk),
        }[kind]
        with _on_commit():
            suppression_add(kind=kind, value=value, reason=Suppression.Reason.LEGAL_REQUEST, added_by=self.admin)

    @precondition(lambda machine: Suppression.objects.filter(removed_at__isnull=True).exists())
    @rule(i=picks)
    def release(self, i: int) -> None:
        entry = _pick(list(Suppression.objects.filter(removed_at__isnull=True).order_by("pk")), i)
        if entry is not None:
            with _on_commit():
                suppression_remove(
                    entry=entry, removed_by=self.admin, reason="released in a property test", confirmed_legal=True
                )

    # --- drafts -------------------------------------------------------------------------------

    @precondition(has_recipients)
    @rule(i=picks)
    def request_draft(self, i: int) -> None:
        recipient = _pick(list(Recipient.objects.order_by("pk")), i)
        if recipient is not None:
            with _on_commit():
                review_services.draft_request(recipient=recipient, sender=self.rep)

    @precondition(has_drafts(Draft.State.QUEUED))
    @rule(i=picks)
    def generate(self, i: int) -> None:
        draft = _pick(list(Draft.objects.filter(state=Draft.State.QUEUED).order_by("pk")), i)
        if draft is not None:
            with _on_commit():
                review_services.draft_generate(draft_id=draft.pk, provider=OfflineProvider())

    @precondition(has_drafts(Draft.State.READY))
    @rule(i=picks, edit=st.booleans())
    def approve(self, i: int, edit: bool) -> None:
        draft = _pick(list(Draft.objects.filter(state=Draft.State.READY).order_by("pk")), i)
        if draft is None:
            return
        # What the reviewer sees and approves (or edits and approves).
        subject, body = draft.subject, draft.body_text + (EDIT_SUFFIX if edit else "")
        try:
            with _on_commit():
                review_services.draft_approve(
                    draft=draft,
                    user=self.reviewer,
                    expected_version=draft.version,
                    subject=subject if edit else None,
                    body_text=body if edit else None,
                )
        except ApplicationError as exc:
            STATS[f"approval refused: {exc.message[:60]}"] += 1
            return
        message = OutboundMessage.objects.get(draft_ref=draft.pk)
        STATS["approved a campaign step" if draft.enrollment_ref else "approved an ad-hoc draft"] += 1
        self.approved[message.pk] = (subject, body, self.reviewer.pk)

    @precondition(has_drafts(Draft.State.READY, Draft.State.FAILED))
    @rule(i=picks, reason=st.sampled_from(RejectReason.values))
    def reject(self, i: int, reason: str) -> None:
        states = [Draft.State.READY, Draft.State.FAILED]
        draft = _pick(list(Draft.objects.filter(state__in=states).order_by("pk")), i)
        if draft is not None:
            with _on_commit():
                review_services.draft_reject(
                    draft=draft, user=self.reviewer, expected_version=draft.version, reason=reason, note="property test"
                )

    # --- sending and what comes back ------------------------------------------------------------

    @precondition(has_messages(State.QUEUED))
    @rule(i=picks)
    def send(self, i: int) -> None:
        message = _pick(list(OutboundMessage.objects.filter(state=State.QUEUED).order_by("pk")), i)
        if message is None:
            return
        # The suppression state at the time of sending, as the oracle reads it.
        suppression = suppressed_now(message.recipient)
        before = len(mail.outbox)
        with _on_commit():
            outbound_message_send(message_id=message.pk)
        message.refresh_from_db()
        STATS[f"send -> {message.state} {message.code}".strip()] += 1
        if len(mail.outbox) > before:
            assert len(mail.outbox) == before + 1
            assert message.state == State.SENT, message.state
            self.sent[message.pk] = suppression
            assert suppression is None, (
                f"message #{message.pk} sent to {message.to_email} while suppressed: {suppression}"
            )
            email = mail.outbox[-1]
            subject, body, _ = self.approved[message.pk]
            assert email.subject == subject
            assert email.body.startswith(body)
            assert "Unsubscribe:" in email.body[len(body) :]  # only the footer follows the approved text
        else:
            assert message.state != State.SENT

    @precondition(has_messages(State.SENT))
    @rule(i=picks, kind=st.sampled_from(["delivered", "opened", "bounced", "complained", "unsubscribed"]))
    def webhook_event(self, i: int, kind: str) -> None:
        message = _pick(list(OutboundMessage.objects.filter(state=State.SENT).order_by("pk")), i)
        if message is None:
            return
        event = AnymailTrackingEvent(
            event_type=kind,
            event_id=uuid.uuid4().hex,
            message_id=message.provider_message_id,
            recipient=message.to_email,
            esp_event={"Type": "HardBounce"} if kind == "bounced" else {},
        )
        with _on_commit():
            recorded = tracking.tracking_event_receive(event=event, esp_name="Postmark")
        if recorded is not None:
            STATS[f"webhook {kind}"] += 1
            with _on_commit():
                tracking.engagement_event_process(event_id=recorded.pk)

    @precondition(has_messages(State.SENT))
    @rule(i=picks)
    def reply(self, i: int) -> None:
        message = _pick(list(OutboundMessage.objects.filter(state=State.SENT).order_by("pk")), i)
        if message is None:
            return
        reply = EmailMessage()
        reply["From"] = message.to_email
        reply["To"] = message.reply_to or message.from_email
        reply["Subject"] = f"Re: {message.subject}"
        reply["Message-ID"] = make_msgid(domain="customer.example")
        reply["In-Reply-To"] = message.message_id
        reply.set_content("Thanks, let's talk next week.")
        with _on_commit():
            if tracking.reply_receive(message=reply, provider="imap", process_now=True):
                STATS["reply"] += 1

    @precondition(has_recipients)
    @rule(i=picks, edit=st.booleans())
    def whole_path(self, i: int, edit: bool) -> None:
        """Request, generate, approve and send in a row, so that sends are common enough to be
        interleaved with everything else (each part is also a rule of its own)."""
        recipient = _pick(list(Recipient.objects.order_by("pk")), i)
        with _on_commit():
            draft = review_services.draft_request(recipient=recipient, sender=self.rep)
        if draft is None:
            return
        with _on_commit():
            review_services.draft_generate(draft_id=draft.pk, provider=OfflineProvider())
        ready = list(Draft.objects.filter(state=Draft.State.READY).order_by("pk"))
        if draft.pk in [d.pk for d in ready]:
            self.approve(i=[d.pk for d in ready].index(draft.pk), edit=edit)
        queued = list(OutboundMessage.objects.filter(state=State.QUEUED).order_by("pk"))
        mine = [m.pk for m in queued if m.draft_ref == draft.pk]
        if mine:
            self.send(i=[m.pk for m in queued].index(mine[0]))

    # --- campaigns ------------------------------------------------------------------------------

    @precondition(has_recipients)
    @rule(i=picks)
    def enroll(self, i: int) -> None:
        recipient = _pick(list(Recipient.objects.order_by("pk")), i)
        if recipient is None:
            return
        try:
            with _on_commit():
                campaign_services.enrollment_create(
                    recipient=recipient, campaign=self.campaign, user=self.reviewer, now=self.now
                )
        except ApplicationError:
            pass

    @rule(days=st.integers(min_value=0, max_value=4))
    def milestone_scan(self, days: int) -> None:
        self.now += timedelta(days=days)
        with _on_commit():
            enrolled = milestones.milestone_scan(now=self.now)
        STATS["enrolled by a milestone"] += sum(enrolled.values())
        with _on_commit():
            result = campaign_services.enrollment_advance_due(now=self.now)
        STATS["campaign step drafted"] += result.drafted
        STATS["campaign step suppressed"] += result.suppressed

    # --- the promises -----------------------------------------------------------------------------

    @invariant()
    def nothing_sent_to_a_suppressed_recipient(self) -> None:
        STATS["steps checked"] += 1
        assert all(suppression is None for suppression in self.sent.values())
        # Every email that left is one sent row, and the machine saw it leave.
        sent_ids = set(OutboundMessage.objects.filter(state=State.SENT).values_list("pk", flat=True))
        assert sent_ids == set(self.sent)
        assert len(mail.outbox) == len(sent_ids)

    @invariant()
    def nothing_sent_that_a_human_did_not_approve_in_exactly_that_text(self) -> None:
        from outreach.mail.services.outbox import content_hash

        for message in OutboundMessage.objects.filter(state=State.SENT):
            draft = Draft.objects.get(outbound_message=message)
            subject, body, user_id = self.approved[message.pk]
            assert (message.subject, message.body_text) == (subject, body)
            assert message.content_hash == content_hash(
                subject=message.subject, body_html=message.body_html, body_text=message.body_text
            )
            assert message.approved_by_id == user_id
            decision = DraftDecision.objects.filter(
                draft=draft,
                action__in=[DraftDecision.Action.APPROVE, DraftDecision.Action.EDIT_APPROVE],
                user__isnull=False,
            )
            assert decision.count() == 1
            latest = draft.versions.order_by("-number").first()
            if latest is not None:  # a campaign's fixed step is approved without a generated version
                assert (latest.subject, latest.body_text) == (subject, body)

    @invariant()
    def no_recipient_gets_the_same_step_twice(self) -> None:
        repeated = (
            OutboundMessage.objects.filter(state=State.SENT, enrollment_ref__isnull=False)
            .values("enrollment_ref", "step_ref")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
        )
        assert not list(repeated)
        assert not list(OutboundMessage.objects.values("draft_ref").annotate(n=Count("pk")).filter(n__gt=1))
        # The same step is never drafted twice for one enrollment while an earlier one is open or sent.
        open_twice = (
            Draft.objects.filter(enrollment_ref__isnull=False)
            .exclude(state__in=[Draft.State.REJECTED, Draft.State.SUPERSEDED])
            .values("enrollment_ref", "step_ref")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
        )
        assert not list(open_twice)

    @invariant()
    def every_skip_has_a_recorded_reason(self) -> None:
        for skip in DraftSkip.objects.all():
            assert skip.code and skip.reason.strip(), skip
        for message in OutboundMessage.objects.filter(state=State.SKIPPED):
            assert message.code and message.error_message.strip(), (message.pk, message.code, message.error_message)
        for enrollment in Enrollment.objects.filter(state=Enrollment.State.SUPPRESSED):
            assert enrollment.state_reason.strip(), enrollment.pk


@pytest.mark.django_db
def test_the_promises_hold_under_random_interleavings(settings_):
    run_state_machine_as_test(
        PromisesMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    print("\npromises machine:", dict(sorted(STATS.items())))
    assert STATS["send -> sent"] > 0, "the machine never sent an email, so it proved nothing"


@pytest.fixture
def settings_(settings, tmp_path):
    """Imported files go to a temporary folder; the send window and daily limit stay out of the way."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings


@pytest.mark.django_db
def test_one_walk_through_every_rule_keeps_the_promises(settings_):
    """A fixed path through every rule: shows the machine can reach each state it checks."""
    machine = PromisesMachine()
    try:
        machine.team_and_campaign()
        machine.import_recipients(emails=EMAILS[:4], renewal=True)
        machine.request_draft(i=0)
        machine.generate(i=0)
        machine.approve(i=0, edit=True)
        machine.send(i=0)
        machine.webhook_event(i=0, kind="delivered")
        machine.webhook_event(i=0, kind="bounced")
        machine.reply(i=0)
        machine.milestone_scan(days=0)
        machine.approve(i=0, edit=False)
        queued = OutboundMessage.objects.get(state=State.QUEUED)
        # Suppress the domain of the approved email's recipient between approval and sending.
        machine.suppress(i=list(Recipient.objects.order_by("pk")).index(queued.recipient), kind=Suppression.Kind.DOMAIN)
        machine.send(i=0)
        machine.release(i=0)
        machine.enroll(i=2)
        machine.reject(i=0, reason=RejectReason.DO_NOT_CONTACT)
        for check in (
            machine.nothing_sent_to_a_suppressed_recipient,
            machine.nothing_sent_that_a_human_did_not_approve_in_exactly_that_text,
            machine.no_recipient_gets_the_same_step_twice,
            machine.every_skip_has_a_recorded_reason,
        ):
            check()
        assert len(machine.sent) == 1
        assert OutboundMessage.objects.get(pk=queued.pk).state == State.SKIPPED
        assert EngagementEvent.objects.filter(kind=EngagementEvent.Kind.REPLIED).count() == 1
        assert EngagementEvent.objects.filter(kind=EngagementEvent.Kind.DELIVERED).count() == 1
    finally:
        machine.teardown()
