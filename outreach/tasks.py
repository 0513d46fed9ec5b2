"""django-q2 entry points for sending: thin, take ids, call services, safe to run twice."""

from __future__ import annotations

from . import sending

# Periodic jobs, registered after every migrate (see ensure_schedules): name -> (function, minutes).
SCHEDULES = {
    "outbox: recover expired leases": ("outreach.tasks.outbound_message_recover", 1),
    "outbox: re-enqueue lost sends": ("outreach.tasks.outbound_message_sweep", 1),
}


def outbound_message_send(message_id: int) -> str:
    message = sending.outbound_message_send(message_id=message_id)
    return message.state if message is not None else "not claimed"


def outbound_message_recover() -> dict[str, int]:
    return sending.outbound_message_recover()


def outbound_message_sweep() -> int:
    return sending.outbound_message_sweep()


def ensure_schedules(**kwargs) -> None:
    """Create or update the periodic jobs by name: running it again changes nothing."""
    from django_q.models import Schedule

    for name, (func, minutes) in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1},
        )
