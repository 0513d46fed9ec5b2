"""django-q2 entry points: thin, take ids, call services. Safe to run twice."""

from __future__ import annotations

from . import services


def draft_generate(draft_id: int) -> None:
    services.draft_generate(draft_id=draft_id)


def draft_sweep_stale() -> dict[str, int]:
    return services.draft_sweep_stale()


def draft_batch_submit(batch_id: int) -> None:
    services.draft_batch_submit(batch_id=batch_id)


def draft_batches_poll() -> dict[str, int]:
    return services.draft_batches_poll()
