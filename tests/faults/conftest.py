"""Fault injection: a real django-q2 cluster (`manage.py qcluster`) in a subprocess against the
pytest database, killed with SIGKILL, cut off from the database, or fed a failing provider.

The cluster sees only committed rows, so these tests use `transactional_db`. Recovery moves the
clock rather than waiting: leases, the broker's retry time and the sweepers' grace periods are
shifted into the past (`time_passes`), then the real recovery services run.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.db import connection
from django.utils import timezone

from tests.qcluster import CLUSTER_APPLICATION_NAME, Cluster, cluster_base_env, use_broker
from tests.redis_server import RedisServer
from tests.sending.conftest import CapturingHandler, Received, _free_port


@pytest.fixture
def cluster_env():
    return cluster_base_env(workers=2)


@pytest.fixture(params=["orm", "redis"])
def broker(request, cluster_env, settings, monkeypatch):
    """Every fault test runs on both brokers: the ORM (the database) and Redis (a private
    redis-server the test may stop). The test process and the cluster use the same one.
    Yields None for the ORM broker, the RedisServer for Redis."""
    if request.param == "orm":
        yield None
        return
    server = RedisServer().start()
    cluster_env.update(Q_BROKER="redis", REDIS_URL=server.url)
    use_broker(settings, monkeypatch, redis_url=server.url)
    yield server
    server.close()


@pytest.fixture
def cluster(cluster_env, broker):
    """cluster(**env) -> a Cluster (not started); every cluster is killed when the test ends."""
    made: list[Cluster] = []

    def _make(**extra: str) -> Cluster:
        c = Cluster(env={**cluster_env, **extra})
        made.append(c)
        return c

    yield _make
    for c in made:
        c.kill()
        c.log.unlink(missing_ok=True)


def terminate_cluster_connections() -> int:
    """Drop the cluster's sessions on the test database, as a failover would. Only the cluster's:
    other threads of this test run (a session-wide live server) keep theirs."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s",
            [CLUSTER_APPLICATION_NAME],
        )
        return cursor.fetchone()[0]


def time_passes(delta: timedelta) -> None:
    """Move every clock the recovery code reads back by delta: leases run out, the broker's
    retry time for tasks a dead cluster held passes, the sweepers' grace periods end."""
    from django_q.models import OrmQ

    from outreach.mail.models import OutboundMessage
    from review.models import Draft

    OrmQ.objects.exclude(lock=None).update(lock=timezone.now() - delta - timedelta(hours=1))
    for row in OutboundMessage.objects.exclude(lease_expires_at=None):
        OutboundMessage.objects.filter(pk=row.pk).update(lease_expires_at=row.lease_expires_at - delta)
    for row in OutboundMessage.objects.all():
        OutboundMessage.objects.filter(pk=row.pk).update(updated_at=row.updated_at - delta)
    for draft in Draft.objects.all():
        Draft.objects.filter(pk=draft.pk).update(
            updated_at=draft.updated_at - delta,
            drafting_started_at=draft.drafting_started_at - delta if draft.drafting_started_at else None,
        )


@dataclass
class SlowHandler(CapturingHandler):
    """Accepts every message after `delay` seconds in DATA: a kill lands mid-send. A message
    whose DATA was fully transmitted counts as received even if the client is gone by then (the
    server has it, exactly the case where the sender cannot know)."""

    delay: float = 0.0

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)

    def per_message_id(self) -> Counter:
        return Counter(str(r.message["Message-ID"]) for r in self.received)

    def per_recipient(self) -> Counter:
        return Counter(addr for r in self.received for addr in r.rcpt_tos)


@pytest.fixture
def slow_smtp(cluster_env, settings):
    """A local SMTP server whose DATA takes 1 s; the cluster's backend (and this process's, which
    recovery consults) points at it."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    handler = SlowHandler(delay=1.0)
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    cluster_env.update(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(controller.port),
        EMAIL_USE_TLS="0",
        EMAIL_USE_SSL="0",
    )
    settings.EMAIL_BACKEND = cluster_env["EMAIL_BACKEND"]
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    yield handler
    controller.stop()


__all__ = ["Received"]
