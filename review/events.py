"""Review's emitted event: approve, edit+approve and reject become `draft_edit_signal` events (the
documented wire name) for webhooks and the event feed, stored in the decision's own transaction, so
a decision and its event commit together or not at all."""

from __future__ import annotations

from outreach.core.public_ids import encode_or_none as pid
from outreach.integrations.models import EmittedEvent
from outreach.integrations.services.events import emitted_event_record

from .models import Draft, DraftDecision, DraftEdit

EMITTED_ACTIONS = {DraftDecision.Action.APPROVE, DraftDecision.Action.EDIT_APPROVE, DraftDecision.Action.REJECT}


def draft_decision_emit(*, draft: Draft, decision: DraftDecision, edit: DraftEdit | None = None) -> None:
    """Store the event for a decision that emits one, with the edit distance when the text changed."""
    if decision.action not in EMITTED_ACTIONS:
        return
    payload = {
        "draft_id": pid("drf", draft.pk),
        "decision": decision.action,
        "via": decision.via,
        "decided_by": decision.user.get_username() if decision.user else None,
        "reason": decision.reason,
        "note": decision.note,
        "decided_at": decision.created_at.isoformat(),
        "recipient": {"id": pid("ctc", draft.recipient_id), "email": draft.recipient.email},
        "sender": draft.sender.get_username(),
        "campaign_id": pid("seq", draft.campaign_ref),
        "enrollment_id": pid("enr", draft.enrollment_ref),
        "step_id": pid("stp", draft.step_ref),
        "edit": None
        if edit is None
        else {
            "char_distance": edit.char_distance,
            "word_distance": edit.word_distance,
            "normalized_similarity": edit.normalized_similarity,
            "changed_parts": edit.changed_parts,
        },
    }
    emitted_event_record(
        type=EmittedEvent.Type.DRAFT_EDIT, payload=payload, recipient=draft.recipient, sender=draft.sender
    )
