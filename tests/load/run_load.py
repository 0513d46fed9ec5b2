"""Load test driver: seed, start a WSGI server and a worker, run locust headless, stop, check.

    python tests/load/run_load.py [--duration 2m] [--port 8157] [--reviewers 50] [--api-clients 5]
    python tests/load/run_load.py --web-processes 2 --worker-processes 2 --broker redis --smtp

The second form is the deployment of several machines on one: two gunicorn masters (as on two
web machines) behind a round-robin TCP proxy (the load balancer), two `qcluster` processes sharing
one PostgreSQL and a private Redis, and every email delivered to a real SMTP server (aiosmtpd) in
this process that counts deliveries per Message-ID and per recipient: zero double sends is counted
where the emails arrive, not in the database.

Loopback only and self-stopping: locust runs for --duration, then the server and the worker are
stopped (also on Ctrl-C or an error). It needs PostgreSQL: LOAD_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/outreach_load) names a database that is dropped and created
afresh. Prints the checks: zero request errors, zero lost decisions (every approval accepted by
the server ends as an outbound message that is sent, or still queued/skipped/failed with a
recorded code and reason), every API enrollment stored, and p50/p95 per endpoint. Exits 1 when
a check fails.
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
BIN = Path(PYTHON).parent
PASSWORD = "load-test-password-not-secret"  # noqa: S105 (a throwaway local database)


def _seconds(duration: str) -> int:
    unit = duration[-1]
    if unit.isdigit():
        return int(duration)
    return int(duration[:-1]) * {"s": 1, "m": 60, "h": 3600}[unit]


class SmtpCounter:
    """A real SMTP server on loopback; counts what arrives."""

    def __init__(self) -> None:
        import logging
        import socket
        from collections import Counter

        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.per_message_id: Counter = Counter()
        self.per_recipient: Counter = Counter()
        counter = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                from email import message_from_bytes

                message = message_from_bytes(envelope.content)
                counter.per_message_id[str(message["Message-ID"])] += 1
                for rcpt in envelope.rcpt_tos:
                    counter.per_recipient[rcpt] += 1
                return "250 OK"

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port)
        self.controller.start()
        self.port = port

    def stop(self) -> None:
        self.controller.stop()


class RoundRobinProxy:
    """The load balancer: each new TCP connection goes to the next backend, in a thread."""

    def __init__(self, port: int, backends: list[int]) -> None:
        import asyncio
        import itertools
        import threading

        self.port = port
        self._next = itertools.cycle(backends)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _run(self) -> None:
        import asyncio

        async def pipe(reader, writer):
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.close()

        async def handle(client_reader, client_writer):
            try:
                backend_reader, backend_writer = await asyncio.open_connection("127.0.0.1", next(self._next))
            except OSError:
                client_writer.close()
                return
            await asyncio.gather(pipe(client_reader, backend_writer), pipe(backend_reader, client_writer))

        async def main():
            server = await asyncio.start_server(handle, "127.0.0.1", self.port)
            self.ready.set()
            async with server:
                await server.serve_forever()

        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(main())


def _environment(database_url: str) -> dict[str, str]:
    """Production-like settings on plain HTTP over loopback."""
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "load-test-only-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_COOKIES": "0",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        "DATABASE_URL": database_url,
        "DRAFTING_PROVIDER": "offline",
        "ANTHROPIC_API_KEY": "",
        # Sent emails are stored in the database (the demo's local mailbox), never leave the machine.
        "EMAIL_BACKEND": "outreach.mail.local_mailbox.LocalMailboxBackend",
        "Q_WORKERS": "2",
        "API_RATE_LIMIT_PER_MINUTE": "600",
        "PYTHONUNBUFFERED": "1",
    }


def _recreate_database(database_url: str) -> None:
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(database_url)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def _django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outreach.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def seed(*, reviewers: int, drafts_each: int, api_clients: int) -> dict[str, str]:
    """Reviewers (reps) with ready drafts of their own; CSMs with API tokens and a sequence."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from outreach.people.models import Account, Recipient, SenderProfile
    from review.models import Draft

    User = get_user_model()
    hashed = make_password(PASSWORD)
    reps = Group.objects.get(name="rep")
    csms = Group.objects.get(name="csm")
    users = User.objects.bulk_create(
        [User(username=f"load-rev-{n:02d}", email=f"rev{n}@team.example", password=hashed) for n in range(reviewers)]
        + [User(username=f"load-api-{n}", email=f"api{n}@team.example", password=hashed) for n in range(api_clients)]
    )
    rev_users, api_users = users[:reviewers], users[reviewers:]
    reps.user_set.add(*rev_users)
    csms.user_set.add(*api_users)
    SenderProfile.objects.bulk_create(
        [SenderProfile(user=u, display_name=f"Reviewer {u.pk}", email=u.email, daily_send_limit=10_000) for u in users]
    )
    account = Account.objects.create(name="Load Co", domain="load.example")
    recipients = Recipient.objects.bulk_create(
        [
            Recipient(
                email=f"person-{u.pk}-{i}@customer{i % 50}.example",
                first_name=f"Person{i}",
                last_name="Load",
                account=account,
                owner=u,
            )
            for u in rev_users
            for i in range(drafts_each)
        ],
        batch_size=2000,
    )
    now = timezone.now()
    Draft.objects.bulk_create(
        [
            Draft(
                recipient=r,
                sender=r.owner,
                state=Draft.State.READY,
                subject=f"Your renewal, {r.first_name}",
                body_text=f"Hi {r.first_name},\n\nYour renewal is coming up; the forecasting module is included.\n\n"
                "Would a 20-minute call help?\n\nBest,",
                body_html=f"<p>Hi {r.first_name},</p><p>Your renewal is coming up.</p>",
                provider="load",
                model_name="seed",
                ready_at=now,
                version=1,
            )
            for r in recipients
        ],
        batch_size=2000,
    )
    out = {
        "LOAD_PASSWORD": PASSWORD,
        "LOAD_REVIEWERS": ",".join(u.username for u in rev_users),
        "LOAD_API_TOKENS": "",
        "LOAD_SEQUENCE_ID": "",
    }
    try:
        from outreach.integrations.services.tokens import api_token_create
    except ImportError:  # the REST API is not in this build: the API clients idle
        return out
    from campaigns.models import Campaign, SequenceStep
    from outreach.core import public_ids

    campaign = Campaign.objects.create(
        name="Load sequence", goal="Say hello", status=Campaign.Status.ACTIVE, created_by=api_users[0]
    )
    SequenceStep.objects.create(campaign=campaign, position=1, delay_days=0, subject="Hello", body="Hi there")
    tokens = [api_token_create(user=u, name="load test", scopes=["sequences:write"]).secret for u in api_users]
    out.update(LOAD_API_TOKENS=",".join(tokens), LOAD_SEQUENCE_ID=public_ids.encode("seq", campaign.pk))
    return out


