"""/readyz follows the real worker: unavailable while no qcluster runs, ready while one does,
unavailable again at once after a clean stop, and within READY_WORKER_MAX_AGE_SECONDS after the
worker is killed outright (its heartbeat stops). On both brokers."""

from __future__ import annotations

import signal
import time

import pytest
from django.test import Client

from tests.qcluster import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.processes, pytest.mark.django_db(transaction=True)]


def _worker_check() -> tuple[int, dict]:
    response = Client().get("/readyz")
    return response.status_code, response.json()["checks"]["worker"]


def test_readyz_turns_unavailable_when_the_worker_stops_and_ready_when_it_returns(cluster, settings):
    settings.READY_WORKER_MAX_AGE_SECONDS = 8  # the heartbeat comes every 5 s
    status, worker = _worker_check()
    print(f"\n[readyz] before any worker: {status} {worker}")
    assert status == 503 and worker["clusters"] == 0

    c = cluster().start()
    wait_until(lambda: _worker_check()[0] == 200, what="/readyz to be ready")
    print(f"  worker running: {_worker_check()}")

    c.signal(signal.SIGTERM)
    c.wait_for_exit(timeout=60)
    status, worker = _worker_check()
    print(f"  after SIGTERM: {status} {worker}")
    assert status == 503 and worker["clusters"] == 0

    c = cluster().start()
    wait_until(lambda: _worker_check()[0] == 200, what="/readyz to be ready again")

    c.kill()  # SIGKILL: no clean stop, the heartbeat row stays and grows old
    assert _worker_check()[0] == 200  # the last beat is still recent
    time.sleep(settings.READY_WORKER_MAX_AGE_SECONDS + 1)
    status, worker = _worker_check()
    print(f"  {settings.READY_WORKER_MAX_AGE_SECONDS + 1} s after SIGKILL: {status} {worker}")
    assert status == 503 and worker["heartbeat_age_seconds"] > settings.READY_WORKER_MAX_AGE_SECONDS
