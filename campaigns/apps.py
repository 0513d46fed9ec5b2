from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from outreach.roles import ensure_role_groups

        from . import receivers
        from .schedules import ensure_schedules

        receivers.connect()
        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="campaigns.schedules")
        # The role groups are built after outreach migrates, before review's and campaigns'
        # permissions exist on a fresh database; build them again once campaigns (the last app) has.
        post_migrate.connect(ensure_role_groups, sender=self, dispatch_uid="roles.after_campaigns")
