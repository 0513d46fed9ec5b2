"""The first sync of a big mailbox, against a real Dovecot: 10,000 emails written straight into the
user's Maildir (as a delivery leaves them, before Dovecot ever indexed them), of which 9,800 were
there before the mailbox was connected and 200 arrived since; 40 of those 200 answer emails the
owner sent, the rest are other mail.

What the first sync must read is what arrived since the connection: the 9,800 older emails are
never fetched, and of the 200 only the headers unless they match one of ours. Then the same
mailbox after a restore (a new UIDVALIDITY, connected a month ago): what arrived in the last 14
days (MAILBOX_RESYNC_DAYS) is read again, nothing counted twice.

The same set-up is built twice, in two mailboxes: one timed, one read under tracemalloc (which
slows Python several times) for the peak of memory. BENCH_MAILBOX_MESSAGES (10,000) and
BENCH_MAILBOX_NEW (200) change the sizes.
"""

from __future__ import annotations

import os
import pwd
import random
import time
import tracemalloc
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
from django.utils import timezone

from outreach.mail.imap import PinnedIMAPClient
from outreach.mail.models import EngagementEvent, MailboxConnection
from outreach.mail.services.mailbox_sync import mailbox_sync
from outreach.mail.services.mailboxes import mailbox_connect_imap
from tests.factories import OutboundMessageFactory
from tests.mail_servers import SmtpSubmission
from tests.mailboxes.conftest import dovecot  # noqa: F401 - fixture

pytestmark = [pytest.mark.benchmark, pytest.mark.django_db]

TOTAL = int(os.environ.get("BENCH_MAILBOX_MESSAGES", "10000"))
NEW = int(os.environ.get("BENCH_MAILBOX_NEW", "200"))
REPLIES = NEW // 5
PARAGRAPH = (
    "Thanks for the update on the quarterly numbers. I had a look at the attached figures and "
    "have a few questions about the renewal timeline and the onboarding plan for the new team. "
) * 12


def _filler(n: int, when) -> bytes:
    message = EmailMessage()
    message["From"] = f"colleague{n % 300}@elsewhere.example"
    message["To"] = "rep@team.example"
    message["Subject"] = f"Weekly notes {n}"
    message["Date"] = format_datetime(when)
    message["Message-ID"] = f"<filler{n}.{random.random()}@elsewhere.example>"
    message.set_content(PARAGRAPH)
    return message.as_bytes()


def _reply(outbound, n: int, mailbox_tag: str, when) -> bytes:
    message = EmailMessage()
    message["From"] = outbound.to_email
    message["To"] = outbound.from_email
    message["Subject"] = f"Re: {outbound.subject}"
    message["Date"] = format_datetime(when)
    message["Message-ID"] = f"<reply{n}.{mailbox_tag}@customer.example>"
    message["In-Reply-To"] = outbound.message_id
    message["References"] = outbound.message_id
    message.set_content(f"Thursday works for me.\n\nOn Monday you wrote:\n> {PARAGRAPH[:200]}\n")
    return message.as_bytes()


