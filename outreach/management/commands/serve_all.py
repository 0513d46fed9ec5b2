"""Serve the web app and the django-q2 worker together, for the demo and local use."""

import contextlib
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand


class _Stop(Exception):
    pass


def _raise_stop(signum, frame):
    raise _Stop


class Command(BaseCommand):
    help = (
        "Run the development web server and the background worker (qcluster) together; "
        "Ctrl-C or SIGTERM stops both (the worker finishes its current task first)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", default="8000")
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, host: str, port: str, **options):
        manage = [sys.executable, "manage.py"]
        # SIGTERM (a deploy tool, `kill`) stops as Ctrl-C does, instead of orphaning both children.
        signal.signal(signal.SIGTERM, _raise_stop)
        worker = subprocess.Popen([*manage, "qcluster"])
        web = subprocess.Popen([*manage, "runserver", f"{host}:{port}", "--noreload"])
        self.stdout.write(
            self.style.SUCCESS(f"\nOutreach Review is running at http://{host}:{port}/  (Ctrl-C stops web and worker)")
        )
        self.stdout.write("Demo logins: rita (rep), carl (csm), ada (admin); password: outreach-demo\n")
        try:
            while web.poll() is None and worker.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    web.wait(timeout=1)
        except (KeyboardInterrupt, _Stop):
            pass
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            # The worker's SIGTERM: it claims nothing new and finishes the task it is running.
            for proc, signum in ((web, signal.SIGINT), (worker, signal.SIGTERM)):
                if proc.poll() is None:
                    proc.send_signal(signum)
            for proc, grace in ((web, 15), (worker, settings.Q_TASK_TIMEOUT + 15)):
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    proc.kill()
