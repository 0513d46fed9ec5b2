"""Listeners for the lower apps' signals (each is sent on commit of the change it reports)."""

from __future__ import annotations

from django.db import transaction

from outreach.mail.signals import engagement_recorded, outbound_message_finished
from outreach.people.signals import labels_added
from outreach.suppression.signals import suppression_added
from review.signals import draft_decided

from . import services
from .services import automations


def on_draft_decided(sender, draft, decision, edit=None, **kwargs) -> None:
    services.enrollment_on_draft_decided(draft=draft, decision=decision)


def on_outbound_message_finished(sender, message, **kwargs) -> None:
    services.enrollment_on_message_finished(message=message)


def on_engagement_recorded(sender, event, **kwargs) -> None:
    to_evaluate = services.enrollment_on_engagement(event=event)
    if to_evaluate:
        # The LLM call is slow: the worker makes it, not the webhook request.
        transaction.on_commit(
            lambda: services.exit_condition_checks_enqueue(enrollment_ids=to_evaluate, event_id=event.pk)
        )


def on_suppression_added(sender, entry, **kwargs) -> None:
    services.enrollment_on_suppression(entry=entry)


def on_labels_added(sender, events, **kwargs) -> None:
    automations.label_automations_fire(events=list(events))


def connect() -> None:
    draft_decided.connect(on_draft_decided, dispatch_uid="campaigns.draft_decided")
    outbound_message_finished.connect(on_outbound_message_finished, dispatch_uid="campaigns.message_finished")
    engagement_recorded.connect(on_engagement_recorded, dispatch_uid="campaigns.engagement_recorded")
    suppression_added.connect(on_suppression_added, dispatch_uid="campaigns.suppression_added")
    labels_added.connect(on_labels_added, dispatch_uid="campaigns.labels_added")