class Maildir:
    """The user's Maildir under Dovecot's mail location, written as a delivery agent writes it."""

    def __init__(self, dovecot_dir: Path, user: str) -> None:
        self.root = dovecot_dir / "mail" / user / "Maildir"
        self.owner = pwd.getpwnam("dovecot")
        self.count = 0
        for sub in ("cur", "new", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for path in (self.root.parent, self.root, *(self.root / s for s in ("cur", "new", "tmp"))):
            os.chown(path, self.owner.pw_uid, self.owner.pw_gid)

    def deliver(self, raw: bytes, received: float, *, seen: bool) -> None:
        self.count += 1
        name = f"{int(received)}.M{self.count}P1.bench"
        path = self.root / ("cur" if seen else "new") / (f"{name}:2,S" if seen else name)
        path.write_bytes(raw)
        os.chown(path, self.owner.pw_uid, self.owner.pw_gid)
        os.utime(path, (received, received))  # Dovecot's received (internal) date


def _fill(maildir: Maildir, *, count: int, days: tuple[int, int], now: float, start: int = 0) -> None:
    for n in range(start, start + count):
        received = now - random.uniform(*days) * 86400
        maildir.deliver(_filler(n, timezone.now() - timedelta(seconds=now - received)), received, seen=True)


def test_first_sync_of_a_10000_email_mailbox(bench_report, rep, dovecot):  # noqa: F811
    random.seed(13)
    addresses = {f"big{k}@team.example": f"pw-big-{k}" for k in ("timed", "traced")}
    for address, password in addresses.items():
        dovecot.add_user(address, password)
    submission = SmtpSubmission(addresses)
    submission.start()
    ours = [OutboundMessageFactory(draft__sender=rep) for _ in range(REPLIES)]
    now = time.time()
    runs: dict[str, dict] = {}
    try:
        for tag, (address, password) in zip(("timed", "traced"), addresses.items(), strict=True):
            maildir = Maildir(dovecot.dir, address)
            written = time.perf_counter()
            # Before the connection: a year and more of mail, none of it in the last 20 days.
            _fill(maildir, count=TOTAL - NEW, days=(20, 400), now=now)
            mailbox = mailbox_connect_imap(
                user=rep,
                email_address=address,
                imap_host="127.0.0.1",
                imap_port=dovecot.port,
                imap_security="none",
                smtp_host="127.0.0.1",
                smtp_port=submission.port,
                smtp_security="none",
                username=address,
                password=password,
            )
            # Since the connection: NEW emails, REPLIES of them answers to ours, in random order.
            arrivals = [("reply", i) for i in range(REPLIES)] + [("other", i) for i in range(NEW - REPLIES)]
            random.shuffle(arrivals)
            for kind, i in arrivals:
                received = now - random.uniform(0, 7) * 86400
                when = timezone.now() - timedelta(seconds=now - received)
                raw = _reply(ours[i], i, tag, when) if kind == "reply" else _filler(TOTAL + i, when)
                maildir.deliver(raw, received, seen=False)
            setup = time.perf_counter() - written
            runs[tag] = {"mailbox": mailbox, "setup": setup}
            assert mailbox.sync_uidnext == TOTAL - NEW + 1

        fetched: list[tuple[int, str]] = []
        real_fetch = PinnedIMAPClient.fetch

        def counting(self, messages, data, *args, **kwargs):
            fetched.append((len(messages), " ".join(data)))
            return real_fetch(self, messages, data, *args, **kwargs)

        PinnedIMAPClient.fetch = counting  # type: ignore[method-assign]
        try:
            for tag, run in runs.items():
                fetched.clear()
                if tag == "traced":
                    tracemalloc.start()
                started = time.perf_counter()
                result = mailbox_sync(mailbox_id=run["mailbox"].pk)
                run["seconds"] = time.perf_counter() - started
                if tag == "traced":
                    run["peak"] = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
                run["result"] = result
                run["headers"] = sum(n for n, what in fetched if "HEADER" in what)
                run["bodies"] = sum(n for n, what in fetched if what == "BODY.PEEK[]")
                assert result.error == "" and result.read == NEW
                assert result.outcomes == {"replied": REPLIES, "ignored": NEW - REPLIES}

            # A restore gives the folder a new UIDVALIDITY; the mailbox was connected a month ago.
            timed = runs["timed"]["mailbox"]
            MailboxConnection.objects.filter(pk=timed.pk).update(connected_at=timezone.now() - timedelta(days=30))
            dovecot.recreate_folder(timed.email_address)
            fetched.clear()
            started = time.perf_counter()
            resync = mailbox_sync(mailbox_id=timed.pk)
            resync_seconds = time.perf_counter() - started
            resync_headers = sum(n for n, what in fetched if "HEADER" in what)
            resync_bodies = sum(n for n, what in fetched if what == "BODY.PEEK[]")
        finally:
            PinnedIMAPClient.fetch = real_fetch  # type: ignore[method-assign]
    finally:
        submission.stop()

    assert resync.error == "" and resync.read == NEW
    assert resync.outcomes == {"duplicate": REPLIES, "ignored": NEW - REPLIES}
    assert EngagementEvent.objects.count() == 2 * REPLIES

    load = os.getloadavg()[0]
    timed_run, traced_run = runs["timed"], runs["traced"]
    bench_report.add(
        f"mailbox first sync, {TOTAL:,} emails, {NEW} since connecting (load {load:.1f})",
        f"{timed_run['seconds']:.2f} s ({traced_run['seconds']:.1f} s under tracemalloc)",
        "<= 60 s",
        timed_run["seconds"] <= 60,
    )
    bench_report.add(
        "  fetched: headers / bodies / never touched",
        f"{timed_run['headers']} / {timed_run['bodies']} / {TOTAL - timed_run['headers']}",
        f"{NEW} / {REPLIES} / {TOTAL - NEW}",
        (timed_run["headers"], timed_run["bodies"]) == (NEW, REPLIES),
    )
    bench_report.add(
        "  replies matched / other emails ignored",
        f"{timed_run['result'].outcomes['replied']} / {timed_run['result'].outcomes['ignored']}",
        f"{REPLIES} / {NEW - REPLIES}",
    )
    bench_report.add(
        "  peak memory of the sync (tracemalloc)",
        f"{traced_run['peak'] / 1e6:.1f} MB",
    )
    bench_report.add(
        f"  after a new UIDVALIDITY: last 14 days of {TOTAL:,} re-read",
        f"{resync_seconds:.2f} s; headers {resync_headers}, bodies {resync_bodies}; "
        f"{resync.outcomes['duplicate']} replies known, none counted twice",
        "<= 60 s",
        resync_seconds <= 60,
    )
    print(f"set-up (writing the Maildir, connecting): {timed_run['setup']:.1f} s per mailbox")
