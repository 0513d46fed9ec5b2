"""The entry prompt: a campaign's optional instruction for when (and when not) to use it, judged for
each candidate on their facts before their first draft is requested: send now, not now (try again at
the next hourly scan) or never. The model judges when one is configured, transparent rules offline
(`outreach/drafting/entry_prompt.py`). "Not now" and "never" are logged as draft skips with the reason,
so the campaign page and the audit show them; "send now" only lets the step be drafted: every email
still waits for a person in the review queue."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction

from campaigns import services
from campaigns.models import Enrollment, EnrollmentEvent
from outreach.drafting.entry_prompt import NEVER, NOT_NOW, SEND_NOW, EntryDecision, evaluate_entry
from outreach.drafting.errors import DraftingError
from outreach.people.models import Recipient
from review import services as review_services
from review.providers import configured_provider

log = logging.getLogger(__name__)
State = Enrollment.State

# "Not now" is asked again at the next hourly milestone scan, not at every 5-minute advance.
ENTRY_RETRY = timedelta(hours=1)
# Once judged "send now" (or once a step was drafted), the entry prompt is not asked again.
JUDGED = ("entry_send_now", "draft_requested")


def _candidate_facts(recipient: Recipient) -> list[dict]:
    """What the judge sees: the recipient's facts and profile (as the drafting engine gets them),
    their lifecycle stage and custom properties; all untrusted data."""
    facts = review_services.recipient_facts(recipient)
    extra = {
        "lifecycle_stage": recipient.lifecycle_stage,
        **{str(k): v for k, v in (recipient.properties or {}).items()},
    }
    for key, value in extra.items():
        if value not in (None, "", [], {}) and isinstance(value, str | int | float):
            facts.append(
                {
                    "id": f"recipient:{key}",
                    "kind": key,
                    "text": f"{key}: {value}",
                    "value": str(value),
                    "trust": "untrusted",
                }
            )
    return facts


def _needs_judgement(enrollment: Enrollment) -> bool:
    campaign = enrollment.campaign
    if campaign is None or not campaign.entry_prompt.strip():
        return False
    return not EnrollmentEvent.objects.filter(enrollment=enrollment, kind__in=JUDGED).exists()


def enrollment_entry_gate(*, enrollment_id: int, now: datetime, provider=None) -> bool:
    """True when the scan may go on and request this enrollment's draft. The model call happens
    outside any transaction: no row stays locked while we wait for it."""
    enrollment = (
        Enrollment.objects.select_related("campaign", "recipient__account")
        .filter(pk=enrollment_id, state__in=Enrollment.DUE_STATES, next_due_at__lte=now)
        .first()
    )
    if enrollment is None or not _needs_judgement(enrollment):
        return True
    instruction = enrollment.campaign.entry_prompt  # type: ignore[union-attr]
    try:
        decision = evaluate_entry(
            instruction=instruction,
            facts=_candidate_facts(enrollment.recipient),
            provider=provider or configured_provider(),
        )
    except DraftingError as exc:
        log.warning("entry prompt of enrollment %s not judged: %s", enrollment_id, exc.reason)
        decision = EntryDecision(NOT_NOW, f"the entry prompt could not be judged ({exc.reason}); trying again later")
    return _apply(enrollment_id=enrollment_id, decision=decision, instruction=instruction, now=now)


@transaction.atomic
def _apply(*, enrollment_id: int, decision: EntryDecision, instruction: str, now: datetime) -> bool:
    locked = services._lock(enrollment_id)
    if locked is None or locked.state not in Enrollment.DUE_STATES:
        return False
    data = {
        "decision": decision.decision,
        "provider": decision.provider,
        "model": decision.model,
        "prompt": instruction,
    }
    if decision.decision == SEND_NOW:
        services.record_event(
            locked, kind="entry_send_now", reason=f"entry prompt: send now — {decision.reason}", data=data
        )
        return True
    steps = services.selectors.enrollment_steps(enrollment=locked)
    step = next((s for s in steps if s.position == locked.current_step), None)
    origin = services.step_origin(enrollment=locked, step=step)
    if decision.decision == NEVER:
        reason = f"entry prompt: never — {decision.reason}"
        review_services.draft_skip_record(recipient=locked.recipient, origin=origin, code="entry_never", reason=reason)
        services._end(locked, to=State.CANCELLED, kind="entry_never", reason=reason, data=data)
        return False
    reason = f"entry prompt: not now — {decision.reason}"
    review_services.draft_skip_record(recipient=locked.recipient, origin=origin, code="entry_not_now", reason=reason)
    locked.next_due_at = now + ENTRY_RETRY
    services._transition(
        locked, to=locked.state, kind="entry_not_now", reason=reason, data=data, fields=("next_due_at",)
    )
    return False
