"""manage.py poll_replies: one pass over the IMAP mailbox set by IMAP_HOST/PORT/USER/PASSWORD/FOLDER."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from outreach.mail.services.replies import replies_poll


class Command(BaseCommand):
    help = "Record replies found in the IMAP mailbox set by IMAP_HOST/PORT/USER/PASSWORD/FOLDER."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=200, help="Messages per run.")

    def handle(self, *args, limit: int, **options):
        try:
            fetched, recorded = replies_poll(limit=limit)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{fetched} unseen message(s), {recorded} reply(ies) recorded")
