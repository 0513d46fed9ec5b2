"""Every inbound reply gets a class (interested, not now, not interested, out of office,
unsubscribe request, referral, other) and the reason, before its consequences are applied, so the
Replies page, the exit-condition judge and the emitted `engagement_signal` all see it.

The model decides when one is configured (DRAFTING_PROVIDER=anthropic); the transparent rules of
`outreach.drafting.reply_class` decide offline, and also when the model cannot be asked (the reason
says so): a reply is never left unclassified because an API was down.
"""

from __future__ import annotations

import logging

from outreach.drafting import DraftingError, Provider
from outreach.drafting.reply_class import ReplyClassification, classify_reply, offline_class
from outreach.mail.llm import configured_provider
from outreach.mail.models import EngagementEvent

logger = logging.getLogger(__name__)


def reply_classification_decide(*, event: EngagementEvent, provider: Provider | None = None) -> ReplyClassification:
    """Ask the model (or the rules) about one reply. No writes; no row is locked meanwhile."""
    payload = event.payload if isinstance(event.payload, dict) else {}
    subject = str(payload.get("subject") or "")
    auto_reply = event.kind == EngagementEvent.Kind.AUTO_REPLIED
    try:
        chosen = provider or configured_provider()
        return classify_reply(reply_text=event.reply_text, subject=subject, auto_reply=auto_reply, provider=chosen)
    except DraftingError as exc:
        logger.warning(
            "reply classes: engagement event %s: the model was not asked or failed: %s", event.pk, exc.reason
        )
        fallback = offline_class(reply_text=event.reply_text, subject=subject, auto_reply=auto_reply)
        return ReplyClassification(
            reply_class=fallback.reply_class,
            reason=f"model unavailable ({exc.reason}); {fallback.reason}"[:600],
            provider=fallback.provider,
            model=fallback.model,
        )


def reply_classify(*, event: EngagementEvent, provider: Provider | None = None) -> EngagementEvent:
    """Classify a reply or auto-reply once and store the class with its reason. Safe to run twice:
    a stored class is kept (a concurrent run writes only where none is stored yet)."""
    if event.kind not in EngagementEvent.INBOUND_KINDS or event.reply_class:
        return event
    decided = reply_classification_decide(event=event, provider=provider)
    by = f"{decided.provider} {decided.model}".strip()[:120]
    updated = EngagementEvent.objects.filter(pk=event.pk, reply_class="").update(
        reply_class=decided.reply_class, reply_class_reason=decided.reason[:600], reply_classified_by=by
    )
    if updated:
        event.reply_class, event.reply_class_reason, event.reply_classified_by = (
            decided.reply_class,
            decided.reason[:600],
            by,
        )
    else:
        event.refresh_from_db(fields=["reply_class", "reply_class_reason", "reply_classified_by"])
    return event
