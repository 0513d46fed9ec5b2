"""Emitted signals: record them as EmittedEvent rows, deliver them to subscribers, signed the
Standard Webhooks way (https://www.standardwebhooks.com/), retried with backoff, replayable.

The rows are the truth: a delivery row holds its status, attempts, last response and the time of
its next attempt; tasks only nudge, and a sweeper every minute picks up whatever is due.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from datetime import timedelta

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from outreach.core.errors import ApplicationError
from outreach.core.netguard import DestinationRefused, destination_refusal, resolve_destination
from outreach.core.tasks import task_enqueue
from outreach.integrations.models import EmittedEvent, WebhookDelivery, WebhookSubscription

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
# Seconds to wait after the n-th failed attempt (the Standard Webhooks recommendation).
RETRY_DELAYS = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
# While one worker delivers, nobody else may claim the row; a crashed worker's claim lapses.
CLAIM_LEASE = timedelta(minutes=2)
RESPONSE_EXCERPT = 1000


# --- Signing ----------------------------------------------------------------------------------


def webhook_secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def sign(*, secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed with the decoded secret."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    to_sign = f"{msg_id}.{timestamp}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(key, to_sign, hashlib.sha256).digest()).decode("ascii")


def deliveries_create(*, event: EmittedEvent) -> list[int]:
    """A delivery for each active subscriber of the event's type, nudged after commit. Runs inside the
    transaction that stores the event, so an event and its deliveries commit together."""
    now = timezone.now()
    deliveries = [
        WebhookDelivery(subscription=sub, event=event, next_attempt_at=now)
        for sub in WebhookSubscription.objects.filter(is_active=True)
        if event.type in sub.event_types
    ]
    if not deliveries:
        return []
    ids = [delivery.pk for delivery in WebhookDelivery.objects.bulk_create(deliveries)]
    transaction.on_commit(lambda: enqueue_deliveries(ids))
    return ids


def enqueue_deliveries(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        task_enqueue("outreach.integrations.tasks.webhook_deliver", delivery_id, group="webhooks")


# --- Subscriptions ----------------------------------------------------------------------------


def _clean_event_types(event_types: list[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(EmittedEvent.Type.values))
    if unknown:
        raise ApplicationError(f"Unknown event types: {', '.join(unknown)}", extra={"field": "event_types"})
    if not event_types:
        raise ApplicationError("Choose at least one event type.", extra={"field": "event_types"})
    return sorted(set(event_types))


def _clean_url(url: str) -> str:
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ApplicationError(f"{url!r} is not a valid http(s) URL.", extra={"field": "url"}) from None
    refusal = destination_refusal(*_host_and_port(httpx.URL(url)))
    if refusal:
        raise ApplicationError(f"{url!r} {refusal}; webhooks go to public endpoints only.", extra={"field": "url"})
    return url


def _host_and_port(url: httpx.URL) -> tuple[str, int]:
    # raw_host: the IDNA (xn--) form the resolver and the TLS handshake use.
    return url.raw_host.decode("ascii"), url.port or (443 if url.scheme == "https" else 80)


def _post_pinned(url: str, *, content: bytes, headers: dict[str, str]) -> httpx.Response:
    """POST to the subscriber at the address checked just now, not at whatever the name says next.

    The URL's host is replaced by that address; the Host header and, over https, the SNI name
    (httpcore's `sni_hostname` extension, which is also the name the certificate is verified
    against) stay the subscriber's name. No proxy from the environment: the connection is direct.
    """
    target = httpx.URL(url)
    destination = resolve_destination(*_host_and_port(target))
    extensions = {"sni_hostname": destination.host} if target.scheme == "https" else {}
    with httpx.Client(
        # trust_env=False turns off proxies; the CA bundle from SSL_CERT_FILE is still honoured.
        trust_env=False,
        verify=httpx.create_ssl_context(),
        timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
        follow_redirects=False,
    ) as client:
        return client.post(
            target.copy_with(host=destination.address),
            content=content,
            headers={**headers, "host": target.netloc.decode("ascii")},
            extensions=extensions,
        )


def webhook_subscription_create(
    *, url: str, event_types: list[str], created_by, description: str = "", is_active: bool = True
) -> WebhookSubscription:
    sub = WebhookSubscription(
        url=_clean_url(url),
        event_types=_clean_event_types(event_types),
        description=description.strip(),
        is_active=is_active,
        secret=webhook_secret_generate(),
        created_by=created_by,
    )
    sub.full_clean()
    sub.save()
    return sub


def webhook_subscription_update(*, subscription: WebhookSubscription, **changes) -> WebhookSubscription:
    fields = []
    if changes.get("url") is not None:
        subscription.url = _clean_url(changes["url"])
        fields.append("url")
    if changes.get("event_types") is not None:
        subscription.event_types = _clean_event_types(changes["event_types"])
        fields.append("event_types")
    if changes.get("description") is not None:
        subscription.description = changes["description"].strip()
        fields.append("description")
    if changes.get("is_active") is not None:
        subscription.is_active = bool(changes["is_active"])
        fields.append("is_active")
    if changes.get("rotate_secret"):
        subscription.secret = webhook_secret_generate()
        fields.append("secret")
    if fields:
        subscription.full_clean()
        subscription.save(update_fields=[*fields, "updated_at"])
    return subscription


# --- Delivering -------------------------------------------------------------------------------


def webhook_subscription_delete(*, subscription: WebhookSubscription) -> None:
    """Stop and forget a subscription, with its delivery history."""
    subscription.delete()


def _claim(delivery_id: int, *, force: bool = False) -> WebhookDelivery | None:
    """Take the row for one attempt: a conditional UPDATE, so two workers never both send it."""
    now = timezone.now()
    due = Q(status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING])
    if not force:
        due &= Q(next_attempt_at__lte=now)
    claimed = WebhookDelivery.objects.filter(due, pk=delivery_id).update(next_attempt_at=now + CLAIM_LEASE)
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("subscription", "event").get(pk=delivery_id)


def webhook_delivery_attempt(*, delivery_id: int) -> WebhookDelivery | None:
    """Send one due delivery once. Safe to run twice: only one run claims the row."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return None
    subscription, event = delivery.subscription, delivery.event
    body = json.dumps(event.as_body(), separators=(",", ":"), sort_keys=True)
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": "OutreachReview-Webhooks/1",
        "webhook-id": event.public_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret=subscription.secret, msg_id=event.public_id, timestamp=timestamp, body=body),
    }
    started = time.monotonic()
    code: int | None = None
    text = ""
    error = ""
    try:
        # Resolved and checked at each attempt (a name can be re-pointed after the subscription
        # was saved), and sent to the address that was checked.
        response = _post_pinned(subscription.url, content=body.encode("utf-8"), headers=headers)
        code, text = response.status_code, response.text[:RESPONSE_EXCERPT]
    except DestinationRefused as exc:
        return _record_attempt(delivery, code=None, text="", error=exc.message, elapsed_ms=0)
    except (httpx.HTTPError, OSError) as exc:  # OSError: the name does not resolve
        error = f"{type(exc).__name__}: {exc}"[:RESPONSE_EXCERPT]
    elapsed_ms = int((time.monotonic() - started) * 1000)
    return _record_attempt(delivery, code=code, text=text, error=error, elapsed_ms=elapsed_ms)


