from django.core.management.base import BaseCommand

from outreach.demo import DEMO_PASSWORD, TEAM, load_demo_data


class Command(BaseCommand):
    help = "Load demo data (idempotent): three team members, accounts, ~50 recipients with facts, a suppression list."

    def handle(self, *args, **options):
        counts = load_demo_data()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {counts}"))
        for username, _first, _last, role, _title in TEAM:
            self.stdout.write(f"  log in as {username} / {DEMO_PASSWORD}  ({role})")
