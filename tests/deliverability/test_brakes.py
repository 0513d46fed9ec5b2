"""Automatic brakes: a run of hard bounces (or complaints) pauses the sender, holds their queue,
and a person resuming sends the held emails."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.urls import reverse

from outreach.core.errors import ApplicationError
from outreach.integrations.models import EmittedEvent
from outreach.mail.models import OutboundMessage, SendingPause
from outreach.mail.services.brakes import brake_readings, sending_resume
from outreach.mail.services.sending import outbound_message_send
from tests.engagement.conftest import WEBHOOK_SECRET, basic_auth_header, hard_bounce, post_json, resend_event
from tests.factories import ApprovedDraftFactory, UserFactory

pytestmark = pytest.mark.django_db

RESEND = "/anymail/resend/tracking/"
State = OutboundMessage.State


@pytest.fixture(autouse=True)
def webhooks_and_inline_tasks(settings, monkeypatch):
    """Signed provider webhooks; django-q2 runs enqueued tasks at once (still enqueued on commit)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}
    settings.BRAKE_BOUNCE_PERCENT = 5.0
    settings.BRAKE_BOUNCE_WINDOW = 100
    settings.BRAKE_COMPLAINT_PERCENT = 0.1
    settings.BRAKE_COMPLAINT_WINDOW = 1000
    settings.BRAKE_MIN_SENDS = 20


def _approve_for(sender, approve, count: int) -> list[OutboundMessage]:
    """Approve `count` drafts; their send tasks are not run (they wait in the queue)."""
    return [approve(ApprovedDraftFactory(sender=sender)) for _ in range(count)]


def _send_all(messages: list[OutboundMessage]) -> None:
    for message in messages:
        outbound_message_send(message_id=message.pk)
        message.refresh_from_db()
        assert message.state == State.SENT


def _webhook(client, kind: str, message: OutboundMessage, event_id: str, django_capture_on_commit_callbacks):
    if kind == "bounce":
        payload = resend_event(
            "email.bounced", email_id=message.provider_message_id, to=message.to_email, bounce=hard_bounce()
        )
    else:
        payload = resend_event("email.complained", email_id=message.provider_message_id, to=message.to_email)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(
            client, RESEND, payload, **{"svix-id": event_id, "authorization": basic_auth_header(WEBHOOK_SECRET)}
        )
    assert response.status_code == 200


@pytest.fixture
def busy_sender(rep, smtp_server, approve):
    """A rep with 20 emails sent through the real SMTP server and 3 more approved, still queued."""
    sent = _approve_for(rep, approve, 20)
    _send_all(sent)
    queued = _approve_for(rep, approve, 3)
    assert len(smtp_server.received) == 20
    return sent, queued


def test_a_run_of_hard_bounces_pauses_the_sender_holds_the_queue_and_resuming_sends_the_held_emails(
    client, busy_sender, smtp_server, rep, csm, django_capture_on_commit_callbacks
):
    sent, queued = busy_sender
    # One bounce in 20 sends is 5 %: at the limit, not above it.
    _webhook(client, "bounce", sent[0], "evt-1", django_capture_on_commit_callbacks)
    assert not SendingPause.objects.exists()
    # The second is 10 %: the sender pauses, and so does the domain they send from.
    _webhook(client, "bounce", sent[1], "evt-2", django_capture_on_commit_callbacks)
    pauses = {p.scope: p for p in SendingPause.objects.all()}
    assert set(pauses) == {"sender", "domain"}
    pause = pauses["sender"]
    assert pause.sender == rep and pause.cause == "bounces" and (pause.events, pause.sends) == (2, 20)
    assert "2 hard bounces in the last 20 sends (10 %)" in pause.reason
    assert pauses["domain"].domain == "team.example"
    for message in queued:
        message.refresh_from_db()
        assert (message.state, message.code) == (State.HELD, "sender_paused")
        assert "paused" in message.error_message
    # A worker given a held email does nothing, and the SMTP server got nothing more.
    assert outbound_message_send(message_id=queued[0].pk) is None
    assert len(smtp_server.received) == 20
    # An email approved while paused is held when it is claimed.
    late = ApprovedDraftFactory(sender=rep)
    with django_capture_on_commit_callbacks(execute=True):
        from review.services import outbound_message_from_draft

        with transaction.atomic():
            late_message = outbound_message_from_draft(draft=late, approved_by=rep)
    late_message.refresh_from_db()
    assert (late_message.state, late_message.code) == (State.HELD, "sender_paused")
    assert len(smtp_server.received) == 20

    # A CSM resumes both after looking; the held emails go out, each once.
    with django_capture_on_commit_callbacks(execute=True):
        sending_resume(pause=pauses["domain"], user=csm, note="checked the list")
    assert len(smtp_server.received) == 20  # the sender's own pause still holds them
    with django_capture_on_commit_callbacks(execute=True):
        sending_resume(pause=pause, user=csm, note="bad list removed from the campaign")
    assert len(smtp_server.received) == 24
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received[20:]) == sorted(
        m.to_email for m in [*queued, late_message]
    )
    for message in [*queued, late_message]:
        message.refresh_from_db()
        assert message.state == State.SENT
    types = list(EmittedEvent.objects.filter(type__startswith="sending_").order_by("pk").values_list("type", flat=True))
    assert types == ["sending_paused", "sending_paused", "sending_resumed", "sending_resumed"]
    resumed = EmittedEvent.objects.filter(type="sending_resumed").last()
    assert resumed.payload["resumed_by"] == "csm1" and resumed.payload["released"] == 4
    paused = EmittedEvent.objects.filter(type="sending_paused", payload__scope="sender").get()
    assert paused.payload["held"] == 3 and paused.payload["sender"] == "rep1"


