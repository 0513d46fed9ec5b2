from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from . import receivers
        from .schedules import ensure_schedules

        receivers.connect()
        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="campaigns.schedules")
