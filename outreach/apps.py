from django.apps import AppConfig


class OutreachConfig(AppConfig):
    name = "outreach"
    verbose_name = "Outreach"

    def ready(self) -> None:
        from . import roles, tracking

        roles.connect_signals()
        tracking.connect_signals()