def _wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 (loopback)
            return
        except Exception:
            time.sleep(0.5)
    raise SystemExit(f"the server did not answer at {url}")


def drain(timeout: float = 120) -> int:
    """Wait until the worker has taken every due message; returns how many are still due."""
    from django.db.models import Q
    from django.utils import timezone

    from outreach.mail.models import OutboundMessage

    State = OutboundMessage.State
    deadline = time.monotonic() + timeout
    while True:
        due = OutboundMessage.objects.filter(
            Q(state=State.SENDING)
            | Q(state=State.QUEUED, not_before__isnull=True)
            | Q(state=State.QUEUED, not_before__lte=timezone.now())
        ).count()
        if due == 0 or time.monotonic() > deadline:
            return due
        time.sleep(1)


def check(*, decisions_log: Path, stats_csv: Path, started: float, run_seconds: float, reviewers: int) -> bool:
    from campaigns.models import Enrollment
    from outreach.mail.models import OutboundMessage
    from outreach.people.models import Recipient
    from review.models import Draft, DraftDecision

    State = OutboundMessage.State
    lines = [line.split() for line in decisions_log.read_text().splitlines() if line.strip()]
    by_action: dict[str, list[str]] = {}
    for action, ref in lines:
        by_action.setdefault(action, []).append(ref)
    approved_ids = [int(x) for x in by_action.get("approve", []) + by_action.get("edit_approve", [])]
    rejected_ids = [int(x) for x in by_action.get("reject", [])]
    enrolled = by_action.get("enrolled", [])
    ok = True

    def verdict(name: str, passed: bool, detail: str) -> None:
        nonlocal ok
        ok = ok and passed
        print(f"  [{'ok' if passed else 'FAIL'}] {name}: {detail}")

    rows = list(csv.DictReader(stats_csv.open()))
    total = next(r for r in rows if r["Name"] == "Aggregated")
    failures = int(total["Failure Count"])
    print(f"\nLoad test: {int(total['Request Count'])} requests in {run_seconds:.0f} s "
          f"({float(total['Requests/s']):.1f} req/s)")  # fmt: skip
    verdict("zero errors", failures == 0, f"{failures} failed requests")

    messages = {m.draft_ref: m for m in OutboundMessage.objects.filter(draft_ref__in=approved_ids)}
    decided = set(
        DraftDecision.objects.filter(
            draft_id__in=approved_ids, action__in=[DraftDecision.Action.APPROVE, DraftDecision.Action.EDIT_APPROVE]
        ).values_list("draft_id", flat=True)
    )
    missing = [d for d in approved_ids if d not in messages or d not in decided]
    ended = dict.fromkeys(State.values, 0)
    unexplained = []
    for message in messages.values():
        ended[message.state] += 1
        if message.state != State.SENT and not (message.code and message.error_message):
            unexplained.append(message.pk)
    verdict(
        "zero lost decisions",
        not missing and not unexplained and len(set(approved_ids)) == len(approved_ids),
        f"{len(approved_ids)} approvals accepted ({len(by_action.get('edit_approve', []))} edited): "
        + ", ".join(f"{n} {s}" for s, n in ended.items() if n)
        + f"; {len(missing)} without a message, {len(unexplained)} unsent without a reason",
    )
    db_approvals = DraftDecision.objects.filter(
        action__in=[DraftDecision.Action.APPROVE, DraftDecision.Action.EDIT_APPROVE]
    ).count()
    db_rejects = Draft.objects.filter(state=Draft.State.REJECTED).count()
    # Locust stops its users when the time is up, some with a decision in flight: the server may
    # hold up to one decision per reviewer whose answer no client read, never fewer than they saw.
    unread = (db_approvals - len(approved_ids)) + (db_rejects - len(rejected_ids))
    verdict(
        "decisions match",
        db_approvals >= len(approved_ids) and db_rejects >= len(rejected_ids) and unread <= reviewers,
        f"server stored {db_approvals} approvals and {db_rejects} rejections; clients saw "
        f"{len(approved_ids)} and {len(rejected_ids)} ({unread} answered while the clients were being stopped)",
    )
    double = OutboundMessage.objects.filter(state=State.SENT).count() - len(
        set(OutboundMessage.objects.filter(state=State.SENT).values_list("draft_ref", flat=True))
    )
    verdict("no double sends", double == 0, f"{double} drafts sent more than once")
    if enrolled:
        stored = Enrollment.objects.filter(recipient__in=Recipient.objects.filter(email__in=enrolled)).count()
        verdict("API enrollments stored", stored == len(enrolled), f"{len(enrolled)} accepted, {stored} stored")
    else:
        print("  [--] API clients: no REST API in this build, skipped")
    print(f"\n  {'endpoint':<42} {'requests':>8} {'fails':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    for r in rows:
        if r["Name"] == "Aggregated":
            continue
        print(
            f"  {r['Name']:<42} {r['Request Count']:>8} {r['Failure Count']:>6} {r['50%']:>7} {r['95%']:>7} "
            f"{r['99%']:>7} {float(r['Max Response Time']):>7.0f}"
        )
    print(f"  {'all':<42} {total['Request Count']:>8} {total['Failure Count']:>6} {total['50%']:>7} "
          f"{total['95%']:>7} {total['99%']:>7} {float(total['Max Response Time']):>7.0f}")  # fmt: skip
    return ok


def check_smtp(smtp: SmtpCounter) -> bool:
    """Counted where the emails arrive: each sent row arrived exactly once, nothing arrived twice."""
    from outreach.mail.models import OutboundMessage

    sent = list(OutboundMessage.objects.filter(state=OutboundMessage.State.SENT).values_list("message_id", "to_email"))
    twice = sum(1 for n in smtp.per_message_id.values() if n > 1) + sum(1 for n in smtp.per_recipient.values() if n > 1)
    missing = sum(1 for mid, _ in sent if smtp.per_message_id[mid] != 1)
    passed = twice == 0 and missing == 0 and len(smtp.per_message_id) == len(sent)
    print(
        f"  [{'ok' if passed else 'FAIL'}] SMTP server: {sum(smtp.per_message_id.values())} emails arrived "
        f"({len(smtp.per_message_id)} distinct Message-IDs) for {len(sent)} sent rows; {twice} arrived twice, "
        f"{missing} sent rows not arrived exactly once"
    )
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", default="2m", help="locust run time, e.g. 60s, 2m (default 2m)")
    parser.add_argument("--port", type=int, default=8157)
    parser.add_argument("--reviewers", type=int, default=50)
    parser.add_argument("--api-clients", type=int, default=5)
    parser.add_argument("--spawn-rate", type=int, default=10)
    parser.add_argument("--server-workers", type=int, default=3, help="worker processes per gunicorn (8 threads each)")
    parser.add_argument("--web-processes", type=int, default=1, help="gunicorn masters, behind a round-robin proxy")
    parser.add_argument("--worker-processes", type=int, default=1, help="separate `manage.py qcluster` processes")
    parser.add_argument("--broker", choices=["orm", "redis"], default="orm", help="redis: a private redis-server")
    parser.add_argument("--smtp", action="store_true", help="deliver to a real SMTP server that counts arrivals")
    parser.add_argument(
        "--queue-page-every", type=int, default=0, help="reviewers reopen the full queue page every N decisions"
    )
    args = parser.parse_args()
    seconds = _seconds(args.duration)
    database_url = os.environ.get("LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/outreach_load")
    if not database_url.startswith("postgres"):
        raise SystemExit("the load test needs PostgreSQL (LOAD_DATABASE_URL)")
    env = _environment(database_url)
    work = Path(tempfile.mkdtemp(prefix="outreach-load-"))
    decisions_log = work / "decisions.log"
    decisions_log.touch()

    redis = smtp = None
    if args.broker == "redis":
        sys.path.insert(0, str(ROOT))
        from tests.redis_server import RedisServer

        redis = RedisServer().start()
        env.update(Q_BROKER="redis", REDIS_URL=redis.url)
    if args.smtp:
        smtp = SmtpCounter()
        env.update(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(smtp.port),
            EMAIL_USE_TLS="0",
            EMAIL_USE_SSL="0",
            ALLOW_PRIVATE_NETWORK_DESTINATIONS="1",
        )
    print(f"Preparing {database_url.rsplit('/', 1)[-1]} ...", flush=True)
    _recreate_database(database_url)
    _manage(env, "migrate", "--noinput")
    _manage(env, "collectstatic", "--noinput")
    _django(env)
    # A reviewer decides about one draft every ~2.5 s; seed more than they can finish.
    drafts_each = max(20, seconds // 2 + 20)
    t0 = time.monotonic()
    load_env = seed(reviewers=args.reviewers, drafts_each=drafts_each, api_clients=args.api_clients)
    print(
        f"Seeded {args.reviewers} reviewers x {drafts_each} ready drafts in {time.monotonic() - t0:.1f} s", flush=True
    )

    host = f"http://127.0.0.1:{args.port}"
    procs: list[subprocess.Popen] = []

    def start(cmd: list[str], log_name: str) -> None:
        log = (work / log_name).open("w")
        procs.append(
            subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        )

    def stop_all() -> None:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    ok = False
    try:
        web_ports = [args.port] if args.web_processes == 1 else [args.port + 1 + n for n in range(args.web_processes)]
        for n, web_port in enumerate(web_ports):
            start(
                [str(BIN / "gunicorn"), "outreach.wsgi:application", "--bind", f"127.0.0.1:{web_port}",
                 "--workers", str(args.server_workers), "--threads", "8", "--worker-class", "gthread",
                 "--access-logfile", "-", "--timeout", "60",
                 # Longer than a reviewer's pause, as behind a proxy: a 2 s keep-alive races the
                 # client's next POST on a connection the server is closing (status 0, not an app error).
                 "--keep-alive", "75"],
                f"server-{n}.log",
            )  # fmt: skip
        for n in range(args.worker_processes):
            start([PYTHON, "manage.py", "qcluster"], f"worker-{n}.log")
        for web_port in web_ports:
            _wait_for(f"http://127.0.0.1:{web_port}/healthz")
        if len(web_ports) > 1:
            RoundRobinProxy(args.port, web_ports)  # its thread serves until this process exits
        _wait_for(f"{host}/login/")
        print(f"{len(web_ports)} web and {args.worker_processes} worker processes up ({args.broker} broker"
              f"{', real SMTP' if smtp else ''}) behind {host}; locust: {args.reviewers} reviewers + "
              f"{args.api_clients} API clients for {args.duration}", flush=True)  # fmt: skip
        started = time.monotonic()
        subprocess.run(
            [str(BIN / "locust"), "-f", str(Path(__file__).with_name("locustfile.py")), "--headless",
             "-u", str(args.reviewers + args.api_clients), "-r", str(args.spawn_rate), "-t", args.duration,
             "--host", host, "--csv", str(work / "stats"), "--only-summary", "--stop-timeout", "60"],
            cwd=ROOT,
            env={
                **env,
                **load_env,
                "LOAD_DECISIONS_LOG": str(decisions_log),
                "LOAD_REVIEWER_USERS": str(args.reviewers),
                "LOAD_QUEUE_EVERY": str(args.queue_page_every),
                "LOAD_API_USERS": str(args.api_clients),
            },
            check=False,
            timeout=seconds + 120,
        )  # fmt: skip
        run_seconds = time.monotonic() - started
        still_due = drain()
        print(f"Worker drained ({still_due} messages still due)", flush=True)
        ok = check(decisions_log=decisions_log, stats_csv=work / "stats_stats.csv", started=started,
                   run_seconds=run_seconds, reviewers=args.reviewers) and still_due == 0  # fmt: skip
        if smtp is not None:
            ok = check_smtp(smtp) and ok
    finally:
        stop_all()
        if smtp is not None:
            smtp.stop()
        if redis is not None:
            redis.close()
        print(f"\nLogs: {work}")
    print("\nRESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
