"""manage.py idle_mailboxes: watch every connected IMAP mailbox with IDLE, so a reply is read within
seconds (outreach.mail.services.mailbox_idle). A long-running process beside the worker; SIGTERM
or Ctrl-C ends each IDLE, logs out and exits."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from outreach.mail.services.mailbox_idle import IdleSupervisor


class Command(BaseCommand):
    help = "Keep one IMAP IDLE connection per connected mailbox whose server offers it; read new mail at once."

    def handle(self, *args, **options):
        stop = threading.Event()

        def _stop(signum, frame):
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        supervisor = IdleSupervisor(stop)
        self.stdout.write("idle_mailboxes: watching connected IMAP mailboxes (SIGTERM stops)", ending="\n")
        self.stdout.flush()
        supervisor.run()
        self.stdout.write("idle_mailboxes: stopped")
