"""Handing a task to the broker (django-q2's ORM broker or Redis).

A task is only a nudge: the row it is about holds the truth, and each part's periodic sweeper
re-enqueues rows whose task was lost. So a broker that is down (Redis restarting) must not fail
the request that committed the row: the enqueue is logged and skipped, and the sweeper sends
the nudge again once the broker is back.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def _broker_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError]
    try:
        from redis.exceptions import RedisError
    except ImportError:  # the ORM broker only
        pass
    else:
        errors.append(RedisError)
    return tuple(errors)


def task_enqueue(func: str, *args, **kwargs) -> str | None:
    """async_task(func, *args, **kwargs); returns the task id, or None when the broker is down."""
    from django_q.tasks import async_task

    try:
        return async_task(func, *args, **kwargs)
    except _broker_errors() as exc:
        logger.warning("broker unavailable, %s not enqueued (its sweeper will retry): %s", func, exc)
        return None


def pending_task_names(*, limit: int = 20000) -> set[str] | None:
    """Names of the tasks waiting in the broker (ORM or Redis), for sweepers that should not nudge a
    row whose task is still on its way; None when the broker cannot be read (the sweeper then nudges
    anyway, which is safe, only wasteful). Reads the first `limit` waiting tasks."""
    from django_q.brokers import get_broker
    from django_q.conf import Conf
    from django_q.signing import BadSignature, SignedPackage

    try:
        if Conf.ORM:
            from django_q.models import OrmQ

            payloads = [t.payload for t in OrmQ.objects.using(Conf.ORM).all()[:limit]]
        elif Conf.REDIS:
            broker = get_broker()
            payloads = broker.connection.lrange(broker.list_key, 0, limit - 1)
        else:
            return None
    except _broker_errors() as exc:
        logger.warning("broker unavailable, its waiting tasks unknown: %s", exc)
        return None
    names: set[str] = set()
    for payload in payloads:
        try:
            names.add(str(SignedPackage.loads(payload).get("name", "")))
        except BadSignature:
            continue
    return names
