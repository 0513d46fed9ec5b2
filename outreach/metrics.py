"""Prometheus metrics at /metrics: django-prometheus's request, response and latency metrics of
this web process, plus the application's own figures read from the rows at scrape time (so any
web process gives the same answer): drafts by state, sends by state and code, webhook
deliveries by status, LLM tokens and cost, the worker's heartbeat age and the oldest waiting
draft and send,
mailboxes by state and the mailbox sync lag.

Only with `Authorization: Bearer <METRICS_TOKEN>`; without METRICS_TOKEN set the page is off
(404). Several gunicorn workers: set PROMETHEUS_MULTIPROC_DIR so request metrics add up across
them (django-prometheus reads it).
Wiring level: it reads the rows of several parts (review, mail, integrations).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import Count, Min, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from outreach import health


class ApplicationCollector(Collector):
    """The figures of the outreach flow, one query per family."""

    def collect(self) -> Iterator[Metric]:
        from outreach.integrations.models import WebhookDelivery
        from outreach.mail.models import MailboxConnection, OutboundMessage
        from review.models import Draft

        drafts = GaugeMetricFamily("outreach_drafts", "Drafts by state.", labels=["state"])
        counts = dict(Draft.objects.order_by().values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
        for state in Draft.State.values:
            drafts.add_metric([state], counts.get(state, 0))
        yield drafts

        sends = GaugeMetricFamily(
            "outreach_outbound_messages", "Outbound messages by state and code.", labels=["state", "code"]
        )
        rows = OutboundMessage.objects.order_by().values_list("state", "code").annotate(n=Count("pk"))
        seen = set()
        for state, code, n in rows.values_list("state", "code", "n"):
            sends.add_metric([state, code or ""], n)
            seen.add(state)
        for state in set(OutboundMessage.State.values) - seen:
            sends.add_metric([state, ""], 0)
        yield sends

        hooks = GaugeMetricFamily("outreach_webhook_deliveries", "Webhook deliveries by status.", labels=["status"])
        by_status = WebhookDelivery.objects.order_by().values_list("status").annotate(n=Count("pk"))
        counts = dict(by_status.values_list("status", "n"))
        for status in WebhookDelivery.Status.values:
            hooks.add_metric([status], counts.get(status, 0))
        yield hooks

        totals = Draft.objects.aggregate(i=Sum("input_tokens"), o=Sum("output_tokens"), c=Sum("cost_usd"))
        tokens = CounterMetricFamily("outreach_llm_tokens", "LLM tokens recorded on drafts.", labels=["kind"])
        tokens.add_metric(["input"], totals["i"] or 0)
        tokens.add_metric(["output"], totals["o"] or 0)
        yield tokens
        yield CounterMetricFamily(
            "outreach_llm_cost_usd", "LLM cost recorded on drafts (USD).", float(totals["c"] or 0)
        )

        mailboxes = GaugeMetricFamily("outreach_mailboxes", "Connected team mailboxes by state.", labels=["state"])
        by_state = MailboxConnection.objects.order_by().values_list("state").annotate(n=Count("pk"))
        counts = dict(by_state.values_list("state", "n"))
        for state in MailboxConnection.State.values:
            mailboxes.add_metric([state], counts.get(state, 0))
        yield mailboxes

        now = timezone.now()
        in_use = MailboxConnection.objects.filter(state__in=MailboxConnection.IN_USE_STATES)
        oldest_sync = in_use.aggregate(at=Min("last_synced_at"))["at"]
        ages = GaugeMetricFamily(
            "outreach_age_seconds",
            "Seconds since the worker's last heartbeat, since the oldest draft, send and webhook "
            "delivery still waiting for a worker were queued, and since the least recently synced "
            "mailbox in use was last read (mailbox sync lag); -1: none.",
            labels=["of"],
        )
        for name, check, key in (
            ("worker_heartbeat", health.check_worker, "heartbeat_age_seconds"),
            ("oldest_queued_draft", health.check_drafts, "oldest_age_seconds"),
            ("oldest_queued_send", health.check_sends, "oldest_age_seconds"),
            ("oldest_waiting_webhook", health.check_webhooks, "oldest_age_seconds"),
        ):
            value = check(now)[key]
            ages.add_metric([name], -1 if value is None else value)
        sync_lag = health._age(oldest_sync, now)
        ages.add_metric(["mailbox_sync_lag"], -1 if sync_lag is None else sync_lag)
        yield ages


def _authorized(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


@login_not_required
@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        response = HttpResponse(
            "a valid METRICS_TOKEN bearer token is required\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        process_registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(process_registry)
    else:
        process_registry = REGISTRY
    app_registry = CollectorRegistry(auto_describe=False)
    app_registry.register(ApplicationCollector())
    body = generate_latest(process_registry) + generate_latest(app_registry)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
