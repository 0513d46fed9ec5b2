"""The django-q2 broker of a test run, and helpers that read it whatever it is.

`TEST_BROKER=redis` runs the tests on Redis instead of the ORM broker: each pytest process (each
xdist worker) starts one private redis-server (`tests/redis_server.py`) for the whole session and
points this process's django-q2 at it; every test starts with its queue empty. `TEST_BROKER=orm`
(the default) keeps the database as the broker.

Tests that hand a task to the broker (an enqueue that is not run inline) are marked
`@pytest.mark.broker`; `.ci/run` runs them a second time on Redis (`-m broker`). A test that
enqueues without the mark fails, so every enqueuing test runs on both brokers. Tests that request
a `broker` fixture (tests/faults/) are parametrized over both brokers themselves and need no mark.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest

TEST_BROKER = os.environ.get("TEST_BROKER", "orm").strip().lower()
if TEST_BROKER not in {"orm", "redis"}:
    raise RuntimeError(f"TEST_BROKER must be 'orm' or 'redis', got {TEST_BROKER!r}")


@dataclass(frozen=True)
class QueuedTask:
    func: str
    name: str
    args: tuple
    kwargs: dict


def _broker():
    from django_q.brokers import get_broker

    return get_broker()


def _load(payload) -> dict[str, Any]:
    from django_q.signing import SignedPackage

    return SignedPackage.loads(payload)


def _as_queued(task: dict[str, Any]) -> QueuedTask:
    func = task["func"]
    return QueuedTask(
        func=func if isinstance(func, str) else f"{func.__module__}.{func.__name__}",
        name=str(task.get("name", "")),
        args=tuple(task.get("args", ())),
        kwargs=dict(task.get("kwargs", {})),
    )


def queued_tasks() -> list[QueuedTask]:
    """The tasks waiting in the broker, oldest first, without taking them."""
    from django_q.conf import Conf

    broker = _broker()
    if Conf.ORM:
        from django_q.models import OrmQ

        payloads = [q.payload for q in OrmQ.objects.using(Conf.ORM).order_by("id")]
    else:
        payloads = broker.connection.lrange(broker.list_key, 0, -1)
    return [_as_queued(_load(p)) for p in payloads]


def run_queued_tasks(*, limit: int = 1000) -> list[QueuedTask]:
    """Take every waiting task from the broker and run it here, as a worker would (tasks they
    enqueue are run too, in order). Returns what ran."""
    from django.utils.module_loading import import_string

    broker = _broker()
    ran: list[QueuedTask] = []
    while len(ran) < limit:
        if not broker.queue_size():
            break
        for task_id, payload in broker.dequeue() or []:
            task = _as_queued(_load(payload))
            if task_id is not None:
                broker.acknowledge(task_id)
            import_string(task.func)(*task.args, **task.kwargs)
            ran.append(task)
    return ran


def broker_purge() -> None:
    broker = _broker()
    broker.purge_queue()


# --- The run's broker (fixtures imported by tests/conftest.py) -----------------------------------


@pytest.fixture(scope="session", autouse=True)
def _broker_for_the_run():
    """With TEST_BROKER=redis: one private redis-server for this pytest process, as the broker."""
    if TEST_BROKER != "redis":
        yield None
        return
    from django.conf import settings
    from django_q.conf import Conf

    from tests.redis_server import RedisServer

    server = RedisServer().start()
    saved = (settings.Q_BROKER, settings.Q_CLUSTER, settings.REDIS_URL, Conf.ORM, Conf.REDIS)
    settings.Q_BROKER, settings.REDIS_URL = "redis", server.url
    settings.Q_CLUSTER = {k: v for k, v in settings.Q_CLUSTER.items() if k != "orm"} | {"redis": server.url}
    Conf.ORM, Conf.REDIS = None, server.url
    yield server
    settings.Q_BROKER, settings.Q_CLUSTER, settings.REDIS_URL, Conf.ORM, Conf.REDIS = saved
    server.close()


@pytest.fixture(autouse=True)
def _broker_queue_per_test(request, monkeypatch):
    """Each marked test starts with the run's Redis queue empty; a test that enqueues without the
    `broker` mark fails, as it would otherwise never run on Redis."""
    # The mark itself, not `keywords` (which also holds the names of the folders above the test).
    marked = request.node.get_closest_marker("broker") is not None
    if TEST_BROKER == "redis" and marked:
        broker_purge()
    if marked or "broker" in request.fixturenames:  # a `broker` fixture runs the test on both itself
        yield
        return
    import django_q.tasks

    real = django_q.tasks.async_task
    seen: list[str] = []

    def recording(func, *args, **kwargs):
        from django_q.conf import Conf

        if not kwargs.get("sync", Conf.SYNC):
            seen.append(str(func))
        return real(func, *args, **kwargs)

    monkeypatch.setattr(django_q.tasks, "async_task", recording)
    yield
    if seen:
        # At teardown: the enqueue may have happened in another thread (live_server's).
        pytest.fail(
            f"this test enqueues {seen[0]} through django-q but is not marked @pytest.mark.broker: "
            "mark it, so `make test-redis` runs it on Redis too (tests/broker.py)",
            pytrace=False,
        )


@pytest.fixture
def stoppable_redis(settings, monkeypatch):
    """A private redis-server as this test's broker, which the test may stop and start again (it
    comes back empty, as a Redis that lost its memory would)."""
    from tests.qcluster import use_broker
    from tests.redis_server import RedisServer

    server = RedisServer().start()
    use_broker(settings, monkeypatch, redis_url=server.url)
    yield server
    server.close()
