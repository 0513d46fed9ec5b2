"""The periodic jobs, registered idempotently after every migrate."""

from __future__ import annotations

SCHEDULES = {
    # name: (function, minutes)
    "campaigns: advance due steps": ("campaigns.tasks.enrollment_advance_due_task", 5),
    "campaigns: milestone scan": ("campaigns.tasks.milestone_scan_task", 60),
}


def ensure_schedules(**kwargs) -> None:
    from django_q.models import Schedule

    for name, (func, minutes) in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1}
        )
