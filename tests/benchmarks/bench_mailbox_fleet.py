"""Many mailboxes, the real schedule: 200 IMAP mailboxes on one real Dovecot (a passwd-file with 200
users), connected through the service, synced by a real django-q2 cluster (`manage.py qcluster`,
the default Q_WORKERS=2) running the "mailboxes: sync connected mailboxes" schedule.

Nothing changes in any mailbox, so every pass is the no-change pass. The cluster reaches Dovecot
through a counting TCP proxy on 127.0.0.1 (`ImapTap`): each sync is one IMAP connection, whose
commands and duration the proxy records, so the figures are what the worker did on the wire.
BENCH_MAILBOXES (200) and BENCH_IMAP_DELAY_MS (0: the proxy adds this much before each answer
of the server, as a remote server's round trip would) change the set-up.
"""

from __future__ import annotations

import os
import socket
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule

from outreach.mail.models import MailboxConnection
from outreach.mail.services.mailboxes import mailbox_connect_imap
from outreach.schedules import schedules_apply
from tests.factories import UserFactory
from tests.mail_servers import SmtpSubmission, free_port
from tests.mailboxes.conftest import dovecot  # noqa: F401 - fixture
from tests.qcluster import Cluster, cluster_base_env, wait_until

pytestmark = [pytest.mark.benchmark, pytest.mark.django_db(transaction=True)]

MAILBOXES = int(os.environ.get("BENCH_MAILBOXES", "200"))
DELAY_MS = float(os.environ.get("BENCH_IMAP_DELAY_MS", "0"))
SCHEDULE = "mailboxes: sync connected mailboxes"
MINUTES = 3  # the first pass (every mailbox never synced) and the ticks of the next two minutes


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(round(0.95 * len(values))) - 1)]


@dataclass
class Session:
    opened: float
    closed: float = 0.0
    user: str = ""
    commands: list[str] = field(default_factory=list)


class ImapTap:
    """A TCP proxy in front of Dovecot that records, per connection, the IMAP commands the client
    sent (tag, then the command name) and how long the connection lasted."""

    def __init__(self, upstream_port: int, delay_ms: float = 0.0) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.delay = delay_ms / 1000
        self.port = free_port()
        self.sessions: list[Session] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port), backlog=64)
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            session = Session(opened=time.time())
            with self._lock:
                self.sessions.append(session)
            threading.Thread(target=self._serve, args=(client, session), daemon=True).start()

    def _serve(self, client: socket.socket, session: Session) -> None:
        upstream = socket.create_connection(self.upstream)
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def to_server() -> None:
            buffer = b""
            try:
                while data := client.recv(65536):
                    buffer += data
                    *lines, buffer = buffer.split(b"\r\n")
                    for line in lines:
                        parts = line.split(b" ", 3)
                        if len(parts) >= 2 and not line.startswith((b"+", b"*")):
                            session.commands.append(parts[1].decode("ascii", "replace").upper())
                            if parts[1].upper() == b"LOGIN" and len(parts) > 2:
                                session.user = parts[2].decode("ascii", "replace").strip('"')
                    upstream.sendall(data)
            except OSError:
                pass
            finally:
                upstream.close()

        sender = threading.Thread(target=to_server, daemon=True)
        sender.start()
        try:
            while data := upstream.recv(65536):
                if self.delay:
                    time.sleep(self.delay)
                client.sendall(data)
        except OSError:
            pass
        finally:
            session.closed = time.time()
            client.close()
            sender.join(timeout=5)

    def reset(self) -> None:
        with self._lock:
            self.sessions = []

    def finished(self) -> list[Session]:
        with self._lock:
            return [s for s in self.sessions if s.closed]

    def close(self) -> None:
        self._stopped = True
        self._listener.close()


