"""The audit trail: why did, or didn't, this person get this email?

One chronological timeline per recipient from the rows that already record every state change:
suppression entries (added and removed), suppression skips, enrollments, drafts and their
decisions and edits, sends with status and code, engagement events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from outreach.core.normalize import parent_domains
from outreach.mail.models import EngagementEvent, OutboundMessage, OutboundMessageLog
from outreach.people.models import Recipient
from outreach.suppression.models import Suppression
from outreach.suppression.selectors import SuppressionHit, suppression_check
from review.models import Draft, DraftDecision, DraftEdit, DraftSkip

from .models import Enrollment, EnrollmentEvent


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    category: str  # suppression | skip | enrollment | draft | decision | send | engagement
    title: str
    detail: str = ""
    actor: str = ""
    tone: str = ""  # ok | warn | bad, for the badge


@dataclass(frozen=True)
class RecipientAudit:
    recipient: Recipient
    suppressed_now: SuppressionHit | None
    entries: list[AuditEntry]


def _name(user) -> str:
    return (user.get_full_name() or user.username) if user else ""


def recipient_audit(*, recipient: Recipient) -> RecipientAudit:
    """Everything recorded about contacting this recipient, newest first, in a fixed number of queries."""
    entries: list[AuditEntry] = []

    suppressions = Suppression.objects.filter(
        Q(kind=Suppression.Kind.ADDRESS, value=recipient.email)
        | Q(kind=Suppression.Kind.DOMAIN, value__in=parent_domains(recipient.domain))
        | Q(kind=Suppression.Kind.RECIPIENT, value=str(recipient.pk))
    ).select_related("suppression_list", "added_by", "removed_by")
    for s in suppressions:
        entries.append(
            AuditEntry(
                s.created_at,
                "suppression",
                f"Suppressed ({s.get_kind_display().lower()} {s.value}): {s.get_reason_display()}",
                f"List {s.suppression_list}. {s.source} {s.note}".strip(),
                _name(s.added_by),
                "bad",
            )
        )
        if s.removed_at:
            entries.append(
                AuditEntry(
                    s.removed_at,
                    "suppression",
                    f"Suppression of {s.value} removed",
                    s.removal_reason,
                    _name(s.removed_by),
                    "ok",
                )
            )

    for skip in DraftSkip.objects.filter(recipient=recipient).select_related("origin"):
        entries.append(
            AuditEntry(
                skip.created_at,
                "skip",
                f"No draft: {skip.code}",
                f"{skip.reason}" + (f" (campaign {skip.origin})" if skip.origin else ""),
                tone="warn",
            )
        )

    for enrollment in Enrollment.objects.filter(recipient=recipient).select_related("campaign", "enrolled_by"):
        entries.append(
            AuditEntry(
                enrollment.created_at,
                "enrollment",
                f"Enrolled in {enrollment.campaign or 'an ad-hoc sequence'} ({enrollment.get_kind_display().lower()})",
                f"Now {enrollment.get_state_display().lower()}. {enrollment.state_reason}".strip(),
                _name(enrollment.enrolled_by),
            )
        )

    # Every later state change of each enrollment (step drafted, skipped, exited on reply…).
    events = EnrollmentEvent.objects.filter(enrollment__recipient=recipient).select_related(
        "enrollment__campaign", "actor"
    )
    for ev in events:
        if ev.kind == "enrolled":
            continue  # the enrollment row above says it
        if ev.to_state in ("cancelled", "failed", "suppressed") or "fail" in ev.kind:
            tone = "bad"
        elif ev.to_state.startswith("exited") or "rejected" in ev.kind or "error" in ev.kind:
            tone = "warn"
        else:
            tone = ""
        entries.append(
            AuditEntry(
                ev.created_at,
                "enrollment",
                f"{ev.enrollment.campaign or 'Sequence'}: {ev.kind.replace('_', ' ')}"
                + (f" ({ev.from_state or '·'} → {ev.to_state})" if ev.from_state != ev.to_state else ""),
                ev.reason,
                _name(ev.actor),
                tone,
            )
        )

    drafts = Draft.objects.filter(recipient=recipient).select_related("origin", "sender")
    for draft in drafts:
        detail = f"From {_name(draft.sender)}, state {draft.get_state_display().lower()}"
        if draft.unsupported_claim_count:
            detail += f", {draft.unsupported_claim_count} unsupported claim(s)"
        if draft.failure_reason:
            detail += f". Failed: {draft.failure_reason}"
        entries.append(
            AuditEntry(
                draft.created_at,
                "draft",
                f"Draft #{draft.pk} requested" + (f" for {draft.origin}" if draft.origin else ""),
                detail,
            )
        )
    for decision in DraftDecision.objects.filter(draft__recipient=recipient).select_related("user"):
        tone = "bad" if decision.action == DraftDecision.Action.REJECT else "ok"
        via = " via API" if decision.via == "api" else ""
        entries.append(
            AuditEntry(
                decision.created_at,
                "decision",
                f"Draft #{decision.draft_id}: {decision.get_action_display().lower()}{via}",
                " ".join(filter(None, [decision.reason, decision.note])),
                _name(decision.user),
                tone,
            )
        )
    for edit in DraftEdit.objects.filter(draft__recipient=recipient).select_related("editor"):
        entries.append(
            AuditEntry(
                edit.created_at,
                "decision",
                f"Draft #{edit.draft_id} edited ({', '.join(edit.changed_parts) or 'no change'})",
                f"{edit.char_distance} characters changed, similarity {edit.normalized_similarity:.2f}",
                _name(edit.editor),
            )
        )

    for message in OutboundMessage.objects.filter(recipient=recipient).select_related("approved_by"):
        tone = {"sent": "ok", "failed": "bad", "skipped": "warn", "unknown": "warn"}.get(message.state, "")
        title = f"Email “{message.subject}” {message.get_state_display().lower()}"
        detail = " ".join(filter(None, [message.get_code_display() if message.code else "", message.error_message]))
        entries.append(
            AuditEntry(
                message.sent_at or message.updated_at,
                "send",
                title,
                detail,
                f"approved by {_name(message.approved_by)}",
                tone,
            )
        )

    # The send log: every state change of each outbox row, with who (empty = the system) and why.
    for log in OutboundMessageLog.objects.filter(message__recipient=recipient).select_related("actor"):
        if log.to_state == "queued" and not log.from_state:
            continue  # the approval, said by the decision above
        tone = {"sent": "ok", "failed": "bad", "skipped": "warn", "unknown": "warn"}.get(log.to_state, "")
        entries.append(
            AuditEntry(
                log.created_at,
                "send",
                f"Message #{log.message_id}: {log.from_state or '·'} → {log.to_state}"
                + (f" ({log.code})" if log.code else ""),
                log.note,
                _name(log.actor) or "system",
                tone,
            )
        )

    for event in EngagementEvent.objects.filter(recipient=recipient):
        tone = "bad" if event.kind in ("bounced", "complained", "unsubscribed") else "ok"
        entries.append(
            AuditEntry(
                event.occurred_at, "engagement", f"{event.get_kind_display()}", event.reply_text[:300], tone=tone
            )
        )

    entries.sort(key=lambda e: e.at, reverse=True)
    return RecipientAudit(recipient=recipient, suppressed_now=suppression_check(recipient=recipient), entries=entries)
