"""manage.py sync_mailboxes: read every connected mailbox that is due, once or every N seconds.

The worker does this on its schedule (MAILBOX_SYNC_INTERVAL_SECONDS); this command is for a
shorter interval than the scheduler's minute, the demo, and looking at what one pass does.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from outreach.mail.services.mailbox_sync import mailbox_sync, mailboxes_sync_due


class Command(BaseCommand):
    help = "Sync connected mailboxes: replies, auto-replies and bounces that answer our emails."

    def add_arguments(self, parser):
        parser.add_argument("--mailbox", type=int, help="Sync this mailbox now, due or not.")
        parser.add_argument("--every", type=float, default=0, help="Keep syncing every N seconds.")

    def handle(self, *args, mailbox: int | None, every: float, **options):
        while True:
            results = [mailbox_sync(mailbox_id=mailbox)] if mailbox else mailboxes_sync_due()
            for result in results:
                what = (
                    result.skipped
                    or result.error
                    or (", ".join(f"{n} {k}" for k, n in result.outcomes.items()) or "nothing new")
                )
                self.stdout.write(f"mailbox {result.mailbox_id}: {what}")
            if not every:
                return
            time.sleep(every)
