"""django-q2 entry points for the foundation (sending, engagement): thin, take ids, call services,
safe to run twice."""

from __future__ import annotations

from . import sending

# Periodic jobs, registered after every migrate (see ensure_schedules): name -> (function, minutes).
SCHEDULES = {
    "outbox: recover expired leases": ("outreach.tasks.outbound_message_recover", 1),
    "outbox: re-enqueue lost sends": ("outreach.tasks.outbound_message_sweep", 1),
    "engagement: process events whose task was lost": ("outreach.tasks.engagement_sweep", 2),
}


def outbound_message_send(message_id: int) -> str:
    message = sending.outbound_message_send(message_id=message_id)
    return message.state if message is not None else "not claimed"


def outbound_message_recover() -> dict[str, int]:
    return sending.outbound_message_recover()


def outbound_message_sweep() -> int:
    return sending.outbound_message_sweep()


def engagement_event_process(event_id: int) -> None:
    from .tracking import engagement_event_process as process

    process(event_id=event_id)


def engagement_sweep() -> int:
    """Periodic: re-enqueue engagement events whose processing task was lost."""
    from .tracking import engagement_sweep as sweep

    return sweep()


# Only with a mailbox to read (IMAP_HOST); provider setups get replies by inbound webhook.
REPLIES_SCHEDULE = ("replies: poll the IMAP mailbox", "outreach.tasks.replies_poll", 5)


def ensure_schedules(**kwargs) -> None:
    """Create or update the periodic jobs by name: running it again changes nothing."""
    from django.conf import settings
    from django_q.models import Schedule

    schedules = dict(SCHEDULES)
    name, func, minutes = REPLIES_SCHEDULE
    if settings.IMAP_HOST:
        schedules[name] = (func, minutes)
    else:
        Schedule.objects.filter(name=name).delete()
    for name, (func, minutes) in schedules.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1},
        )


def replies_poll() -> str:
    from .imap_replies import replies_poll as poll

    fetched, recorded = poll()
    return f"{fetched} unseen, {recorded} replies recorded"


def import_job_run(job_id: int) -> None:
    """Import a confirmed CSV. A long file is imported by a chain of tasks, each within half the
    task timeout, so no task is killed (and retried) mid-way."""
    from django.conf import settings

    from . import imports

    if not imports.import_job_run(job_id=job_id, time_budget=settings.Q_TASK_TIMEOUT / 2):
        imports.import_job_enqueue(job_id=job_id)
