from django.core.management.base import BaseCommand

from campaigns.services import enrollment_advance_due
from campaigns.services.milestones import milestone_scan


class Command(BaseCommand):
    help = "Run every active milestone rule now, then request the drafts of every due step."

    def handle(self, *args, **options):
        enrolled = milestone_scan()
        result = enrollment_advance_due()
        self.stdout.write(
            self.style.SUCCESS(
                f"Enrolled {sum(enrolled.values())}; drafts requested {result.drafted}, suppressed "
                f"{result.suppressed}, waiting for another email {result.busy}."
            )
        )