def test_after_a_resume_the_rates_start_afresh(client, busy_sender, csm, rep, django_capture_on_commit_callbacks):
    sent, _ = busy_sender
    for index in range(2):
        _webhook(client, "bounce", sent[index], f"evt-{index}", django_capture_on_commit_callbacks)
    for pause in SendingPause.objects.all():
        sending_resume(pause=pause, user=csm, note="looked")
    # A late bounce of an email sent before the resume does not pause the sender again.
    _webhook(client, "bounce", sent[2], "evt-late", django_capture_on_commit_callbacks)
    assert not SendingPause.objects.filter(resumed_at__isnull=True).exists()
    assert all(r.sends == 0 for r in brake_readings(scope="sender", target=rep.pk))


def test_two_complaints_in_twenty_sends_pause_the_sender(client, busy_sender, rep, django_capture_on_commit_callbacks):
    sent, queued = busy_sender
    _webhook(client, "complaint", sent[0], "c-1", django_capture_on_commit_callbacks)
    pause = SendingPause.objects.get(scope="sender")
    assert pause.cause == "complaints" and "spam complaints" in pause.reason


def test_too_few_sends_do_not_pause(client, rep, smtp_server, approve, django_capture_on_commit_callbacks):
    sent = _approve_for(rep, approve, 5)
    _send_all(sent)
    for index in range(3):
        _webhook(client, "bounce", sent[index], f"evt-{index}", django_capture_on_commit_callbacks)
    assert not SendingPause.objects.exists()


def test_another_senders_domain_is_not_paused(client, busy_sender, approve, django_capture_on_commit_callbacks):
    sent, _ = busy_sender
    outsider = UserFactory(username="ada", role="rep", email="ada@elsewhere.example")
    other = approve(ApprovedDraftFactory(sender=outsider))
    for index in range(2):
        _webhook(client, "bounce", sent[index], f"evt-{index}", django_capture_on_commit_callbacks)
    other.refresh_from_db()
    assert other.state == State.QUEUED


def test_only_a_csm_or_an_admin_resumes_and_says_what_they_looked_at(
    client, busy_sender, rep, csm, django_capture_on_commit_callbacks
):
    sent, _ = busy_sender
    for index in range(2):
        _webhook(client, "bounce", sent[index], f"evt-{index}", django_capture_on_commit_callbacks)
    pause = SendingPause.objects.get(scope="sender")
    with pytest.raises(ApplicationError, match="CSM or an admin"):
        sending_resume(pause=pause, user=rep, note="me")
    with pytest.raises(ApplicationError, match="what you looked at"):
        sending_resume(pause=pause, user=csm, note="  ")
    pause.refresh_from_db()
    assert pause.is_active


def test_the_sender_csms_and_admins_see_the_pause_and_others_do_not(
    client, busy_sender, rep, other_rep, csm, admin_user, login_client, django_capture_on_commit_callbacks
):
    sent, queued = busy_sender
    for index in range(2):
        _webhook(client, "bounce", sent[index], f"evt-{index}", django_capture_on_commit_callbacks)
    outsider = UserFactory(username="ada", role="rep", email="ada@elsewhere.example")
    for user in (rep, csm, admin_user):
        page = login_client(user).get(reverse("review_queue")).content.decode()
        assert "Sending paused" in page and "2 hard bounces in the last 20 sends" in page
        pauses_page = login_client(user).get(reverse("sending_pauses")).content.decode()
        assert queued[0].to_email in pauses_page
    # other_rep sends from team.example too: they see the domain's pause, not the rep's own.
    other_page = login_client(other_rep).get(reverse("sending_pauses")).content.decode()
    assert "Sending from team.example is paused" in other_page and queued[0].to_email not in other_page
    outsider_page = login_client(outsider).get(reverse("sending_pauses")).content.decode()
    assert "No sender is paused" in outsider_page
    assert "Resume sending" not in login_client(rep).get(reverse("sending_pauses")).content.decode()
    timeline = login_client(rep).get(reverse("message_timeline", args=[queued[0].pk])).content.decode()
    assert "Held" in timeline and "Sending paused: too many bounces or complaints" in timeline
    my_sending = login_client(rep).get(reverse("sender_config")).content.decode()
    assert "Sending paused" in my_sending and "2 of your last 20 sends (10.0 %)" in my_sending


def test_a_csm_resumes_from_the_page(
    client, busy_sender, csm, login_client, smtp_server, django_capture_on_commit_callbacks
):
    sent, queued = busy_sender
    for index in range(2):
        _webhook(client, "bounce", sent[index], f"evt-{index}", django_capture_on_commit_callbacks)
    csm_client = login_client(csm)
    for pause in SendingPause.objects.order_by("pk"):
        with django_capture_on_commit_callbacks(execute=True):
            response = csm_client.post(reverse("sending_pause_resume", args=[pause.pk]), {"note": "list cleaned"})
        assert response.status_code == 302
    assert len(smtp_server.received) == 23
    assert not SendingPause.objects.filter(resumed_at__isnull=True).exists()


def test_the_admin_lists_pauses_read_only_and_domains(admin_client_, rep):
    SendingPause.objects.create(
        scope="sender", sender=rep, cause="bounces", events=6, sends=100, threshold=0.05, reason="six bounces"
    )
    page = admin_client_.get(reverse("admin:outreach_sendingpause_changelist"))
    assert page.status_code == 200 and "rep1" in page.content.decode()
    assert admin_client_.get(reverse("admin:outreach_sendingpause_add")).status_code == 403
    assert admin_client_.get(reverse("admin:outreach_sendingdomain_changelist")).status_code == 200
