"""Emitted events: EmittedEvents from engagement and suppression, signed webhook deliveries to a
real receiver on localhost, retries with backoff, replay, the delivery log, and the pull API."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from outreach.core.errors import ApplicationError
from outreach.core.netguard import REFUSED
from outreach.core.public_ids import encode as pid
from outreach.integrations import tasks as webhook_tasks
from outreach.integrations.models import EmittedEvent, WebhookDelivery, WebhookSubscription
from outreach.integrations.services import events, webhooks
from outreach.mail.models import EngagementEvent
from outreach.mail.signals import engagement_recorded
from outreach.suppression.services import suppression_add
from tests.factories import RecipientFactory
from tests.network import PUBLIC_IP, make_tls

pytestmark = pytest.mark.django_db

ALL_TYPES = ["engagement_signal", "draft_edit_signal", "suppression_addition"]


@pytest.fixture
def subscription(receiver, admin_user):
    return webhooks.webhook_subscription_create(url=receiver.url, event_types=ALL_TYPES, created_by=admin_user)


def _record_engagement(kind, message=None, recipient=None):
    event = EngagementEvent.objects.create(
        kind=kind, message=message, recipient=recipient or message.recipient, occurred_at=timezone.now()
    )
    # The engagement issue sends this signal on commit; here we send it as it would.
    engagement_recorded.send(sender=EngagementEvent, event=event)
    return event


def _deliver_all():
    for delivery_id in webhooks.webhook_deliveries_due():
        webhooks.webhook_delivery_attempt(delivery_id=delivery_id)


def test_a_delivery_is_signed_the_standard_webhooks_way(subscription, receiver):
    entry = suppression_add(kind="address", value="stop@example.com", reason="unsubscribed")
    events.suppression_emit(entry=entry)
    _deliver_all()
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    # Verified by an independent implementation (the standardwebhooks package).
    payload = Webhook(subscription.secret).verify(request["body"], request["headers"])
    assert payload["type"] == "suppression_addition"
    assert payload["data"]["value"] == "stop@example.com"
    assert request["headers"]["webhook-id"] == payload["id"] == EmittedEvent.objects.get().public_id
    assert WebhookDelivery.objects.get().status == "succeeded"


def test_a_tampered_body_fails_verification(subscription, receiver):
    events.suppression_emit(entry=suppression_add(kind="domain", value="example.org", reason="manual"))
    _deliver_all()
    request = receiver.requests[0]
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(subscription.secret).verify(request["body"].replace(b"example.org", b"example.net"), request["headers"])


def test_a_500_is_retried_after_backoff_and_then_delivered(subscription, receiver):
    receiver.statuses = [500]
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        events.suppression_emit(entry=suppression_add(kind="address", value="a@example.com", reason="manual"))
        _deliver_all()
        delivery = WebhookDelivery.objects.get()
        assert (delivery.status, delivery.attempts, delivery.response_code) == ("retrying", 1, 500)
        assert delivery.response_body == "receiver exploded"
        assert delivery.next_attempt_at == start + timedelta(seconds=5)
        # Not due yet: nothing is sent.
        _deliver_all()
        assert len(receiver.requests) == 1
        traveller.shift(timedelta(seconds=6))
        webhook_tasks.webhook_deliver(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 2, 200)
    assert [a["code"] for a in delivery.attempt_log] == [500, 200]
    # Both attempts carry the same webhook-id, so the receiver can deduplicate.
    assert receiver.requests[0]["headers"]["webhook-id"] == receiver.requests[1]["headers"]["webhook-id"]


def test_an_unreachable_receiver_is_logged_and_retried(admin_user):
    sub = webhooks.webhook_subscription_create(
        url="http://127.0.0.1:9/nothing-listens-here", event_types=ALL_TYPES, created_by=admin_user
    )
    events.suppression_emit(entry=suppression_add(kind="address", value="a@example.com", reason="manual"))
    _deliver_all()
    delivery = sub.deliveries.get()
    assert delivery.status == "retrying"
    assert delivery.response_code is None
    assert "ConnectError" in delivery.error


def test_it_gives_up_after_the_last_attempt(subscription, receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver.statuses = [500, 503]
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        events.suppression_emit(entry=suppression_add(kind="address", value="a@example.com", reason="manual"))
        _deliver_all()
        traveller.shift(timedelta(minutes=1))
        _deliver_all()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 2, None)


def test_running_the_task_twice_sends_once(subscription, receiver):
    events.suppression_emit(entry=suppression_add(kind="address", value="a@example.com", reason="manual"))
    delivery = WebhookDelivery.objects.get()
    webhook_tasks.webhook_deliver(delivery.pk)
    webhook_tasks.webhook_deliver(delivery.pk)
    assert len(receiver.requests) == 1


def test_a_replay_through_the_api_sends_again(subscription, receiver, admin_user, api_client_for):
    events.suppression_emit(entry=suppression_add(kind="address", value="a@example.com", reason="manual"))
    _deliver_all()
    delivery = WebhookDelivery.objects.get()
    response = api_client_for(admin_user, "webhooks:write").post(
        f"/v1/webhooks/deliveries/{pid('dlv', delivery.pk)}/replay"
    )
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    _deliver_all()
    assert len(receiver.requests) == 2
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    assert any(entry.get("replay") == admin_user.username for entry in delivery.attempt_log)


def test_a_replay_from_the_browser_sends_again(subscription, receiver, admin_client_):
    events.suppression_emit(entry=suppression_add(kind="address", value="a@example.com", reason="manual"))
    _deliver_all()
    delivery = WebhookDelivery.objects.get()
    response = admin_client_.post(reverse("settings_webhook_replay", args=[delivery.pk]))
    assert response.status_code == 302
    _deliver_all()
    assert len(receiver.requests) == 2


@pytest.mark.broker
def test_the_sweeper_picks_up_due_deliveries(subscription, receiver):
    events.suppression_emit(entry=suppression_add(kind="address", value="a@example.com", reason="manual"))
    assert webhook_tasks.webhook_deliveries_sweep() == 1


def test_only_subscribed_types_are_delivered(receiver, admin_user):
    webhooks.webhook_subscription_create(url=receiver.url, event_types=["engagement_signal"], created_by=admin_user)
    events.suppression_emit(entry=suppression_add(kind="address", value="a@example.com", reason="manual"))
    assert not WebhookDelivery.objects.exists()


def test_a_paused_subscription_gets_nothing(subscription):
    webhooks.webhook_subscription_update(subscription=subscription, is_active=False)
    events.suppression_emit(entry=suppression_add(kind="address", value="a@example.com", reason="manual"))
    assert not WebhookDelivery.objects.exists()


# --- engagement_signal ------------------------------------------------------------------------


def test_a_reply_becomes_an_engagement_signal_attributed_to_recipient_and_campaign(rep, make_message):
    message = make_message(sender=rep)
    _record_engagement(EngagementEvent.Kind.REPLIED, message)
    event = EmittedEvent.objects.get()
    assert event.type == "engagement_signal"
    assert event.payload["kind"] == "replied"
    assert event.payload["recipient"] == {"id": pid("ctc", message.recipient_id), "email": message.recipient.email}
    assert event.payload["message_id"] == pid("msg", message.pk)
    assert event.payload["draft_id"] == pid("drf", message.draft_ref)
    assert "campaign_id" in event.payload and "enrollment_id" in event.payload
    assert event.payload["sender"] == rep.username


def test_an_open_is_emitted_only_where_the_recipient_consented(rep, make_message):
    silent = make_message(sender=rep, recipient=RecipientFactory(owner=rep, consent_open_tracking=False))
    consented = make_message(sender=rep, recipient=RecipientFactory(owner=rep, consent_open_tracking=True))
    _record_engagement(EngagementEvent.Kind.OPENED, silent)
    _record_engagement(EngagementEvent.Kind.OPENED, consented)
    assert [e.payload["recipient"]["id"] for e in EmittedEvent.objects.all()] == [pid("ctc", consented.recipient_id)]


@pytest.mark.parametrize("kind", ["bounced", "unsubscribed", "complained"])
def test_bounces_unsubscribes_and_complaints_are_emitted(rep, make_message, kind):
    _record_engagement(kind, make_message(sender=rep))
    assert EmittedEvent.objects.get().payload["kind"] == kind


@pytest.mark.parametrize("kind", ["delivered", "clicked", "soft_bounced"])
def test_other_engagement_is_not_emitted(rep, make_message, kind):
    _record_engagement(kind, make_message(sender=rep))
    assert not EmittedEvent.objects.exists()


# --- The pull API ------------------------------------------------------------------------------


def test_events_are_listed_oldest_first_with_a_cursor(admin_user, api_client_for):
    for n in range(5):
        suppression_add(kind="address", value=f"p{n}@example.com", reason="manual")
        events.suppression_emit(entry=suppression_add(kind="address", value=f"p{n}@example.com", reason="manual"))
    client = api_client_for(admin_user, "events:read")
    first = client.get("/v1/events/?limit=3").json()
    assert [e["data"]["value"] for e in first["items"]] == ["p0@example.com", "p1@example.com", "p2@example.com"]
    second = client.get(f"/v1/events/?limit=3&cursor={first['next_cursor']}").json()
    assert [e["data"]["value"] for e in second["items"]] == ["p3@example.com", "p4@example.com"]
    assert second["next_cursor"] is None
    # Polling from the last item's cursor finds new events only.
    events.suppression_emit(entry=suppression_add(kind="address", value="p5@example.com", reason="manual"))
    later = client.get(f"/v1/events/?cursor={second['items'][-1]['cursor']}").json()
    assert [e["data"]["value"] for e in later["items"]] == ["p5@example.com"]


def test_the_pull_api_and_the_webhook_carry_the_same_event(subscription, receiver, admin_user, api_client_for):
    events.suppression_emit(entry=suppression_add(kind="address", value="a@example.com", reason="manual"))
    _deliver_all()
    pulled = api_client_for(admin_user, "events:read").get("/v1/events/").json()["items"][0]
    pushed = json.loads(receiver.requests[0]["body"])
    assert pulled["id"] == pushed["id"]
    assert pulled["data"] == pushed["data"]


def test_a_reps_token_sees_only_events_about_the_reps_people(rep, other_rep, make_message, api_client_for):
    _record_engagement("replied", make_message(sender=rep))
    _record_engagement("replied", make_message(sender=other_rep))
    items = api_client_for(rep, "events:read").get("/v1/events/").json()["items"]
    assert [i["data"]["sender"] for i in items] == [rep.username]


def test_events_filter_by_type(rep, make_message, admin_user, api_client_for):
    _record_engagement("replied", make_message(sender=rep))
    events.suppression_emit(entry=suppression_add(kind="address", value="a@example.com", reason="manual"))
    items = api_client_for(admin_user, "events:read").get("/v1/events/?type=engagement_signal").json()["items"]
    assert [i["type"] for i in items] == ["engagement_signal"]


# --- Subscriptions: API and browser --------------------------------------------------------------


def test_an_admin_subscribes_through_the_api_and_gets_the_secret_once(admin_user, api_client_for):
    client = api_client_for(admin_user, "webhooks:write")
    response = client.post_json(
        "/v1/webhooks/", {"url": "https://crm.example/hooks", "event_types": ["engagement_signal"]}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert body["secret"] == WebhookSubscription.objects.get().secret
    assert "secret" not in client.get(f"/v1/webhooks/{body['id']}/").json()


def test_a_subscription_is_updated_paused_and_deleted_through_the_api(admin_user, api_client_for):
    client = api_client_for(admin_user, "webhooks:write")
    sub_id = client.post_json("/v1/webhooks/", {"url": "https://crm.example/hooks", "event_types": ALL_TYPES}).json()[
        "id"
    ]
    response = client.patch_json(f"/v1/webhooks/{sub_id}/", {"is_active": False, "event_types": ["draft_edit_signal"]})
    assert response.status_code == 200
    assert (response.json()["is_active"], response.json()["event_types"]) == (False, ["draft_edit_signal"])
    assert client.delete(f"/v1/webhooks/{sub_id}/").status_code == 204
    assert not WebhookSubscription.objects.exists()


def test_an_unknown_signal_type_is_a_field_error(admin_user, api_client_for):
    response = api_client_for(admin_user, "webhooks:write").post_json(
        "/v1/webhooks/", {"url": "https://crm.example/hooks", "event_types": ["everything"]}
    )
    assert response.status_code == 422
    assert response.json()["field"] == "event_types.0"


def test_a_bad_url_is_a_field_error(admin_user, api_client_for):
    response = api_client_for(admin_user, "webhooks:write").post_json(
        "/v1/webhooks/", {"url": "ftp://crm.example/hooks", "event_types": ALL_TYPES}
    )
    assert response.status_code == 400
    assert response.json()["field"] == "url"


def test_a_reps_token_may_not_manage_webhooks(rep, api_client_for):
    response = api_client_for(rep, "webhooks:write").post_json(
        "/v1/webhooks/", {"url": "https://crm.example/hooks", "event_types": ALL_TYPES}
    )
    assert response.status_code == 403


def test_the_delivery_log_is_listed_through_the_api(subscription, receiver, admin_user, api_client_for):
    receiver.statuses = [500]
    events.suppression_emit(entry=suppression_add(kind="address", value="a@example.com", reason="manual"))
    _deliver_all()
    items = (
        api_client_for(admin_user, "webhooks:write")
        .get(f"/v1/webhooks/{pid('whk', subscription.pk)}/deliveries/")
        .json()["items"]
    )
    assert [(d["status"], d["response_code"], d["response_body"]) for d in items] == [
        ("retrying", 500, "receiver exploded")
    ]


def test_an_admin_subscribes_in_the_browser(admin_client_):
    response = admin_client_.post(
        reverse("settings_webhooks"),
        {"url": "https://crm.example/hooks", "description": "CRM", "event_types": ["suppression_addition"]},
    )
    sub = WebhookSubscription.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("settings_webhook_detail", args=[sub.pk])
    page = admin_client_.get(response["Location"])
    assert sub.secret in page.content.decode()


def test_the_browser_detail_shows_deliveries_with_their_responses(subscription, receiver, admin_client_):
    receiver.statuses = [500]
    events.suppression_emit(entry=suppression_add(kind="address", value="a@example.com", reason="manual"))
    _deliver_all()
    page = admin_client_.get(reverse("settings_webhook_detail", args=[subscription.pk])).content.decode()
    assert "HTTP 500" in page and "receiver exploded" in page and "Replay" in page


def test_a_rep_cannot_open_the_webhooks_page(rep_client):
    assert rep_client.get(reverse("settings_webhooks")).status_code == 403


# --- Subscriber URLs must be public (production) -------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
    ],
)
def test_a_subscription_to_an_internal_address_is_refused_in_production(url, admin_user, production_network):
    with pytest.raises(ApplicationError, match=REFUSED):
        webhooks.webhook_subscription_create(url=url, event_types=ALL_TYPES, created_by=admin_user)
    assert not WebhookSubscription.objects.exists()


def test_a_delivery_to_a_name_that_now_resolves_inside_is_refused_and_retried(receiver, admin_user, settings):
    subscription = webhooks.webhook_subscription_create(url=receiver.url, event_types=ALL_TYPES, created_by=admin_user)
    event = events.emitted_event_record(type="engagement_signal", payload={"x": 1})
    delivery = WebhookDelivery.objects.get(subscription=subscription, event=event)
    settings.ALLOW_PRIVATE_NETWORK_DESTINATIONS = False  # as in production: 127.0.0.1 is internal
    webhooks.webhook_delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    # Which address, and whether anything listens there, is not for the subscriber's owner to learn.
    assert (delivery.status, delivery.error) == ("retrying", REFUSED)
    assert receiver.requests == []


def _subscription_to(url: str) -> WebhookSubscription:
    """A subscription as stored when it was saved (the check at saving is not repeated)."""
    return WebhookSubscription.objects.create(url=url, event_types=ALL_TYPES, secret=webhooks.webhook_secret_generate())


def _deliver_one(subscription) -> WebhookDelivery:
    event = events.emitted_event_record(type="engagement_signal", payload={"x": 1})
    delivery = WebhookDelivery.objects.get(subscription=subscription, event=event)
    webhooks.webhook_delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery


def test_a_delivery_goes_only_to_the_address_checked_when_the_name_rebinds(
    receiver, production_network, fake_dns, connection_log
):
    port = int(receiver.url.split(":")[2].split("/")[0])
    # Checked: public. Asked again, the name would say 127.0.0.1, where the receiver listens.
    fake_dns.answer("hooks.rebinding.example", PUBLIC_IP, "127.0.0.1")
    subscription = _subscription_to(f"http://hooks.rebinding.example:{port}/hooks/outreach")
    delivery = _deliver_one(subscription)
    assert connection_log.opened == [(PUBLIC_IP, port)]
    assert fake_dns.lookups == ["hooks.rebinding.example"]
    assert receiver.requests == []
    assert delivery.status == "retrying" and "ConnectError" in delivery.error


def test_a_pinned_delivery_still_names_the_subscriber_in_the_host_header(receiver, fake_dns, connection_log):
    port = int(receiver.url.split(":")[2].split("/")[0])
    fake_dns.answer("hooks.customer.test", "127.0.0.1")
    delivery = _deliver_one(_subscription_to(f"http://hooks.customer.test:{port}/hooks/outreach"))
    assert delivery.status == "succeeded", delivery.error
    assert connection_log.opened == [("127.0.0.1", port)]
    [request] = receiver.requests
    headers = {name.lower(): value for name, value in request["headers"].items()}
    assert headers["host"] == f"hooks.customer.test:{port}"
    assert request["path"] == "/hooks/outreach"


@pytest.fixture
def https_receiver(tmp_path, monkeypatch, fake_dns):
    """An https receiver on 127.0.0.1 with a certificate for hooks.customer.test (CA trusted here)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    tls = make_tls(tmp_path, "hooks.customer.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_file))
    fake_dns.answer("hooks.customer.test", "127.0.0.1")
    fake_dns.answer("other.customer.test", "127.0.0.1")
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the stdlib's name
            self.rfile.read(int(self.headers.get("content-length", 0)))
            hosts.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = tls.server_context()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tls, server.server_address[1], hosts
    server.shutdown()
    server.server_close()


def test_an_https_delivery_to_the_pinned_address_verifies_the_certificate_against_the_name(
    https_receiver, connection_log
):
    tls, port, hosts = https_receiver
    delivery = _deliver_one(_subscription_to(f"https://hooks.customer.test:{port}/hooks"))
    assert delivery.status == "succeeded", delivery.error
    assert connection_log.opened == [("127.0.0.1", port)]
    assert tls.server_names == ["hooks.customer.test"]  # SNI: the name, not the address
    assert hosts == [f"hooks.customer.test:{port}"]


def test_an_https_delivery_to_a_name_the_certificate_does_not_cover_fails(https_receiver):
    tls, port, hosts = https_receiver
    delivery = _deliver_one(_subscription_to(f"https://other.customer.test:{port}/hooks"))
    assert delivery.status == "retrying"
    assert "CERTIFICATE_VERIFY_FAILED" in delivery.error
    assert hosts == []
