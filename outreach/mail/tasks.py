"""django-q2 entry points for mail (sending, engagement, replies): thin, take ids, call services,
safe to run twice. Their schedules are listed in `outreach/schedules.py`."""

from __future__ import annotations

from .services import domains, engagement, mailbox_sync, replies, sending


def outbound_message_send(message_id: int) -> str:
    message = sending.outbound_message_send(message_id=message_id)
    return message.state if message is not None else "not claimed"


def outbound_message_recover() -> dict[str, int]:
    return sending.outbound_message_recover()


def outbound_message_sweep() -> int:
    return sending.outbound_message_sweep()


def engagement_event_process(event_id: int) -> None:
    engagement.engagement_event_process(event_id=event_id)


def engagement_sweep() -> int:
    """Periodic: re-enqueue engagement events whose processing task was lost."""
    return engagement.engagement_sweep()


def replies_poll() -> str:
    fetched, recorded = replies.replies_poll()
    return f"{fetched} unseen, {recorded} replies recorded"


def sending_domains_check() -> dict:
    """Daily: SPF, DMARC and DKIM of every domain we send from."""
    return domains.sending_domains_check_all()


def mailboxes_sync_due() -> str:
    """Periodic: read every connected mailbox that is due (MAILBOX_SYNC_INTERVAL_SECONDS), spread
    over the workers in batches."""
    handed, results = mailbox_sync.mailboxes_sync_due_spread()
    changed = sum(1 for r in results if r.changed)
    return f"{len(results)} mailboxes synced here ({changed} with new mail), {handed} batches handed to the workers"


def mailboxes_sync(mailbox_ids: list[int]) -> str:
    """One batch of due mailboxes handed out by mailboxes_sync_due."""
    results = mailbox_sync.mailboxes_sync(mailbox_ids=mailbox_ids)
    changed = sum(1 for r in results if r.changed)
    return f"{len(results)} mailboxes synced, {changed} with new mail"
