"""Label automations: "when label X is added to a contact, enroll them in sequence S".

An automation hears of label additions through `outreach.people.signals.labels_added` (every way a
label is added — the recipient page, the API, CSV imports, the admin — goes through one labelling
service that records a LabelEvent and sends it). It fires only for additions made after it exists;
the contacts who already carry the label are enrolled only when its creator asks for that, having
seen how many they are (`existing_count` must match). Each enrollment records the automation and the
label event as its source, once per event (occurrence key `label:<event id>`). The campaign's own
trigger is left as it is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, Enrollment, LabelAutomation
from outreach.core.errors import ApplicationError
from outreach.people.models import Label, LabelEvent, Recipient
from outreach.people.services.labels import label_name_clean

log = logging.getLogger(__name__)

# Automations of these campaigns enroll (a paused campaign's enrollments wait for its resumption).
FIRING_STATUSES = (Campaign.Status.ACTIVE, Campaign.Status.PAUSED)


@dataclass
class AutomationCreated:
    automation: LabelAutomation
    existing: int  # contacts who carried the label when it was created
    enrolled_existing: int  # of them, enrolled on request


def label_automation_existing(*, campaign: Campaign, label: Label | None) -> QuerySet[Recipient]:
    """The contacts who already carry the label and are not on their way through the campaign:
    those "also enroll the ones who have it now" would enroll."""
    if label is None:
        return Recipient.objects.none()
    live = Enrollment.objects.filter(campaign=campaign, state__in=Enrollment.LIVE_STATES).values("recipient_id")
    return Recipient.objects.filter(labels=label).exclude(pk__in=live).order_by("pk")


def label_automation_existing_count(*, campaign: Campaign, label_name: str) -> int:
    label = Label.objects.filter(name=label_name_clean(label_name)).first()
    return label_automation_existing(campaign=campaign, label=label).count()


def _why(automation: LabelAutomation, event: LabelEvent | None) -> str:
    name = automation.label.name
    if event is None:
        return f"already carried the label “{name}” when automation #{automation.pk} was created (enrolled on request)"
    by = f" by {event.actor}" if event.actor_id else ""
    return f"label “{name}” added via {event.get_via_display()}{by} (automation #{automation.pk})"


def _source(automation: LabelAutomation, event: LabelEvent | None) -> dict:
    source = {
        **(automation.source or {}),
        "automation_id": automation.pk,
        "automation": "label_added",
        "label": automation.label.name,
        "why": _why(automation, event),
    }
    if event is not None:
        source.update(
            {
                "label_event_id": event.pk,
                "label_added_via": event.via,
                "label_added_at": event.created_at.isoformat(),
            }
        )
    return source


def _occurrence(automation: LabelAutomation, event: LabelEvent | None) -> str:
    # Per label event: an automation (or the API's automation-triggered call) enrolls once for it.
    return f"label:{event.pk}" if event is not None else f"automation:{automation.pk}:existing"


def _enroll(
    *, automation: LabelAutomation, recipient: Recipient, event: LabelEvent | None, user, now: datetime
) -> Enrollment | None:
    """One enrollment (in its own savepoint); None when the contact is already on its way through
    the campaign or was already enrolled for this event."""
    try:
        with transaction.atomic():
            enrollment = services.enrollment_create(
                recipient=recipient,
                campaign=automation.campaign,
                kind=Enrollment.Kind.TRIGGERED,
                sender=automation.sender,
                user=user,
                source=_source(automation, event),
                occurrence_key=_occurrence(automation, event),
                now=now,
            )
            if automation.exit_on_reply is not None and enrollment.exit_on_reply != automation.exit_on_reply:
                enrollment.exit_on_reply = automation.exit_on_reply
                enrollment.save(update_fields=["exit_on_reply", "updated_at"])
    except ApplicationError as exc:
        log.info("automation %s did not enroll recipient %s: %s", automation.pk, recipient.pk, exc.message)
        return None
    return enrollment


def _check_sender(campaign: Campaign, sender) -> None:
    if (
        sender is not None
        and campaign.sender_mode == Campaign.SenderMode.NAMED
        and campaign.named_sender_id
        and campaign.named_sender_id != sender.pk
    ):
        raise ApplicationError(
            "This sequence is always sent from its own sender's inbox; leave the inbox out or give that one.",
            extra={"field": "inbox_id", "status": 422},
        )


@transaction.atomic
def label_automation_create(
    *,
    campaign: Campaign,
    label_name: str,
    user,
    sender=None,
    exit_on_reply: bool | None = None,
    source: dict | None = None,
    enroll_existing: bool = False,
    existing_count: int | None = None,
    now: datetime | None = None,
) -> AutomationCreated:
    """Create the automation. With `enroll_existing`, the contacts who already carry the label are
    enrolled too, but only if `existing_count` is the number the creator was shown (409 otherwise,
    naming the current number): nobody enrolls a crowd they have not counted."""
    now = now or timezone.now()
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status == Campaign.Status.ARCHIVED:
        raise ApplicationError("This campaign is archived.", extra={"field": "sequence_id", "status": 409})
    if not campaign.steps.filter(enrollment__isnull=True).exists():
        raise ApplicationError("Add at least one sequence step first.", extra={"field": "sequence_id", "status": 422})
    name = label_name_clean(label_name)
    if not name:
        raise ApplicationError("Name the label.", extra={"field": "label", "status": 422})
    _check_sender(campaign, sender)
    label, _ = Label.objects.get_or_create(name=name)
    existing = list(label_automation_existing(campaign=campaign, label=label).select_related("owner"))
    if enroll_existing and existing_count != len(existing):
        raise ApplicationError(
            f"{len(existing)} contact{'s' if len(existing) != 1 else ''} already carry the label “{name}”"
            + (f", not {existing_count}" if existing_count is not None else "")
            + f". To enroll them too, confirm that number (existing_count: {len(existing)}).",
            extra={"field": "existing_count", "status": 409, "existing_count": len(existing)},
        )
    automation = LabelAutomation(
        campaign=campaign,
        label=label,
        sender=sender,
        exit_on_reply=exit_on_reply,
        source=dict(source or {}),
        created_by=user if getattr(user, "pk", None) else None,
        created_at=now,
    )
    automation.full_clean()
    automation.save()
    enrolled = 0
    if enroll_existing:
        for recipient in existing:
            if _enroll(automation=automation, recipient=recipient, event=None, user=user, now=now) is not None:
                enrolled += 1
        automation.existing_enrolled = enrolled
        automation.save(update_fields=["existing_enrolled"])
    return AutomationCreated(automation=automation, existing=len(existing), enrolled_existing=enrolled)


@transaction.atomic
def label_automation_set_active(*, automation: LabelAutomation, active: bool) -> LabelAutomation:
    automation.active = active
    automation.save(update_fields=["active"])
    return automation


@transaction.atomic
def label_automations_fire(*, events: list[LabelEvent], now: datetime | None = None) -> list[Enrollment]:
    """Enroll the contacts of these label events into every active automation of that label that
    existed when the label was added. Safe to run twice: once per (campaign, contact, event)."""
    now = now or timezone.now()
    label_ids = {event.label_id for event in events}
    automations = list(
        LabelAutomation.objects.filter(active=True, label_id__in=label_ids, campaign__status__in=FIRING_STATUSES)
        .select_related("campaign", "label", "sender")
        .order_by("pk")
    )
    if not automations:
        return []
    fresh = LabelEvent.objects.filter(pk__in=[e.pk for e in events]).select_related("recipient", "actor")
    created: list[Enrollment] = []
    for event in fresh:
        for automation in automations:
            if automation.label_id != event.label_id or event.created_at < automation.created_at:
                continue
            enrollment = _enroll(automation=automation, recipient=event.recipient, event=event, user=None, now=now)
            if enrollment is not None:
                created.append(enrollment)
    return created


def automation_for_enrollment(
    *, campaign: Campaign, recipient: Recipient
) -> tuple[LabelAutomation, LabelEvent | None] | None:
    """The API's "automation-triggered" enrollment: when this campaign has an active label
    automation whose label the contact carries, the call is that automation's enrollment (the same
    occurrence), not a second one. Returns the automation and the label event it answers (the
    latest addition since the automation exists, if any)."""
    automation = (
        LabelAutomation.objects.filter(campaign=campaign, active=True, label__recipients=recipient)
        .select_related("label", "sender", "campaign")
        .order_by("-pk")
        .first()
    )
    if automation is None:
        return None
    event = (
        LabelEvent.objects.filter(
            recipient=recipient, label_id=automation.label_id, created_at__gte=automation.created_at
        )
        .select_related("actor")
        .order_by("-created_at", "-pk")
        .first()
    )
    return automation, event


def automation_source(automation: LabelAutomation, event: LabelEvent | None) -> dict:
    return _source(automation, event)


def automation_occurrence(automation: LabelAutomation, event: LabelEvent | None) -> str:
    return f"label:{event.pk}" if event is not None else ""