def test_200_mailboxes_synced_every_minute_by_two_workers(bench_report, dovecot):  # noqa: F811
    accounts = {f"rep{n:03d}@fleet.example": f"pw-{n}" for n in range(MAILBOXES)}
    for address, password in accounts.items():
        dovecot.users[address] = password
    dovecot.add_user(*next(iter(accounts.items())))  # writes the passwd file once, with every user
    submission = SmtpSubmission(accounts)
    submission.start()
    tap = ImapTap(dovecot.port, DELAY_MS)
    try:
        for n, (address, password) in enumerate(accounts.items()):
            mailbox_connect_imap(
                user=UserFactory(username=f"fleet{n:03d}", role="rep", password=None),
                email_address=address,
                imap_host="127.0.0.1",
                imap_port=tap.port,
                imap_security="none",
                smtp_host="127.0.0.1",
                smtp_port=submission.port,
                smtp_security="none",
                username=address,
                password=password,
            )
        assert MailboxConnection.objects.filter(state=MailboxConnection.State.CONNECTED).count() == MAILBOXES
        schedules_apply()
        # The schedule is due as the cluster starts (its scheduler looks every 30 s).
        Schedule.objects.filter(name=SCHEDULE).update(next_run=timezone.now() - timedelta(seconds=1))
        tap.reset()
        cluster = Cluster(env=cluster_base_env(workers=2)).start()
        try:
            wait_until(lambda: bool(tap.finished()), timeout=120, what="the first sync")
            # Then MINUTES whole minutes of the schedule, whatever it manages in them.
            first = min(s.opened for s in tap.finished())
            time.sleep(max(0.0, first + 60 * MINUTES + 2 - time.time()))
        except AssertionError:
            print(cluster.output())
            raise
        finally:
            cluster.kill()
            cluster.log.unlink(missing_ok=True)
    finally:
        tap.close()
        submission.stop()

    sessions = sorted(tap.finished(), key=lambda s: s.opened)
    first_start = sessions[0].opened
    # Mailboxes synced in each minute from the first sync on (the first minute holds the first
    # pass, the second the next one, and so on): what the schedule keeps up with.
    per_minute = [
        len({s.user for s in sessions if first_start + 60 * m <= s.opened < first_start + 60 * (m + 1)})
        for m in range(MINUTES)
    ]
    # A pass: the syncs of one schedule run, told apart by the gap between runs.
    passes: list[list[Session]] = [[sessions[0]]]
    for s in sessions[1:]:
        if s.opened - passes[-1][-1].closed > 20:
            passes.append([])
        passes[-1].append(s)
    pass_seconds = [p[-1].closed - p[0].opened for p in passes]
    later = [s for p in passes[1:] for s in p]  # every mailbox already synced once: nothing changed
    durations = [(s.closed - s.opened) * 1000 for s in later]
    shapes = {" ".join(s.commands) for s in later}
    requests = [sum(1 for c in s.commands if c not in ("CAPABILITY", "LOGIN", "LOGOUT")) for s in later]
    load = os.getloadavg()[0]
    delay = f", +{DELAY_MS:.0f} ms per server answer" if DELAY_MS else ""
    bench_report.add(
        f"{MAILBOXES} mailboxes, real schedule, Q_WORKERS=2{delay}: synced per minute",
        " / ".join(str(n) for n in per_minute) + f" (load {load:.1f})",
        f">= {MAILBOXES}/min",
        min(per_minute) >= MAILBOXES,
    )
    by_user: dict[str, list[float]] = {}
    for s in sessions:
        by_user.setdefault(s.user, []).append(s.opened)
    gaps = [b - a for times in by_user.values() for a, b in zip(times, times[1:], strict=False)]
    bench_report.add(
        "  longest wait between two syncs of one mailbox",
        f"{max(gaps):.0f} s (median {statistics.median(gaps):.0f} s)",
        "one tick",
        max(gaps) < 95,
    )
    bench_report.add(
        "  the schedule's passes (mailboxes in wall time)",
        ", ".join(f"{len(p)} in {s:.1f} s" for p, s in zip(passes, pass_seconds, strict=True)),
    )
    bench_report.add(
        "  per no-change sync on the wire (connect → close, p50/p95)",
        f"{statistics.median(durations):.1f} ms / {_p95(durations):.1f} ms",
        "<= 20 ms",
        _p95(durations) <= 20,
    )
    bench_report.add(
        "  requests per no-change sync besides login/logout",
        f"{statistics.mean(requests):.2f} ({' | '.join(sorted(shapes))})",
        "1",
        max(requests) == 1,
    )
    print(f"{len(sessions)} syncs; passes of {[len(p) for p in passes]}")
