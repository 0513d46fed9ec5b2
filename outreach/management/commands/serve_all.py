"""Serve the web app and the django-q2 worker together, for the demo and local use."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class _Stop(Exception):
    pass


def _raise_stop(signum, frame):
    raise _Stop


def site_url_for(host: str, port: str, environ) -> str:
    """The address links in emails (unsubscribe) point at: SITE_URL when it is set, otherwise the
    address this command serves, so a demo on another port gets working links."""
    if environ.get("SITE_URL"):
        return str(environ["SITE_URL"]).rstrip("/")
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "localhost", "") else host  # noqa: S104
    return f"http://{shown}:{port}"


def wait_for_port(host: str, port: int, *, alive, timeout: float = 120.0) -> bool:
    """True once something accepts connections on host:port; False if `alive()` turns false or the
    time runs out first (the banner is printed only when the address really answers)."""
    deadline = time.monotonic() + timeout
    target = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104
    while time.monotonic() < deadline and alive():
        with contextlib.suppress(OSError), socket.create_connection((target, port), timeout=0.5):
            return True
        time.sleep(0.2)
    return False


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
        site_url = site_url_for(host, port, os.environ)
        env = {**os.environ, "SITE_URL": site_url}  # the worker builds the links at send time
        worker = subprocess.Popen([*manage, "qcluster"], env=env)
        web = subprocess.Popen([*manage, "runserver", f"{host}:{port}", "--noreload"], env=env)
        self.stdout.write(f"Starting the web server and the worker on {host}:{port}…")
        try:
            if wait_for_port(host, int(port), alive=lambda: web.poll() is None and worker.poll() is None):
                self.stdout.write(
                    self.style.SUCCESS(f"\nOutreach Review is running at {site_url}/  (Ctrl-C stops web and worker)")
                )
                self.stdout.write("Demo logins: rita (rep), carl (csm), ada (admin); password: outreach-demo\n")
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
