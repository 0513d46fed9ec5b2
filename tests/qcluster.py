"""A real django-q2 cluster (`manage.py qcluster`) in a subprocess against the pytest database:
used by the fault-injection tests and the drafting benchmark. It sees committed rows only, so
tests using it need `transactional_db`."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[1]
# Every wait in these tests is bounded by this (a cluster takes ~20 s to start on a busy 2-core machine).
WAIT_SECONDS = 60


def wait_until(predicate: Callable[[], bool], *, timeout: float = WAIT_SECONDS, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _database_url() -> str:
    s = connection.settings_dict
    auth = quote(s["USER"] or "", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@dataclass
class Cluster:
    """`manage.py qcluster` in its own process group, so SIGKILL reaches every worker."""

    env: dict[str, str]
    process: subprocess.Popen | None = None
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="qcluster-", suffix=".log")[1]))
    starts: int = 0

    def start(self) -> Cluster:
        assert self.process is None, "already running"
        self.starts += 1
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=BASE_DIR,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def kill(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def signal(self, signum: int, *, group: bool = True) -> None:
        """Send signum to the whole process group (as honcho and systemd do) or the main process
        only (as `docker stop` and `kill PID` do)."""
        assert self.process is not None
        if group:
            os.killpg(self.process.pid, signum)
        else:
            self.process.send_signal(signum)

    def wait_for_exit(self, timeout: float) -> float:
        """Seconds until the main process exited (AssertionError after timeout)."""
        assert self.process is not None
        started = time.monotonic()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"qcluster still running {timeout}s after the signal:\n{self.output()}") from None
        return time.monotonic() - started

    def processes_left(self) -> bool:
        """Whether any process of the cluster's group is still alive (an orphaned worker, say)."""
        assert self.process is not None
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


CLUSTER_APPLICATION_NAME = "outreach-test-qcluster"


def cluster_base_env(*, workers: int) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DEBUG": "1",
        "Q_WORKERS": str(workers),
        "CONN_MAX_AGE": "0",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        # libpq names the cluster's sessions, so a test can drop exactly those.
        "PGAPPNAME": CLUSTER_APPLICATION_NAME,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def use_broker(settings, monkeypatch, *, redis_url: str) -> None:
    """Point this process's django-q2 (which reads its configuration once, at import) at Redis."""
    from django_q.conf import Conf

    settings.Q_BROKER = "redis"
    settings.Q_CLUSTER = {k: v for k, v in settings.Q_CLUSTER.items() if k != "orm"} | {"redis": redis_url}
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", redis_url)
