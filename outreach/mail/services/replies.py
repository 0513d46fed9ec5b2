"""Replies from an IMAP mailbox, for SMTP setups without an inbound webhook.

Thin transport: unseen messages are fetched, handed to `tracking.reply_receive` (parsing,
matching and quote-stripping live there and are tested without a server), then marked seen.
`manage.py poll_replies` runs it once; with IMAP_HOST set the worker runs it every few minutes.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import imaplib

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from outreach.mail.services import engagement as tracking


def imap_connect() -> imaplib.IMAP4:
    if not settings.IMAP_HOST:
        raise ImproperlyConfigured("Set IMAP_HOST (and IMAP_USER, IMAP_PASSWORD) to poll a mailbox for replies.")
    cls = imaplib.IMAP4_SSL if settings.IMAP_SSL else imaplib.IMAP4
    client = cls(settings.IMAP_HOST, settings.IMAP_PORT, timeout=30)
    client.login(settings.IMAP_USER, settings.IMAP_PASSWORD)
    return client


def poll_mailbox(client: imaplib.IMAP4, *, folder: str, limit: int = 200) -> tuple[int, int]:
    """(fetched, recorded) for the unseen messages in one folder; each is marked seen after it
    has been handled, so a crash re-reads it next time (deduplicated by its Message-ID)."""
    status, _ = client.select(folder)
    if status != "OK":
        raise ImproperlyConfigured(f"IMAP folder {folder!r} cannot be selected")
    status, data = client.uid("SEARCH", "UNSEEN")
    uids = data[0].split()[:limit] if status == "OK" and data and data[0] else []
    recorded = 0
    for uid in uids:
        status, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
        raw = next((part[1] for part in parts or [] if isinstance(part, tuple)), None)
        if status != "OK" or raw is None:
            continue
        message = email.message_from_bytes(raw, policy=email.policy.default)
        if tracking.reply_receive(message=message, provider="imap", process_now=True) is not None:
            recorded += 1
        client.uid("STORE", uid, "+FLAGS", "(\\Seen)")
    return len(uids), recorded


def replies_poll(*, limit: int = 200) -> tuple[int, int]:
    """(fetched, recorded) for one pass over the configured folder."""
    client = imap_connect()
    try:
        return poll_mailbox(client, folder=settings.IMAP_FOLDER, limit=limit)
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.logout()
