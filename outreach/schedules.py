"""The one schedule registry: every periodic task, with its interval.

Applied after every migrate (`schedules_apply`, connected in `outreach/apps.py`): each schedule is
created or updated by name, a conditional one is removed when its condition is off, and a
schedule of ours that is no longer listed here (renamed or moved) is deleted, so running it again
changes nothing. Only dotted paths appear here: this module imports no part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Periodic:
    name: str
    func: str
    minutes: int
    # Scheduled only while this returns True (read at migrate time).
    enabled: Callable[[], bool] = lambda: True
    # First run at this hour (UTC) rather than at once: for slow daily work that should not keep a
    # worker busy when the cluster starts.
    first_run_hour: int | None = None

    def first_run(self):
        from datetime import UTC, datetime, timedelta

        now = datetime.now(UTC)
        if self.first_run_hour is None:
            return now
        run = now.replace(hour=self.first_run_hour, minute=0, second=0, microsecond=0)
        return run if run > now else run + timedelta(days=1)


SCHEDULES: tuple[Periodic, ...] = (
    # mail: the outbox's crash safety, engagement processing, replies from one IMAP mailbox
    Periodic("outbox: recover expired leases", "outreach.mail.tasks.outbound_message_recover", 1),
    Periodic("outbox: re-enqueue lost sends", "outreach.mail.tasks.outbound_message_sweep", 1),
    Periodic("engagement: process events whose task was lost", "outreach.mail.tasks.engagement_sweep", 2),
    # Only with a mailbox to read; provider setups get replies by inbound webhook.
    Periodic("replies: poll the IMAP mailbox", "outreach.mail.tasks.replies_poll", 5, lambda: bool(settings.IMAP_HOST)),
    # mail: each sending domain's SPF, DMARC and DKIM, daily (also on demand from the pages)
    Periodic(
        "deliverability: check sending domains",
        "outreach.mail.tasks.sending_domains_check",
        24 * 60,
        first_run_hour=3,
    ),
    # Each sender's own mailbox: every connected one is read when due (each pass is cheap when
    # nothing changed: one STATUS round trip).
    Periodic(
        "mailboxes: sync connected mailboxes",
        "outreach.mail.tasks.mailboxes_sync_due",
        max(1, round(settings.MAILBOX_SYNC_INTERVAL_SECONDS / 60)),
    ),
    # people: CSV imports whose task was lost with the broker
    Periodic("imports: re-enqueue lost imports", "outreach.people.tasks.import_jobs_sweep", 2),
    # integrations: webhook retries and the idempotency-key purge
    Periodic("webhook-deliveries-sweep", "outreach.integrations.tasks.webhook_deliveries_sweep", 1),
    # review: drafts whose worker or task was lost
    Periodic("review: return stale drafts to the queue", "review.tasks.draft_sweep_stale", 1),
    # review: Message Batches of drafts (submit lost ones, check, store results); one query when
    # there are none, so always listed: a provider switched on later needs no migrate.
    Periodic("review: poll drafting batches", "review.tasks.draft_batches_poll", 1),
    # campaigns: due sequence steps and milestone rules
    Periodic("campaigns: advance due steps", "campaigns.tasks.enrollment_advance_due_task", 5),
    Periodic("campaigns: milestone scan", "campaigns.tasks.milestone_scan_task", 60),
    Periodic("campaigns: re-enqueue lost exit-condition checks", "campaigns.tasks.exit_condition_checks_sweep", 2),
)


def schedules_apply(**kwargs) -> None:
    """Make the database's schedules match the registry. Idempotent."""
    from django_q.models import Schedule

    wanted = {s.name: s for s in SCHEDULES if s.enabled()}
    for schedule in wanted.values():
        Schedule.objects.update_or_create(
            name=schedule.name,
            defaults={
                "func": schedule.func,
                "schedule_type": Schedule.MINUTES,
                "minutes": schedule.minutes,
                "repeats": -1,
            },
            # Only when it is created: a later migrate leaves its next run where it is.
            create_defaults={
                "func": schedule.func,
                "schedule_type": Schedule.MINUTES,
                "minutes": schedule.minutes,
                "repeats": -1,
                "next_run": schedule.first_run(),
            },
        )
    ours = Schedule.objects.filter(func__regex=r"^(outreach|review|campaigns)\.")
    ours.exclude(name__in=list(wanted)).delete()
