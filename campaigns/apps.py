from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from outreach.people.panels import recipient_panel_register

        from . import receivers
        from .views import recipient_sequences_panel

        receivers.connect()
        recipient_panel_register(recipient_sequences_panel)
