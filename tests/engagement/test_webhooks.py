"""Provider webhooks arrive through django-anymail and become EngagementEvents."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from anymail.signals import AnymailTrackingEvent

from outreach.mail.models import EngagementEvent
from outreach.mail.services import engagement as tracking
from outreach.suppression.models import Suppression
from tests.factories import CampaignFactory, OutboundMessageFactory, RecipientFactory

from .conftest import basic_auth_header, hard_bounce, post_json, resend_event, svix_headers

RESEND = "/anymail/resend/tracking/"
POSTMARK = "/anymail/postmark/tracking/"

pytestmark = pytest.mark.django_db


GOOD_AUTH = basic_auth_header()


def _post_resend(client, payload, *, event_id="msg_evt_1", auth=GOOD_AUTH):
    headers = {"svix-id": event_id}
    if auth is not None:
        headers["authorization"] = auth
    return post_json(client, RESEND, payload, **headers)


@pytest.fixture
def message():
    return OutboundMessageFactory()


def test_a_delivery_with_valid_basic_auth_is_recorded_on_its_message(
    client, basic_auth_webhooks, message, django_capture_on_commit_callbacks
):
    payload = resend_event("email.delivered", email_id=message.provider_message_id, to=message.to_email)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post_resend(client, payload)
    assert response.status_code == 200
    event = EngagementEvent.objects.get()
    assert (event.kind, event.message, event.recipient) == ("delivered", message, message.recipient)
    assert event.provider == "resend" and event.provider_event_id == "resend:msg_evt_1"
    assert event.processed_at is not None


def test_webhooks_are_reachable_without_logging_in(client, basic_auth_webhooks, message):
    payload = resend_event("email.delivered", email_id=message.provider_message_id, to=message.to_email)
    response = _post_resend(client, payload)
    assert response.status_code == 200  # not a redirect to the login page


@pytest.mark.parametrize("auth", [basic_auth_header("hook-user:wrong"), None], ids=["forged", "missing"])
def test_a_webhook_with_forged_or_missing_basic_auth_is_rejected_and_nothing_recorded(
    client, basic_auth_webhooks, message, auth
):
    payload = resend_event(
        "email.bounced", email_id=message.provider_message_id, to=message.to_email, bounce=hard_bounce()
    )
    response = _post_resend(client, payload, auth=auth)
    assert response.status_code == 400
    assert not EngagementEvent.objects.exists()
    assert not Suppression.objects.exists()


def test_a_svix_signed_resend_event_is_accepted(client, svix_webhooks, message, django_capture_on_commit_callbacks):
    body = json.dumps(
        resend_event("email.delivered", email_id=message.provider_message_id, to=message.to_email)
    ).encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(RESEND, data=body, content_type="application/json", headers=svix_headers(body))
    assert response.status_code == 200
    assert EngagementEvent.objects.get().kind == "delivered"


def test_a_svix_signed_body_that_was_tampered_with_is_rejected(client, svix_webhooks, message):
    body = json.dumps(
        resend_event("email.delivered", email_id=message.provider_message_id, to=message.to_email)
    ).encode()
    headers = svix_headers(body)
    tampered = body.replace(b"email.delivered", b"email.complained")
    response = client.post(RESEND, data=tampered, content_type="application/json", headers=headers)
    assert response.status_code == 400
    assert not EngagementEvent.objects.exists()


def test_a_svix_signature_made_with_another_secret_is_rejected(client, svix_webhooks, message):
    body = json.dumps(
        resend_event("email.delivered", email_id=message.provider_message_id, to=message.to_email)
    ).encode()
    other = "whsec_" + "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldC1vdGhlcg=="
    response = client.post(RESEND, data=body, content_type="application/json", headers=svix_headers(body, secret=other))
    assert response.status_code == 400
    assert not EngagementEvent.objects.exists()


def test_a_redelivered_event_is_recorded_once(
    client, basic_auth_webhooks, message, recorded_signals, django_capture_on_commit_callbacks
):
    payload = resend_event("email.delivered", email_id=message.provider_message_id, to=message.to_email)
    with django_capture_on_commit_callbacks(execute=True):
        first = _post_resend(client, payload, event_id="msg_same")
        second = _post_resend(client, payload, event_id="msg_same")
    assert (first.status_code, second.status_code) == (200, 200)
    assert EngagementEvent.objects.count() == 1
    assert len(recorded_signals) == 1


def test_an_event_for_an_unknown_message_is_recorded_without_a_message(
    client, basic_auth_webhooks, django_capture_on_commit_callbacks
):
    payload = resend_event("email.delivered", email_id="re_not_ours", to="someone@elsewhere.example")
    with django_capture_on_commit_callbacks(execute=True):
        response = _post_resend(client, payload)
    assert response.status_code == 200
    event = EngagementEvent.objects.get()
    assert event.message is None and event.email == "someone@elsewhere.example"
    assert event.payload["message_ref"] == "re_not_ours"


def test_an_event_is_matched_by_our_message_id_when_the_provider_id_is_unknown(
    client, basic_auth_webhooks, django_capture_on_commit_callbacks
):
    message = OutboundMessageFactory(provider_message_id="")
    payload = resend_event("email.delivered", email_id=message.message_id.strip("<>"), to=message.to_email)
    with django_capture_on_commit_callbacks(execute=True):
        _post_resend(client, payload)
    assert EngagementEvent.objects.get().message == message


def test_a_hard_bounce_suppresses_the_address_with_the_event_as_source(
    client, basic_auth_webhooks, message, django_capture_on_commit_callbacks
):
    payload = resend_event(
        "email.bounced", email_id=message.provider_message_id, to=message.to_email, bounce=hard_bounce()
    )
    with django_capture_on_commit_callbacks(execute=True):
        _post_resend(client, payload, event_id="evt_123")
    entry = Suppression.objects.get()
    assert (entry.kind, entry.value, entry.reason) == ("address", message.to_email, "hard_bounce")
    assert entry.source == "resend webhook event evt_123"
    assert EngagementEvent.objects.get().kind == "bounced"


def test_a_complaint_suppresses_the_address(client, basic_auth_webhooks, message, django_capture_on_commit_callbacks):
    payload = resend_event("email.complained", email_id=message.provider_message_id, to=message.to_email)
    with django_capture_on_commit_callbacks(execute=True):
        _post_resend(client, payload, event_id="evt_456")
    entry = Suppression.objects.get()
    assert (entry.value, entry.reason, entry.source) == (message.to_email, "complaint", "resend webhook event evt_456")


def test_a_provider_unsubscribe_suppresses_the_address(
    client, basic_auth_webhooks, message, django_capture_on_commit_callbacks
):
    payload = {
        "RecordType": "SubscriptionChange",
        "MessageID": message.provider_message_id,
        "Recipient": message.to_email,
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
        "ChangedAt": "2026-11-20T10:20:00Z",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(client, POSTMARK, payload, authorization=basic_auth_header())
    assert response.status_code == 200
    entry = Suppression.objects.get()
    assert (entry.value, entry.reason) == (message.to_email, "unsubscribed")
    assert entry.source.startswith("postmark webhook event sha256:")
    assert EngagementEvent.objects.get().kind == "unsubscribed"


def test_a_resend_transient_bounce_is_a_soft_bounce_without_suppression(
    client, basic_auth_webhooks, message, django_capture_on_commit_callbacks
):
    bounce = {"message": "The recipient's inbox was full.", "subType": "MailboxFull", "type": "Transient"}
    payload = resend_event("email.bounced", email_id=message.provider_message_id, to=message.to_email, bounce=bounce)
    with django_capture_on_commit_callbacks(execute=True):
        _post_resend(client, payload)
    assert EngagementEvent.objects.get().kind == "soft_bounced"
    assert not Suppression.objects.exists()


def test_a_postmark_soft_bounce_and_a_deferral_do_not_suppress(
    client, basic_auth_webhooks, message, django_capture_on_commit_callbacks
):
    base = {"RecordType": "Bounce", "MessageID": message.provider_message_id, "Email": message.to_email}
    with django_capture_on_commit_callbacks(execute=True):
        post_json(
            client,
            POSTMARK,
            {**base, "ID": 1, "Type": "SoftBounce", "BouncedAt": "2026-11-20T10:00:00Z"},
            authorization=basic_auth_header(),
        )
        post_json(
            client,
            POSTMARK,
            {**base, "ID": 2, "Type": "Transient", "BouncedAt": "2026-11-20T10:05:00Z"},
            authorization=basic_auth_header(),
        )
    assert sorted(EngagementEvent.objects.values_list("kind", flat=True)) == ["deferred", "soft_bounced"]
    assert not Suppression.objects.exists()


def _resend_open(message):
    return resend_event("email.opened", email_id=message.provider_message_id, to=message.to_email)


def test_an_open_is_dropped_when_the_recipient_did_not_consent(
    client, basic_auth_webhooks, django_capture_on_commit_callbacks, caplog
):
    campaign = CampaignFactory(open_tracking=True)
    message = OutboundMessageFactory(draft__campaign=campaign, draft__recipient__consent_open_tracking=False)
    with (
        django_capture_on_commit_callbacks(execute=True),
        caplog.at_level("INFO", logger="outreach.mail.services.engagement"),
    ):
        response = _post_resend(client, _resend_open(message))
    assert response.status_code == 200
    assert not EngagementEvent.objects.exists()
    assert "dropped 1 open event" in caplog.text


def test_an_open_is_dropped_when_the_campaign_does_not_track_opens(client, basic_auth_webhooks):
    campaign = CampaignFactory(open_tracking=False)
    message = OutboundMessageFactory(draft__campaign=campaign, draft__recipient__consent_open_tracking=True)
    _post_resend(client, _resend_open(message))
    assert not EngagementEvent.objects.exists()


def test_a_click_is_dropped_without_consent_and_recorded_with_it(client, basic_auth_webhooks):
    campaign = CampaignFactory(open_tracking=True)
    refused = OutboundMessageFactory(draft__campaign=campaign, draft__recipient__consent_open_tracking=False)
    consented = OutboundMessageFactory(draft__campaign=campaign, draft__recipient__consent_open_tracking=True)
    for message in (refused, consented):
        _post_resend(client, resend_event("email.clicked", email_id=message.provider_message_id, to=message.to_email))
    assert list(EngagementEvent.objects.values_list("message_id", "kind")) == [(consented.pk, "clicked")]


def test_an_open_is_recorded_with_tracking_on_and_consent(client, basic_auth_webhooks):
    campaign = CampaignFactory(open_tracking=True)
    message = OutboundMessageFactory(draft__campaign=campaign, draft__recipient__consent_open_tracking=True)
    _post_resend(client, _resend_open(message))
    assert EngagementEvent.objects.get().kind == "opened"


def test_engagement_recorded_is_sent_only_once_the_event_is_committed(
    client, basic_auth_webhooks, message, recorded_signals, django_capture_on_commit_callbacks
):
    payload = resend_event("email.delivered", email_id=message.provider_message_id, to=message.to_email)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _post_resend(client, payload)
    assert recorded_signals == []  # nothing committed yet, nothing announced
    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:  # commit: the task runs, and announces on its own commit
            callback()
    assert [e.kind for e in recorded_signals] == ["delivered"]


def test_an_event_naming_another_recipient_is_attributed_to_that_address(basic_auth_webhooks, message):
    cc_person = RecipientFactory()
    event = AnymailTrackingEvent(
        event_type="bounced",
        event_id="pm-99",
        message_id=message.provider_message_id,
        recipient=cc_person.email,
        esp_event={"Type": "HardBounce"},
    )
    recorded = tracking.tracking_event_receive(event=event, esp_name="Postmark")
    assert recorded is not None
    assert (recorded.message, recorded.recipient, recorded.email) == (message, cc_person, cc_person.email)


def test_the_sweeper_processes_an_event_whose_task_was_lost(
    message, recorded_signals, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    event = EngagementEvent.objects.create(
        message=message, kind="complained", email=message.to_email, occurred_at=timezone.now(), provider="resend"
    )
    EngagementEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        assert tracking.engagement_sweep() == 1
    event.refresh_from_db()
    assert event.processed_at is not None
    assert Suppression.objects.get().reason == "complaint"
    assert len(recorded_signals) == 1


@pytest.mark.django_db(transaction=True)
def test_a_real_http_post_to_the_running_server_records_the_bounce(live_server, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook-user:hook-pass-123"}
    settings.ALLOWED_HOSTS = ["*"]
    message = OutboundMessageFactory()
    body = json.dumps(
        resend_event("email.bounced", email_id=message.provider_message_id, to=message.to_email, bounce=hard_bounce())
    ).encode()
    request = urllib.request.Request(
        live_server.url + RESEND,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "svix-id": "evt_live_1", "Authorization": basic_auth_header()},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    entry = Suppression.objects.get()
    assert (entry.value, entry.reason, entry.source) == (
        message.to_email,
        "hard_bounce",
        "resend webhook event evt_live_1",
    )

    forged = urllib.request.Request(
        live_server.url + RESEND,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "svix-id": "evt_live_2"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=10)
    assert refused.value.code == 400
    assert EngagementEvent.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_deliveries_of_one_event_racing_each_other_record_one_row():
    import threading

    from django.db import connection

    message = OutboundMessageFactory()
    barrier = threading.Barrier(2)
    results: list = []

    def deliver():
        try:
            barrier.wait()
            event = AnymailTrackingEvent(
                event_type="complained", event_id="evt_race", message_id=message.provider_message_id
            )
            results.append(tracking.tracking_event_receive(event=event, esp_name="Resend"))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert EngagementEvent.objects.filter(provider_event_id="resend:evt_race").count() == 1
    assert sum(result is not None for result in results) == 1
    assert Suppression.objects.filter(reason="complaint").count() == 1
