"""django-q2 entry points for people (CSV import): thin, take ids, call services, safe to run twice."""

from __future__ import annotations

from django.conf import settings

from .services import imports


def import_job_run(job_id: int) -> None:
    """Import a confirmed CSV. A long file is imported by a chain of tasks, each within half the
    task timeout, so no task is killed (and retried) mid-way."""
    if not imports.import_job_run(job_id=job_id, time_budget=settings.Q_TASK_TIMEOUT / 2):
        imports.import_job_enqueue(job_id=job_id)


def import_jobs_sweep() -> int:
    """Periodic: re-enqueue imports whose task was lost (the broker was down or lost it)."""
    return imports.import_jobs_sweep()
