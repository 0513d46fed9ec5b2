"""IMAP IDLE against the real Dovecot: one kept-open connection per connected mailbox; a reply
appended to the mailbox exits the enrollment within seconds, read by the same incremental pass as
the schedule's; IDLE is issued again before the renewal time; a dropped connection is logged in
again with growing waits; a refused login takes the ordinary re-authorization path; the
`idle_mailboxes` command stops cleanly on SIGTERM.

The watcher runs in threads (or a subprocess) with their own database connections, so these tests
commit (transactional_db)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest

from campaigns import services as campaign_services
from campaigns.models import Enrollment
from outreach.mail.models import EngagementEvent, MailboxConnection
from outreach.mail.services import mailbox_idle
from outreach.mail.services.mailbox_idle import IdleSupervisor, MailboxIdler, backoff_seconds
from outreach.mail.services.mailboxes import mailbox_disconnect
from outreach.mail.services.sending import outbound_message_send
from review.models import Draft
from tests.campaigns.conftest import approve as approve_campaign_draft
from tests.campaigns.conftest import make_campaign
from tests.factories import RecipientFactory
from tests.qcluster import BASE_DIR, cluster_base_env, wait_until

from .test_sync import reply_to

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.broker]

# The promise: a reply is read within a few seconds, without waiting for the schedule.
WITHIN_SECONDS = 5


@pytest.fixture
def enrolled(rep, csm, rep_mailbox):
    """An enrollment whose first email went out through the rep's mailbox."""
    campaign = make_campaign(steps=2, delays=(0, 3), created_by=csm)
    enrollment = campaign_services.enrollment_create(campaign=campaign, recipient=RecipientFactory(owner=rep))
    campaign_services.enrollment_advance_due()
    message = approve_campaign_draft(Draft.objects.get(enrollment_ref=enrollment.pk), rep)
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    return enrollment, message


@pytest.fixture
def idler(rep_mailbox):
    watcher = MailboxIdler(rep_mailbox.pk)
    yield watcher
    watcher.stop.set()
    watcher.join(10)
    assert not watcher.is_alive()


def exited(enrollment) -> bool:
    enrollment.refresh_from_db()
    return enrollment.state == Enrollment.State.EXITED_REPLY


def test_a_reply_appended_to_the_mailbox_exits_the_enrollment_within_seconds(
    enrolled, idler, dovecot, rep_mailbox, settings
):
    settings.MAILBOX_SYNC_INTERVAL_SECONDS = 3600  # no schedule to help
    enrollment, message = enrolled
    idler.start()
    wait_until(lambda: idler.idles >= 1, timeout=20, what="IDLE issued")
    dovecot.append(rep_mailbox.email_address, reply_to(message))
    appended = time.monotonic()
    wait_until(lambda: exited(enrollment), timeout=20, what="the enrollment exited")
    assert time.monotonic() - appended <= WITHIN_SECONDS
    assert idler.wakeups == 1 and idler.connects == 1  # one kept-open connection, woken once
    assert EngagementEvent.objects.filter(kind="replied").count() == 1
    rep_mailbox.refresh_from_db()
    assert rep_mailbox.messages_matched == 1 and rep_mailbox.sync_lease_until is None


def test_what_arrived_while_nobody_watched_is_read_when_watching_starts(enrolled, idler, dovecot, rep_mailbox):
    enrollment, message = enrolled
    dovecot.append(rep_mailbox.email_address, reply_to(message))
    idler.start()
    # Read by the pass that runs right after logging in, before any IDLE.
    # The pass counts itself after it has committed the exit: wait for both.
    wait_until(lambda: exited(enrollment) and idler.passes >= 1, timeout=30, what="a pass that exited the enrollment")


