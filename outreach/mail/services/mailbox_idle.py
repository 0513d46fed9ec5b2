"""IMAP IDLE: replies read within seconds instead of at the next scheduled pass.

`manage.py idle_mailboxes` runs an IdleSupervisor: one thread and one kept-open connection per
connected IMAP mailbox (password or XOAUTH2) whose server offers IDLE, at most
MAILBOX_IDLE_MAX_MAILBOXES. Each thread:

    log in (the mailbox's own login: password or access token) ── refused ──► one ordinary pass,
        │                                                         which marks it "needs
        │                                                         re-authorization" and holds its
        │                                                         sends; the thread ends
        ▼
    catch up: mailbox_sync over this connection (what arrived while nobody watched)
    EXAMINE inbox, IDLE ── "* n EXISTS" ──► DONE, mailbox_sync over this connection, IDLE again
        │ MAILBOX_IDLE_RENEW_SECONDS passed (< 29 min, RFC 2177): DONE, IDLE again
        │ the connection dropped: wait 1, 2, 4… s (at most MAILBOX_IDLE_BACKOFF_MAX_SECONDS),
        │ log in again
        ▼ stop (SIGTERM): DONE, LOGOUT

There is no second way of reading: a wake-up runs the same incremental pass as the schedule
(`mailbox_sync.mailbox_sync`, lease, STATUS, UIDs from the cursor), only over the kept-open
connection. The scheduled passes go on as before: if this process is not running, or a mailbox
is beyond the cap or its server has no IDLE, nothing is missed, only read later.
"""

from __future__ import annotations

import imaplib
import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connection
from imapclient.exceptions import IMAPClientError

from outreach.core.netguard import DestinationRefused
from outreach.mail.imap import LoginError
from outreach.mail.models import MailboxConnection
from outreach.mail.services import mailbox_sync, mailboxes

logger = logging.getLogger(__name__)

IDLE_KINDS = (MailboxConnection.Kind.IMAP_SMTP, MailboxConnection.Kind.IMAP_OAUTH)
# A server without IDLE is asked again after this long (it may have been upgraded).
NO_IDLE_RETRY_SECONDS = 3600
# How often a waiting thread looks at its stop flag (and so how soon SIGTERM is obeyed).
CHECK_SECONDS = 1.0
_CONNECTION_ERRORS = (OSError, imaplib.IMAP4.error, IMAPClientError, DestinationRefused)


class ConnectionDropped(ConnectionError):
    pass


def backoff_seconds(failures: int) -> float:
    """1, 2, 4, 8… seconds after the 1st, 2nd, 3rd… failure in a row, at most the setting."""
    return float(min(settings.MAILBOX_IDLE_BACKOFF_MAX_SECONDS, 2 ** max(0, failures - 1)))


def idle_mailbox_ids() -> list[int]:
    """The mailboxes to watch: connected, read over IMAP, oldest first, at most the cap."""
    return list(
        MailboxConnection.objects.filter(state=MailboxConnection.State.CONNECTED, kind__in=IDLE_KINDS)
        .order_by("pk")
        .values_list("pk", flat=True)[: settings.MAILBOX_IDLE_MAX_MAILBOXES]
    )


