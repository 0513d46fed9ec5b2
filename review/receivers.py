"""The review app's part of the emitted signals: draft decisions become draft_edit_signal events."""

from __future__ import annotations

import logging

from outreach.models import OutboundEvent
from outreach.webhooks import outbound_event_record

from .models import DraftDecision

logger = logging.getLogger(__name__)
EMITTED_ACTIONS = {DraftDecision.Action.APPROVE, DraftDecision.Action.EDIT_APPROVE, DraftDecision.Action.REJECT}


def on_draft_decided(sender, draft, decision, edit=None, **kwargs) -> None:
    """approve, edit+approve and reject, with the edit distance when the text changed. A failure
    here is logged, never raised: campaigns listens to the same signal to move a sequence on."""
    if decision.action not in EMITTED_ACTIONS:
        return
    try:
        _record(draft, decision, edit)
    except Exception:
        logger.exception("could not record draft_edit_signal for draft %s", draft.pk)


def _record(draft, decision, edit) -> None:
    payload = {
        "draft_id": draft.pk,
        "decision": decision.action,
        "via": decision.via,
        "decided_by": decision.user.get_username() if decision.user_id else None,
        "reason": decision.reason,
        "note": decision.note,
        "decided_at": decision.created_at.isoformat(),
        "recipient": {"id": draft.recipient_id, "email": draft.recipient.email},
        "sender": draft.sender.get_username(),
        "campaign_id": draft.campaign_id,
        "enrollment_id": draft.enrollment_id,
        "step_id": draft.step_id,
        "edit": None
        if edit is None
        else {
            "char_distance": edit.char_distance,
            "word_distance": edit.word_distance,
            "normalized_similarity": edit.normalized_similarity,
            "changed_parts": edit.changed_parts,
        },
    }
    outbound_event_record(
        type=OutboundEvent.Type.DRAFT_EDIT, payload=payload, recipient=draft.recipient, sender=draft.sender
    )


def connect() -> None:
    from .signals import draft_decided

    draft_decided.connect(on_draft_decided, dispatch_uid="review.draft_decided.webhooks")
