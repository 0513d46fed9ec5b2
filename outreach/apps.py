from django.apps import AppConfig
from django.db.models.signals import post_migrate


class OutreachConfig(AppConfig):
    name = "outreach"
    verbose_name = "Outreach"

    def ready(self) -> None:
        from . import roles, tasks, tracking, webhooks

        roles.connect_signals()
        tracking.connect_signals()
        # The outbox's recovery job and sweeper are django-q2 schedules, (re)registered after migrate.
        post_migrate.connect(tasks.ensure_schedules, sender=self, dispatch_uid="outbox_schedules")
        # Emitted signals: engagement and suppression news become OutboundEvents for webhooks.
        webhooks.connect_signals()
        post_migrate.connect(webhooks.ensure_schedule, sender=self, dispatch_uid="webhook-schedule")
