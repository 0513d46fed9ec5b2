"""Automatic brakes: a sender, or every sender on a sending domain, stops sending when recent sends
bounce or draw spam complaints too often, until a person looks and resumes.

The rates are rolling, over the last sends of that sender (or domain) since it was last resumed:
hard bounces over the last `BRAKE_BOUNCE_WINDOW` sends above `BRAKE_BOUNCE_PERCENT`, or complaints
over the last `BRAKE_COMPLAINT_WINDOW` above `BRAKE_COMPLAINT_PERCENT` (5 % of 100 and 0.1 % of 1,000
by default, the limits mailbox providers enforce). Fewer than `BRAKE_MIN_SENDS` sends are too few to
judge. Each hard bounce or complaint that is processed checks its sender and domain
(`brakes_check`, from `engagement_event_process`).

A pause holds the queued emails (code `sender_paused`) and the claim holds any that arrive later;
resuming releases them into the queue. Pause and resume are sent as the `sending_paused` and
`sending_resumed` signals on commit (integrations records them as emitted events).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from outreach.core.errors import ApplicationError
from outreach.mail.models import EngagementEvent, OutboundMessage, SendingPause
from outreach.mail.signals import sending_paused, sending_resumed
from outreach.people.roles import is_csm_or_admin

from .sending import messages_from_domain, outbound_messages_hold, outbound_messages_release, sender_domain

logger = logging.getLogger(__name__)

Scope = SendingPause.Scope
Cause = SendingPause.Cause
Kind = EngagementEvent.Kind

_KIND_OF_CAUSE: dict[str, str] = {Cause.BOUNCES: Kind.BOUNCED, Cause.COMPLAINTS: Kind.COMPLAINED}


@dataclass(frozen=True)
class BrakeReading:
    """One rolling rate of one sender or domain, and whether it crossed its limit."""

    scope: str
    target: str
    cause: str
    events: int
    sends: int
    window: int
    threshold: float  # 0..1

    @property
    def rate(self) -> float:
        return self.events / self.sends if self.sends else 0.0

    @property
    def percent(self) -> float:
        return round(self.rate * 100, 2)

    @property
    def threshold_percent(self) -> float:
        return round(self.threshold * 100, 3)

    @property
    def crossed(self) -> bool:
        return self.sends >= settings.BRAKE_MIN_SENDS and self.rate > self.threshold

    def describe(self) -> str:
        what = "hard bounces" if self.cause == Cause.BOUNCES else "spam complaints"
        return (
            f"{self.events} {what} in the last {self.sends} sends ({self.percent:g} %), above the "
            f"{self.threshold * 100:g} % limit over {self.window} sends"
        )


def _limits() -> dict[str, tuple[int, float]]:
    return {
        Cause.BOUNCES: (settings.BRAKE_BOUNCE_WINDOW, settings.BRAKE_BOUNCE_PERCENT / 100),
        Cause.COMPLAINTS: (settings.BRAKE_COMPLAINT_WINDOW, settings.BRAKE_COMPLAINT_PERCENT / 100),
    }


def brake_limits_text() -> str:
    """The limits in words, for the pages."""
    return (
        f"more than {settings.BRAKE_BOUNCE_PERCENT:g} % hard bounces over the last {settings.BRAKE_BOUNCE_WINDOW} sends, "
        f"or more than {settings.BRAKE_COMPLAINT_PERCENT:g} % spam complaints over the last "
        f"{settings.BRAKE_COMPLAINT_WINDOW} sends, once there are at least {settings.BRAKE_MIN_SENDS} sends"
    )


def _scope_filter(scope: str, target) -> tuple[Q, Q]:
    """(which messages, which pauses) a sender id or a domain names."""
    if scope == Scope.SENDER:
        return Q(sender_id=target), Q(scope=Scope.SENDER, sender_id=target)
    return messages_from_domain(target), Q(scope=Scope.DOMAIN, domain=target)


def brake_readings(*, scope: str, target) -> list[BrakeReading]:
    """The bounce and complaint rates of a sender (target: user id) or a domain, over its last sends
    since it was last resumed. Two queries per rate, one for the last resume."""
    messages_q, pauses_q = _scope_filter(scope, target)
    since = SendingPause.objects.filter(pauses_q).aggregate(last=Max("resumed_at"))["last"]
    sent = OutboundMessage.objects.filter(messages_q, state=OutboundMessage.State.SENT)
    if since is not None:
        sent = sent.filter(sent_at__gt=since)
    readings = []
    for cause, (window, threshold) in _limits().items():
        ids = list(sent.order_by("-sent_at", "-pk").values_list("pk", flat=True)[:window])
        events = (
            EngagementEvent.objects.filter(message_id__in=ids, kind=_KIND_OF_CAUSE[cause])
            .values("message_id")
            .distinct()
            .count()
            if ids
            else 0
        )
        readings.append(
            BrakeReading(
                scope=scope,
                target=str(target),
                cause=cause,
                events=events,
                sends=len(ids),
                window=window,
                threshold=threshold,
            )
        )
    return readings


def _held_messages(pause: SendingPause):
    messages_q, _ = _scope_filter(pause.scope, pause.sender_id if pause.scope == Scope.SENDER else pause.domain)
    return OutboundMessage.objects.filter(messages_q)


def _pause(*, scope: str, target, reading: BrakeReading, sender_label: str) -> SendingPause | None:
    who = f"{sender_label}'s sending" if scope == Scope.SENDER else f"Sending from {target}"
    reason = f"{who} is paused: {reading.describe()}. A CSM or an admin resumes it after looking."
    pause = SendingPause(
        scope=scope,
        sender_id=target if scope == Scope.SENDER else None,
        domain=target if scope == Scope.DOMAIN else "",
        cause=reading.cause,
        events=reading.events,
        sends=reading.sends,
        threshold=reading.threshold,
        reason=reason,
    )
    try:
        with transaction.atomic():
            pause.save()
    except IntegrityError:
        return None  # another worker paused it a moment ago
    held = outbound_messages_hold(
        messages=_held_messages(pause), code=OutboundMessage.Code.SENDER_PAUSED, reason=reason
    )
    logger.warning("brakes: %s (%s queued emails held)", reason, held)
    transaction.on_commit(lambda: sending_paused.send(sender=SendingPause, pause=pause, held=held))
    return pause


@transaction.atomic
def brakes_check(*, message: OutboundMessage) -> list[SendingPause]:
    """After a hard bounce or a complaint on this message: pause its sender and its sending domain
    where a rate crossed its limit and no brake is on yet. Returns the pauses it started."""
    started: list[SendingPause] = []
    domain = sender_domain(message.from_email)
    scopes: list[tuple[str, object]] = [(Scope.SENDER, message.sender_id)]
    if domain:
        scopes.append((Scope.DOMAIN, domain))
    for scope, target in scopes:
        _, pauses_q = _scope_filter(scope, target)
        if SendingPause.objects.filter(pauses_q, resumed_at__isnull=True).exists():
            continue
        crossed = next((r for r in brake_readings(scope=scope, target=target) if r.crossed), None)
        if crossed is None:
            continue
        pause = _pause(scope=scope, target=target, reading=crossed, sender_label=str(message.sender))
        if pause is not None:
            started.append(pause)
    return started


@transaction.atomic
def sending_resume(*, pause: SendingPause, user, note: str = "") -> SendingPause:
    """A CSM or an admin looked and lets sending go on: the held emails go back in the queue (those
    still held by another brake are held again when claimed). Rates start afresh from here."""
    if not is_csm_or_admin(user):
        raise ApplicationError("Only a CSM or an admin can resume sending.")
    note = note.strip()
    if not note:
        raise ApplicationError("Say what you looked at before resuming (for example: list cleaned).")
    locked = SendingPause.objects.select_for_update().get(pk=pause.pk)
    if locked.resumed_at is not None:
        raise ApplicationError("This pause was already resumed.")
    locked.resumed_at = timezone.now()
    locked.resumed_by = user
    locked.resume_note = note[:2000]
    locked.save(update_fields=["resumed_at", "resumed_by", "resume_note"])
    released = outbound_messages_release(
        messages=_held_messages(locked),
        code=OutboundMessage.Code.SENDER_PAUSED,
        actor=user,
        note=f"sending resumed by {user}: {locked.resume_note}",
    )
    logger.info("brakes: %s resumed by %s (%s held emails released)", locked.target, user, released)
    transaction.on_commit(lambda: sending_resumed.send(sender=SendingPause, pause=locked, released=released))
    return locked
