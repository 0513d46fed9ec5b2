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
        from .mail.views import recipient_emails_panel
        from .people import roles
        from .people.panels import recipient_panel_register

        roles.connect_signals()
        # The recipient page links to every email in and out with the person (mail sits above people).
        recipient_panel_register(recipient_emails_panel)
        # Provider webhooks (anymail's tracking and inbound signals) become engagement events.
        engagement.connect_signals()
        # Emitted events: engagement and suppression news (Django signals) become EmittedEvents.
        events.connect_signals()
        # After the last project app's migrate, every app's tasks are importable: apply the registry.
        last_app = global_apps.get_app_config(roles.PROJECT_APPS[-1])
        post_migrate.connect(schedules.schedules_apply, sender=last_app, dispatch_uid="schedules")
