from django.core.management.base import BaseCommand

from campaigns.demo import load_demo_campaigns


class Command(BaseCommand):
    help = "Add the two demo campaigns (idempotent). Run after seed_demo; then run_milestone_scan."

    def handle(self, *args, **options):
        counts = load_demo_campaigns()
        self.stdout.write(self.style.SUCCESS(f"Demo campaigns ready: {counts}"))