def test_idle_is_issued_again_before_the_renewal_time_and_still_hears_new_mail(
    enrolled, idler, dovecot, rep_mailbox, settings
):
    settings.MAILBOX_IDLE_RENEW_SECONDS = 1
    enrollment, message = enrolled
    idler.start()
    wait_until(lambda: idler.idles >= 3, timeout=20, what="IDLE issued three times")
    assert idler.connects == 1  # renewed on the same connection
    dovecot.append(rep_mailbox.email_address, reply_to(message))
    wait_until(lambda: exited(enrollment), timeout=WITHIN_SECONDS + 5, what="the enrollment exited")


def test_a_dropped_connection_is_opened_again_and_nothing_is_missed(enrolled, idler, dovecot, rep_mailbox):
    enrollment, message = enrolled
    idler.start()
    wait_until(lambda: idler.idles >= 1, timeout=20, what="IDLE issued")
    # The server drops the session (as a restart or a network cut does).
    subprocess.run(["doveadm", "-c", str(dovecot.conf), "kick", rep_mailbox.email_address], check=True)
    dovecot.append(rep_mailbox.email_address, reply_to(message))
    wait_until(lambda: exited(enrollment), timeout=20, what="the enrollment exited")
    assert idler.connects == 2


def test_reconnecting_waits_longer_after_each_failure(idler, dovecot, rep_mailbox, settings):
    settings.MAILBOX_IDLE_BACKOFF_MAX_SECONDS = 60
    assert [backoff_seconds(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    idler.start()
    wait_until(lambda: idler.idles >= 1, timeout=20, what="IDLE issued")
    # The server goes away: the session is dropped and nothing listens any more. (Stopping
    # Dovecot alone leaves logged-in sessions running, so the session is kicked first.)
    subprocess.run(["doveadm", "-c", str(dovecot.conf), "kick", rep_mailbox.email_address], check=True)
    dovecot.stop()
    time.sleep(4.5)
    # Dropped at 0 s; tries at ~1 s and ~3 s, the next not before ~7 s: not a tight loop.
    assert 2 <= idler.connects <= 4, idler.connects
    assert idler.is_alive()


def test_a_refused_login_takes_the_reauthorization_path_and_ends_the_watch(rep_mailbox, dovecot, idler):
    dovecot.add_user(rep_mailbox.email_address, "changed-at-the-provider")
    idler.start()
    idler.join(20)
    assert idler.ended == "login refused"
    rep_mailbox.refresh_from_db()
    assert rep_mailbox.state == MailboxConnection.State.NEEDS_REAUTH


def test_the_supervisor_watches_connected_mailboxes_and_lets_go_of_a_disconnected_one(rep, rep_mailbox):
    supervisor = IdleSupervisor()
    try:
        supervisor.rescan()
        assert list(supervisor.idlers) == [rep_mailbox.pk]
        watcher = supervisor.idlers[rep_mailbox.pk]
        wait_until(lambda: watcher.idles >= 1, timeout=20, what="IDLE issued")
        mailbox_disconnect(mailbox=rep_mailbox, user=rep)
        supervisor.rescan()
        watcher.join(10)
        assert not watcher.is_alive()
        supervisor.rescan()
        assert supervisor.idlers == {}
        assert mailbox_idle.idle_mailbox_ids() == []
    finally:
        supervisor.stop.set()
        supervisor.shutdown()


def test_the_command_reads_a_reply_at_once_and_stops_cleanly_on_sigterm(enrolled, dovecot, rep_mailbox):
    enrollment, message = enrolled
    process = subprocess.Popen(
        [sys.executable, "manage.py", "idle_mailboxes"],
        cwd=BASE_DIR,
        env=cluster_base_env(workers=1),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        wait_until(lambda: any("watching with IDLE" in line for line in lines), timeout=60, what="IDLE")
        dovecot.append(rep_mailbox.email_address, reply_to(message))
        wait_until(lambda: exited(enrollment), timeout=20, what="the enrollment exited")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        reader.join(5)
        assert "idle_mailboxes: stopped" in "".join(lines), "".join(lines)[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