class MailboxIdler(threading.Thread):
    """Watches one mailbox with IDLE until `stop` is set, the mailbox is no longer connected, or
    its server turns out to have no IDLE. The counters say what it did (logs and tests read them)."""

    def __init__(self, mailbox_id: int) -> None:
        super().__init__(name=f"idle-mailbox-{mailbox_id}", daemon=True)
        self.mailbox_id = mailbox_id
        self.stop = threading.Event()
        self.connects = 0  # logins attempted
        self.idles = 0  # IDLE commands issued
        self.wakeups = 0  # EXISTS seen
        self.passes = 0  # sync passes run over the kept-open connection
        self.no_idle = False
        self.ended = ""  # why the thread ended on its own

    def run(self) -> None:
        try:
            self._run()
        except Exception:  # never let one mailbox's thread die silently
            logger.exception("mailbox %s: IDLE stopped", self.mailbox_id)
            self.ended = "crashed"
        finally:
            connection.close()  # this thread's database connection

    def _mailbox(self) -> MailboxConnection | None:
        close_old_connections()
        return MailboxConnection.objects.filter(
            pk=self.mailbox_id, state=MailboxConnection.State.CONNECTED, kind__in=IDLE_KINDS
        ).first()

    def _run(self) -> None:
        failures = 0
        while not self.stop.is_set():
            mailbox = self._mailbox()
            if mailbox is None:
                self.ended = "not connected"
                return
            self.connects += 1
            try:
                client = mailboxes.mailbox_imap(mailbox)
            except LoginError:
                # The ordinary pass meets the same refusal and does what it always does: marks the
                # mailbox "needs re-authorization" and holds its sends.
                mailbox_sync.mailbox_sync(mailbox_id=self.mailbox_id)
                self.ended = "login refused"
                return
            except _CONNECTION_ERRORS as exc:
                failures += 1
                wait = backoff_seconds(failures)
                logger.info("mailbox %s: IDLE cannot connect (%s); again in %.0f s", self.mailbox_id, exc, wait)
                self.stop.wait(wait)
                continue
            try:
                if not client.has_capability("IDLE"):
                    logger.info("mailbox %s: the server offers no IDLE; read on the schedule", self.mailbox_id)
                    self.no_idle = True
                    self.ended = "no IDLE"
                    return
                failures = 0
                self._watch(client, mailbox)
            except _CONNECTION_ERRORS as exc:
                failures += 1
                wait = backoff_seconds(failures)
                logger.info("mailbox %s: IDLE connection lost (%s); again in %.0f s", self.mailbox_id, exc, wait)
                self.stop.wait(wait)
            finally:
                mailboxes.imap_close(client)

    def _watch(self, client, mailbox: MailboxConnection) -> None:
        """IDLE on the inbox until stopped; raises a connection error when the connection drops."""
        if not self._sync(client):  # what arrived while nobody was watching
            return
        logger.info("mailbox %s: watching with IDLE", self.mailbox_id)
        while not self.stop.is_set():
            client.select_folder(mailbox.inbox_folder, readonly=True)
            client.idle()
            self.idles += 1
            woke = self._wait_for_exists(client)
            client.idle_done()
            if woke:
                self.wakeups += 1
                # Leave the folder before the pass: STATUS is for mailboxes that are not selected.
                client.close_folder()
                if not self._sync(client):
                    return

    def _wait_for_exists(self, client) -> bool:
        """True when the server announces new mail; False when it is time to renew or to stop."""
        renew_at = time.monotonic() + settings.MAILBOX_IDLE_RENEW_SECONDS
        while not self.stop.is_set():
            left = renew_at - time.monotonic()
            if left <= 0:
                return False
            timeout = min(CHECK_SECONDS, left)
            started = time.monotonic()
            responses = client.idle_check(timeout=timeout)
            if any(r and r[0] == b"BYE" for r in responses):
                raise ConnectionDropped("the server said BYE")
            if not responses and time.monotonic() - started < timeout / 2:
                # Readable but nothing to read: the server closed the connection.
                raise ConnectionDropped("the server closed the connection")
            if any(len(r) > 1 and r[1] == b"EXISTS" for r in responses):
                return True
        return False

    def _sync(self, client) -> bool:
        """One ordinary pass over the kept-open connection. False when the mailbox should no longer
        be watched. Waits while a scheduled pass holds the mailbox's lease, then reads."""
        while not self.stop.is_set():
            close_old_connections()
            result = mailbox_sync.mailbox_sync(mailbox_id=self.mailbox_id, client=client)
            if result.connection_lost:
                raise ConnectionDropped(result.error)
            if not result.skipped:
                self.passes += 1
                return True
            if self._mailbox() is None:
                self.ended = "not connected"
                return False
            # Another worker is reading it: what it reads may stop short of this new email.
            self.stop.wait(0.2)
        return False


class IdleSupervisor:
    """Keeps one MailboxIdler per mailbox to watch, rereading the list every
    MAILBOX_IDLE_RESCAN_SECONDS, until `stop` is set; then stops every thread and waits for them."""

    def __init__(self, stop: threading.Event | None = None) -> None:
        self.stop = stop or threading.Event()
        self.idlers: dict[int, MailboxIdler] = {}
        self._not_before: dict[int, float] = {}  # mailboxes whose server had no IDLE

    def rescan(self) -> None:
        close_old_connections()
        wanted = set(idle_mailbox_ids())
        now = time.monotonic()
        for pk, idler in list(self.idlers.items()):
            if not idler.is_alive():
                del self.idlers[pk]
                if idler.no_idle:
                    self._not_before[pk] = now + NO_IDLE_RETRY_SECONDS
            elif pk not in wanted:
                idler.stop.set()
        for pk in sorted(wanted - set(self.idlers)):
            if self._not_before.get(pk, 0) > now:
                continue
            idler = MailboxIdler(pk)
            self.idlers[pk] = idler
            idler.start()

    def run(self) -> None:
        logger.info("IDLE: watching connected IMAP mailboxes")
        try:
            while not self.stop.is_set():
                self.rescan()
                self.stop.wait(settings.MAILBOX_IDLE_RESCAN_SECONDS)
        finally:
            self.shutdown()

    def shutdown(self, timeout: float = 10.0) -> None:
        for idler in self.idlers.values():
            idler.stop.set()
        deadline = time.monotonic() + timeout
        for idler in self.idlers.values():
            idler.join(max(0.0, deadline - time.monotonic()))
        connection.close()
        logger.info("IDLE: stopped")
