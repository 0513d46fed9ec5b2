from django.apps import AppConfig


class OutreachConfig(AppConfig):
    name = "outreach"
    verbose_name = "Outreach"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import roles, webhooks

        roles.connect_signals()
        # Emitted signals: engagement and suppression news become OutboundEvents for webhooks.
        webhooks.connect_signals()
        post_migrate.connect(webhooks.ensure_schedule, sender=self, dispatch_uid="webhook-schedule")
