"""django-q2 entry points for the foundation: thin, take ids, call services, safe to run twice."""

from __future__ import annotations


def engagement_event_process(event_id: int) -> None:
    from .tracking import engagement_event_process as process

    process(event_id=event_id)


def engagement_sweep() -> int:
    """Periodic: re-enqueue engagement events whose processing task was lost."""
    from .tracking import engagement_sweep as sweep

    return sweep()
