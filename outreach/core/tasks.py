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