def _record_attempt(delivery: WebhookDelivery, *, code: int | None, text: str, error: str, elapsed_ms: int):
    now = timezone.now()
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.response_code = code
    delivery.response_body = text
    delivery.error = error
    ok = code is not None and 200 <= code < 300
    delivery.attempt_log = [
        *delivery.attempt_log,
        {"at": now.isoformat(), "code": code, "error": error, "ms": elapsed_ms},
    ][-50:]
    if ok:
        delivery.status = WebhookDelivery.Status.SUCCEEDED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
    elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.next_attempt_at = None
    else:
        delivery.status = WebhookDelivery.Status.RETRYING
        delay = RETRY_DELAYS[min(delivery.attempts, len(RETRY_DELAYS)) - 1]
        delivery.next_attempt_at = now + timedelta(seconds=delay)
    delivery.save(
        update_fields=[
            "attempts",
            "last_attempt_at",
            "response_code",
            "response_body",
            "error",
            "attempt_log",
            "status",
            "delivered_at",
            "next_attempt_at",
        ]
    )
    logger.info(
        "webhook delivery %s to %s: attempt %s -> %s",
        delivery.pk,
        delivery.subscription.url,
        delivery.attempts,
        code or error,
    )
    return delivery


@transaction.atomic
def webhook_delivery_replay(*, delivery: WebhookDelivery, user) -> WebhookDelivery:
    """Send this event to this subscriber again, now, with the same webhook-id (receivers dedupe)."""
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    delivery.status = WebhookDelivery.Status.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = timezone.now()
    who = user.get_username() if user is not None else "system"
    delivery.attempt_log = [*delivery.attempt_log, {"at": timezone.now().isoformat(), "replay": who}][-50:]
    delivery.save(update_fields=["status", "attempts", "next_attempt_at", "attempt_log"])
    transaction.on_commit(lambda: enqueue_deliveries([delivery.pk]))
    return delivery


def webhook_deliveries_due(*, limit: int = 500) -> list[int]:
    return list(
        WebhookDelivery.objects.filter(
            status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING],
            next_attempt_at__lte=timezone.now(),
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
