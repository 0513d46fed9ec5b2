from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate


class OutreachConfig(AppConfig):
    name = "outreach"
    verbose_name = "Outreach"

    def ready(self) -> None:
        from . import checks, schedules  # noqa: F401 (checks registers itself)
        from .integrations.services import events
        from .mail.services import engagement
        from .people import roles

        roles.connect_signals()
        # Provider webhooks (anymail's tracking and inbound signals) become engagement events.
        engagement.connect_signals()
        # Emitted events: engagement and suppression news (Django signals) become EmittedEvents.
        events.connect_signals()
        # After the last project app's migrate, every app's tasks are importable: apply the registry.
        last_app = global_apps.get_app_config(roles.PROJECT_APPS[-1])
        post_migrate.connect(schedules.schedules_apply, sender=last_app, dispatch_uid="schedules")
