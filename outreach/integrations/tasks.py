"""django-q2 entry points for outbound webhooks: thin, take ids, call services, safe to run twice."""

from __future__ import annotations

from outreach.integrations.services import tokens as api_tokens
from outreach.integrations.services import webhooks


def webhook_deliver(delivery_id: int) -> None:
    webhooks.webhook_delivery_attempt(delivery_id=delivery_id)


def webhook_deliveries_sweep() -> int:
    """Every minute: attempt what is due (retries after backoff, deliveries whose task was lost)."""
    due = webhooks.webhook_deliveries_due()
    webhooks.enqueue_deliveries(due)
    api_tokens.idempotency_purge_expired()
    return len(due)
