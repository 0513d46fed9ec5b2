"""The Replies page's actions: mark a reply handled, snooze it until a time, open it again, and
confirm a "please remove me" reply's suppression in one click. Each records who and when.

Who may act is who may see the reply (`selectors.replies_visible_to`): the views look the reply up
through it before calling these.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.utils import timezone

from outreach.core.errors import ApplicationError
from outreach.mail.models import EngagementEvent
from outreach.suppression.models import Suppression
from outreach.suppression.services import suppression_add

SNOOZE_HOUR = time(9, 0)
MAX_SNOOZE = timedelta(days=366)


def _locked(event: EngagementEvent) -> EngagementEvent:
    # Lock the row: two people may act on the same reply at once.
    return EngagementEvent.objects.select_for_update().get(pk=event.pk)


@transaction.atomic
def reply_mark_handled(*, event: EngagementEvent, user) -> EngagementEvent:
    """Handled: off the open list, with who and when. Marking it again changes nothing."""
    locked = _locked(event)
    if locked.handled_at is None:
        locked.handled_at, locked.handled_by = timezone.now(), user
        locked.save(update_fields=["handled_at", "handled_by"])
    return locked


@transaction.atomic
def reply_snooze(*, event: EngagementEvent, user, until: datetime, now: datetime | None = None) -> EngagementEvent:
    """Out of the open list until `until`, when it comes back by itself. Snoozing a handled reply
    opens it again for then."""
    now = now or timezone.now()
    if until <= now:
        raise ApplicationError("Choose a time in the future to snooze until.")
    if until > now + MAX_SNOOZE:
        raise ApplicationError("Snooze for at most a year.")
    locked = _locked(event)
    locked.snoozed_until, locked.snoozed_at, locked.snoozed_by = until, now, user
    locked.handled_at, locked.handled_by = None, None
    locked.save(update_fields=["snoozed_until", "snoozed_at", "snoozed_by", "handled_at", "handled_by"])
    return locked


@transaction.atomic
def reply_reopen(*, event: EngagementEvent, user) -> EngagementEvent:
    """Back on the open list now (undoes handled and snoozed; a confirmed removal stays)."""
    locked = _locked(event)
    locked.handled_at, locked.handled_by, locked.snoozed_until = None, None, None
    locked.save(update_fields=["handled_at", "handled_by", "snoozed_until"])
    return locked


@transaction.atomic
def reply_removal_confirm(*, event: EngagementEvent, user) -> EngagementEvent:
    """A reply classed as an unsubscribe request, confirmed by a person: the address is suppressed
    (reason "unsubscribed", through the suppression service, so its event is emitted and live
    sequences end), the confirmation recorded on the reply, and the reply marked handled."""
    locked = _locked(event)
    if locked.reply_class != EngagementEvent.ReplyClass.UNSUBSCRIBE_REQUEST:
        raise ApplicationError("Only a reply classed as an unsubscribe request can be confirmed as one.")
    if locked.removal_confirmed_at is not None:
        return locked
    address = locked.email or (locked.recipient.email if locked.recipient_id and locked.recipient else "")
    if not address:
        raise ApplicationError("This reply has no address to suppress.")
    who = user.get_full_name() or user.get_username()
    entry = suppression_add(
        kind=Suppression.Kind.ADDRESS,
        value=address,
        reason=Suppression.Reason.UNSUBSCRIBED,
        source=f"reply asking to be removed (engagement #{locked.pk}), confirmed by {who}",
        note=" ".join(locked.reply_text.split())[:300],
        added_by=user,
    )
    now = timezone.now()
    locked.removal_confirmed_at, locked.removal_confirmed_by, locked.removal_suppression = now, user, entry
    update = ["removal_confirmed_at", "removal_confirmed_by", "removal_suppression"]
    if locked.handled_at is None:
        locked.handled_at, locked.handled_by = now, user
        update += ["handled_at", "handled_by"]
    locked.save(update_fields=update)
    return locked


def _zone(user) -> ZoneInfo:
    """The person's time zone: their sender profile's, UTC without one (or with a bad name)."""
    try:
        return ZoneInfo(getattr(getattr(user, "sender", None), "time_zone", "") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def snooze_choices(*, user, now: datetime | None = None) -> list[tuple[str, str, datetime]]:
    """(key, words, time) for the snooze menu, at 09:00 in the person's time zone (their sender
    profile's; UTC without one): tomorrow, and next Monday."""
    now = now or timezone.now()
    zone = _zone(user)
    today = now.astimezone(zone).date()
    tomorrow = datetime.combine(today + timedelta(days=1), SNOOZE_HOUR, tzinfo=zone)
    monday = today + timedelta(days=7 - today.weekday())
    next_week = datetime.combine(monday, SNOOZE_HOUR, tzinfo=zone)
    return [
        ("tomorrow", f"Tomorrow, {tomorrow:%a %-d %b} 09:00", tomorrow),
        ("next_week", f"Next week, {next_week:%a %-d %b} 09:00", next_week),
    ]


def snooze_until_parse(*, user, choice: str, at: str = "", now: datetime | None = None) -> datetime:
    """The time a snooze form asks for: a menu choice, or `at` (an HTML datetime-local value, read
    in the person's time zone)."""
    for key, _words, when in snooze_choices(user=user, now=now):
        if choice == key:
            return when
    if choice == "at" or (at and not choice):
        try:
            naive = datetime.fromisoformat(at.strip())
        except ValueError:
            raise ApplicationError("Enter the date and time to snooze until.") from None
        return naive if naive.tzinfo is not None else naive.replace(tzinfo=_zone(user))
    raise ApplicationError("Choose when to snooze until.")
