"""Serve the web app and the django-q2 worker together, for the demo and local use."""

import contextlib
import signal
import subprocess
import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the development web server and the background worker (qcluster) together."

    def add_arguments(self, parser):
        parser.add_argument("--port", default="8000")
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, host: str, port: str, **options):
        manage = [sys.executable, "manage.py"]
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
        except KeyboardInterrupt:
            pass
        finally:
            for proc in (web, worker):
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
            for proc in (web, worker):
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
