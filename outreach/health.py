"""Health and readiness for load balancers, orchestrators and monitoring (no login, no secrets).

- /healthz: liveness. The web process answers; nothing else is consulted (a database outage
  must not make an orchestrator restart every web process).
- /readyz: readiness. Each check below with its figure; 200 when all pass, 503 otherwise.
  database (a query answers), broker (the ORM's table or Redis answers), worker (the newest
  qcluster heartbeat is recent), drafts and sends (the oldest one waiting for a worker has not
  waited too long), webhooks (the oldest delivery waiting to go out has not waited too long).

Both answer in JSON. Figures are counts and ages in seconds: no addresses, hosts, URLs or errors
(an exception's text may hold a password), so they are safe to expose to a probe.
Wiring level: it reads the rows of several parts (review, mail, integrations).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.db.models import Min, Q
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


def _age(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else round(max((now - moment).total_seconds(), 0.0), 1)


def check_database(now: datetime) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True}


def check_broker(now: datetime) -> dict:
    if settings.Q_BROKER == "redis":
        from django_q.brokers import get_broker

        get_broker().connection.ping()
        return {"ok": True, "broker": "redis"}
    from django_q.models import OrmQ

    return {"ok": True, "broker": "orm", "queued_tasks": OrmQ.objects.count()}


def check_worker(now: datetime) -> dict:
    from outreach.models import WorkerHeartbeat

    newest = WorkerHeartbeat.objects.order_by("-seen_at").first()
    max_age = settings.READY_WORKER_MAX_AGE_SECONDS
    fresh = WorkerHeartbeat.objects.filter(seen_at__gte=now - timedelta(seconds=max_age)).count()
    age = _age(newest.seen_at if newest else None, now)
    return {"ok": fresh > 0, "heartbeat_age_seconds": age, "clusters": fresh, "max_age_seconds": max_age}


def check_drafts(now: datetime) -> dict:
    from review.models import Draft

    oldest = Draft.objects.filter(state=Draft.State.QUEUED).aggregate(at=Min("updated_at"))["at"]
    return _backlog(_age(oldest, now))


def check_sends(now: datetime) -> dict:
    from outreach.mail.models import OutboundMessage

    due = Q(not_before__isnull=True) | Q(not_before__lte=now)
    rows = OutboundMessage.objects.filter(due, state=OutboundMessage.State.QUEUED)
    oldest = rows.aggregate(at=Min("created_at"))["at"]
    return _backlog(_age(oldest, now))


def check_webhooks(now: datetime) -> dict:
    from outreach.integrations.models import WebhookDelivery

    waiting = WebhookDelivery.objects.filter(
        status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING]
    )
    due = waiting.filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    oldest = due.aggregate(at=Min("created_at"))["at"]
    return {**_backlog(_age(oldest, now)), "waiting": waiting.count()}


def _backlog(age: float | None) -> dict:
    limit = settings.READY_QUEUE_MAX_AGE_SECONDS
    return {"ok": age is None or age <= limit, "oldest_age_seconds": age, "max_age_seconds": limit}


CHECKS: dict[str, Callable[[datetime], dict]] = {
    "database": check_database,
    "broker": check_broker,
    "worker": check_worker,
    "drafts": check_drafts,
    "sends": check_sends,
    "webhooks": check_webhooks,
}


def readiness() -> tuple[bool, dict[str, dict]]:
    now = timezone.now()
    results: dict[str, dict] = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check(now)
        except Exception as exc:  # the reason goes to the log, never to the (public) answer
            logger.warning("readiness check %s failed: %s", name, exc)
            results[name] = {"ok": False, "error": type(exc).__name__}
            if name == "database":  # every other check needs it
                break
    return all(r["ok"] for r in results.values()) and len(results) == len(CHECKS), results


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    ready, checks = readiness()
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
