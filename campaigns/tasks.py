"""django-q2 entry points: thin, take ids, call services, safe to run twice."""

from __future__ import annotations

from django.utils import timezone

from . import services
from .services import milestones


def enrollment_advance_due_task() -> dict[str, int]:
    result = services.enrollment_advance_due(now=timezone.now())
    return {"drafted": result.drafted, "suppressed": result.suppressed, "busy": result.busy}


def milestone_scan_task() -> dict[str, int]:
    """Enroll new occurrences, then request the drafts that became due."""
    enrolled = milestones.milestone_scan(now=timezone.now())
    advanced = enrollment_advance_due_task()
    return {"enrolled": sum(enrolled.values()), **advanced}


def enrollment_evaluate_exit_condition_task(enrollment_id: int, event_id: int) -> None:
    services.enrollment_evaluate_exit_condition(enrollment_id=enrollment_id, event_id=event_id)


def exit_condition_checks_sweep() -> int:
    """Periodic: re-enqueue exit-condition checks whose task was lost (the broker was down)."""
    return services.exit_condition_checks_sweep()
