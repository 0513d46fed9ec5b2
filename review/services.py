"""Writes on drafts: request, generate (the task), decide (approve, edit, reject, regenerate, retry, skip)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from outreach.core.errors import ApplicationError
from outreach.core.normalize import normalize_email
from outreach.core.tasks import task_enqueue
from outreach.drafting import (
    DraftingError,
    DraftRequest,
    EditExample,
    Intent,
    Persona,
    ThreadMessage,
    compose,
    ground,
    kept_key,
    sanitize,
)
from outreach.mail.models import EngagementEvent, OutboundMessage
from outreach.mail.services.outbox import SendRules, outbound_message_cancel_held, outbound_message_create
from outreach.people.models import Recipient
from outreach.suppression.models import Suppression
from outreach.suppression.selectors import suppression_check, suppression_check_bulk
from outreach.suppression.services import suppression_add

from .briefs import STEP_BRIEF_FIELDS, Brief, Origin
from .edit_metrics import edit_metrics
from .events import draft_decision_emit
from .models import Draft, DraftDecision, DraftEdit, DraftOrigin, DraftSkip, DraftVersion, RejectReason
from .providers import configured_provider
from .signals import draft_decided

log = logging.getLogger(__name__)

# A draft in "drafting" longer than this lost its worker; the sweep hands it back to the queue.
DRAFTING_LEASE = timedelta(minutes=10)
# A queued draft older than this whose task is not waiting in the broker lost its task.
LOST_TASK_AFTER = timedelta(minutes=1)
# A draft whose worker died this many times is failed instead of retried forever.
MAX_ATTEMPTS = 3
EDIT_EXAMPLES = 3


class DraftConflict(ApplicationError):
    """The draft changed under the user (another reviewer, a double click): HTTP 409."""


def _enqueue_generation(draft_id: int) -> None:
    task_enqueue("review.tasks.draft_generate", draft_id, task_name=f"draft-{draft_id}", group="drafting")


# --- Request --------------------------------------------------------------------------------


def _origin_row(origin: Origin) -> DraftOrigin | None:
    """Review's record of the campaign that asks, by the id it handed down; its name follows the
    latest request."""
    if origin.campaign_ref is None:
        return None
    row, created = DraftOrigin.objects.get_or_create(
        campaign_ref=origin.campaign_ref, defaults={"name": origin.campaign_name[:200]}
    )
    if not created and origin.campaign_name and row.name != origin.campaign_name[:200]:
        row.name = origin.campaign_name[:200]
        row.save(update_fields=["name"])
    return row


def _skip(*, recipient: Recipient, origin: Origin, row: DraftOrigin | None, code: str, reason: str) -> DraftSkip:
    return DraftSkip(recipient=recipient, origin=row, enrollment_ref=origin.enrollment_ref, code=code, reason=reason)


@transaction.atomic
def draft_request(
    *,
    recipient: Recipient,
    sender,
    origin: Origin | None = None,
    brief: Brief | None = None,
    rules: SendRules | None = None,
    reviewer=None,
    cc: list[str] | None = None,
    bcc: list[str] | None = None,
) -> Draft | None:
    """Ask for a draft. Checks suppression first (the global lists and the rules' own): a suppressed
    recipient gets no draft, only a logged skip with the reason (returns None). Refuses a second open
    draft for the same recipient in the same campaign. The generation task is enqueued on commit."""
    origin, brief, rules = origin or Origin(), brief or Brief(), rules or SendRules()
    row = _origin_row(origin)
    hit = suppression_check(recipient=recipient, list_ids=rules.suppression_list_ids)
    if hit is not None:
        _skip(recipient=recipient, origin=origin, row=row, code="suppressed", reason=hit.describe()).save()
        return None
    if row is not None and Draft.objects.filter(recipient=recipient, origin=row, state__in=Draft.OPEN_STATES).exists():
        raise ApplicationError(f"{recipient.email} already has an open draft in this campaign")
    draft = Draft(
        recipient=recipient,
        sender=sender,
        reviewer=reviewer,
        origin=row,
        enrollment_ref=origin.enrollment_ref,
        step_ref=origin.step_ref,
        brief=brief.as_dict(),
        send_rules=rules.as_dict(),
        cc=clean_addresses(cc or []),
        bcc=clean_addresses(bcc or []),
    )
    try:
        with transaction.atomic():
            draft.save()
    except IntegrityError:
        # Two requests raced past the check above; the constraint keeps one.
        raise ApplicationError(f"{recipient.email} already has an open draft in this campaign") from None
    transaction.on_commit(lambda: _enqueue_generation(draft.pk))
    return draft


@dataclass
class BulkRequestResult:
    created: list[Draft] = field(default_factory=list)
    suppressed: int = 0
    already_open: int = 0
    no_sender: int = 0


@transaction.atomic
def draft_request_bulk(
    *,
    recipients: Sequence[Recipient],
    sender_for: Callable[[Recipient], Any],
    origin: Origin | None = None,
    brief: Brief | None = None,
    rules: SendRules | None = None,
    reviewer=None,
) -> BulkRequestResult:
    """Request drafts for many recipients: one bulk suppression check, one query for open drafts,
    one insert for the drafts and one for the skips; each task is enqueued on commit."""
    origin, brief, rules = origin or Origin(), brief or Brief(), rules or SendRules()
    row = _origin_row(origin)
    result = BulkRequestResult()
    hits = suppression_check_bulk(recipients=list(recipients), list_ids=rules.suppression_list_ids)
    open_ids: set[int] = set()
    if row is not None:
        open_ids = set(
            Draft.objects.filter(
                origin=row, state__in=Draft.OPEN_STATES, recipient__in=[r.pk for r in recipients]
            ).values_list("recipient_id", flat=True)
        )
    drafts, skips, seen = [], [], set()
    for recipient in recipients:
        if recipient.pk in seen:
            continue
        seen.add(recipient.pk)
        hit = hits.get(recipient.pk)
        if hit is not None:
            result.suppressed += 1
            skips.append(_skip(recipient=recipient, origin=origin, row=row, code="suppressed", reason=hit.describe()))
            continue
        if recipient.pk in open_ids:
            result.already_open += 1
            skips.append(
                _skip(recipient=recipient, origin=origin, row=row, code="already_open", reason="an open draft exists")
            )
            continue
        sender = sender_for(recipient)
        if sender is None:
            result.no_sender += 1
            skips.append(_skip(recipient=recipient, origin=origin, row=row, code="no_sender", reason="no sender"))
            continue
        drafts.append(
            Draft(
                recipient=recipient,
                sender=sender,
                reviewer=reviewer,
                origin=row,
                enrollment_ref=origin.enrollment_ref,
                step_ref=origin.step_ref,
                brief=brief.as_dict(),
                send_rules=rules.as_dict(),
            )
        )
    try:
        with transaction.atomic():
            result.created = Draft.objects.bulk_create(drafts)
    except IntegrityError:
        raise ApplicationError(
            "Another request created drafts for these recipients at the same time; try again."
        ) from None
    DraftSkip.objects.bulk_create(skips)
    ids = [d.pk for d in result.created]

    def enqueue_all() -> None:
        for pk in ids:
            _enqueue_generation(pk)

    transaction.on_commit(enqueue_all)
    return result


def draft_skip_record(*, recipient: Recipient, origin: Origin, code: str, reason: str) -> DraftSkip:
    """Log a draft that was not requested, and why (for example: nobody to send it)."""
    skip = _skip(recipient=recipient, origin=origin, row=_origin_row(origin), code=code, reason=reason)
    skip.save()
    return skip


@transaction.atomic
def draft_ready_from_text(
    *, draft: Draft, subject: str, body_text: str, body_html: str, provider: str, model_name: str
) -> Draft:
    """A queued draft whose text the asker already has (a campaign's fixed step) is ready at once:
    the drafting task then finds it no longer queued and leaves it alone. Still reviewed like any."""
    claimed = Draft.objects.filter(pk=draft.pk, state=Draft.State.QUEUED).update(
        subject=sanitize.clean_subject(subject),
        body_text=sanitize.clean_body_text(body_text),
        body_html=body_html,
        state=Draft.State.READY,
        ready_at=timezone.now(),
        provider=provider[:30],
        model_name=model_name[:100],
        updated_at=timezone.now(),
    )
    if not claimed:
        raise ApplicationError("Only a queued draft can be given its text.")
    draft.refresh_from_db()
    DraftVersion.objects.create(
        draft=draft,
        number=_next_version_number(draft),
        origin=DraftVersion.Origin.GENERATED,
        subject=draft.subject,
        preview_text=draft.preview_text,
        body_html=draft.body_html,
        body_text=draft.body_text,
    )
    return draft


def drafts_supersede(*, enrollment_ref: int, reason: str) -> int:
    """The asker no longer wants the open drafts it requested (a sequence ended): none of them can
    be approved any more. The version bump voids an approval a reviewer is about to submit."""
    return Draft.objects.filter(enrollment_ref=enrollment_ref, state__in=Draft.OPEN_STATES).update(
        state=Draft.State.SUPERSEDED, version=F("version") + 1, failure_reason=reason[:500], updated_at=timezone.now()
    )


@transaction.atomic
def drafts_rebrief(*, origin: Origin, brief: Brief, rules: SendRules) -> int:
    """The asker changed what its open drafts are for (a campaign was edited): they take its new
    name, brief and send rules (each draft keeps its own step), so a regeneration writes from the
    current intent and an approval sends under the current rules. Returns how many changed."""
    row = _origin_row(origin)
    if row is None:
        return 0
    campaign_fields = {k: v for k, v in brief.as_dict().items() if k not in STEP_BRIEF_FIELDS}
    updated = 0
    for draft in Draft.objects.select_for_update().filter(origin=row, state__in=Draft.OPEN_STATES):
        kept = {k: v for k, v in (draft.brief or {}).items() if k in STEP_BRIEF_FIELDS}
        draft.brief = {**campaign_fields, **kept}
        draft.send_rules = rules.as_dict()
        draft.save(update_fields=["brief", "send_rules", "updated_at"])
        updated += 1
    return updated


# --- Generate (the task) ----------------------------------------------------------------------


def _recipient_facts(recipient: Recipient) -> list[dict]:
    """The recipient's recorded facts plus profile and account fields, as the engine's plain dicts."""
    facts: list[dict] = []

    def add(fact_id: str, kind: str, text: str, value: str | None = None) -> None:
        # Profile and account fields arrive by import, API or CRM sync: untrusted like those facts.
        if text.strip():
            facts.append(
                {"id": fact_id, "kind": kind, "text": text, "value": value, "observed_at": None, "trust": "untrusted"}
            )

    add("recipient:first_name", "first_name", recipient.first_name, recipient.first_name)
    add("recipient:last_name", "last_name", recipient.last_name, recipient.last_name)
    add("recipient:title", "title", recipient.title and f"{recipient.full_name or recipient.email}: {recipient.title}")
    account = recipient.account
    if account is not None:
        add("account:name", "company", f"Works at {account.name}", account.name)
        add("account:state", "account_state", f"Account state: {account.get_state_display()}", account.state)
        add("account:plan", "account_plan", account.plan and f"On the {account.plan} plan", account.plan)
        if account.renewal_date:
            iso = account.renewal_date.isoformat()
            add("account:renewal", "account_renewal", f"Contract renews on {iso}", iso)
    recorded = [f.as_dict() for f in recipient.facts.all()[:60]]
    # A recorded fact wins over the same statement derived from the profile.
    texts = {f["text"] for f in recorded}
    return [f for f in facts if f["text"] not in texts] + recorded


def _intent(brief: Brief, *, in_campaign: bool) -> Intent:
    step_prompt = brief.step_prompt.strip()
    if not in_campaign:
        return Intent(goal=step_prompt or "A personal one-to-one note", key_message=step_prompt, call_to_action="")
    goal = brief.goal
    if step_prompt:
        goal = f"{goal}\nThis email: {step_prompt}" if goal else step_prompt
    return Intent(
        goal=goal, key_message=brief.key_message, call_to_action=brief.call_to_action, trigger_reason=brief.why_now
    )


def _persona(sender, brief: Brief) -> Persona:
    """The sender speaks; the brief may override tone and role. The engine adds the persona's
    name, role and company to the grounding facts (sender:name, sender:role, sender:company)."""

    profile = getattr(sender, "sender", None)
    name = profile.display_name if profile else sender.get_full_name() or sender.get_username()
    return Persona(
        name=name,
        role=brief.persona_role or (profile.title if profile else ""),
        company=profile.company if profile else "",
        tone=brief.persona_tone or (profile.persona_tone if profile else ""),
        signature=profile.signature if profile else "",
    )


def _thread(
    brief: Brief, *, enrollment_ref: int | None, draft_ref: int | None
) -> tuple[list[ThreadMessage], ThreadMessage | None]:
    """Earlier emails of the same sequence, with the recipient's replies, oldest first; and the
    message that started the sequence, when the asker gave one."""
    source = brief.source_message
    source_message = None
    if source is not None and (source.body_text or source.subject):
        source_message = ThreadMessage(
            direction="outbound" if source.direction == "outbound" else "inbound",
            subject=source.subject,
            body_text=source.body_text,
            sent_at=source.sent_at,
        )
    if enrollment_ref is None:
        return [], source_message
    messages = list(
        OutboundMessage.objects.filter(enrollment_ref=enrollment_ref)
        .exclude(draft_ref=draft_ref)
        .order_by("created_at")[:10]
    )
    replies = EngagementEvent.objects.filter(message__in=messages, kind=EngagementEvent.Kind.REPLIED).order_by(
        "occurred_at"
    )
    by_message: dict[int | None, list] = {}
    for event in replies:
        by_message.setdefault(event.message_id, []).append(event)
    thread = []
    for message in messages:
        sent = message.sent_at or message.created_at
        thread.append(
            ThreadMessage(
                direction="outbound", subject=message.subject, body_text=message.body_text, sent_at=sent.isoformat()
            )
        )
        for reply in by_message.get(message.pk, []):
            if reply.reply_text:
                thread.append(
                    ThreadMessage(
                        direction="inbound",
                        subject=f"Re: {message.subject}",
                        body_text=reply.reply_text,
                        sent_at=reply.occurred_at.isoformat(),
                    )
                )
    return thread, source_message


def _edit_examples(*, sender, origin_id: int | None):
    """The few latest edits of this sender's drafts in this campaign, oldest first (the newest
    last, as the prompt and the offline writer read them): the engine learns the style."""

    edits = DraftEdit.objects.filter(draft__sender_id=sender.pk, draft__origin_id=origin_id)
    latest = list(edits.exclude(body_before=F("body_after")).order_by("-created_at", "-id")[:EDIT_EXAMPLES])
    return [EditExample(before=e.body_before, after=e.body_after, ref=str(e.pk)) for e in reversed(latest)]


def compose_request(
    *,
    recipient: Recipient,
    sender,
    brief: Brief,
    origin_id: int | None = None,
    enrollment_ref: int | None = None,
    draft_ref: int | None = None,
    instruction: str = "",
    kept_untrusted: Sequence[str] = (),
) -> DraftRequest:
    """The engine's input: facts, intent, persona, thread and recent edits, from the rows and the
    brief. The drafting task uses it for a draft; a campaign's preview for a draft not yet asked for."""
    thread, source_message = _thread(brief, enrollment_ref=enrollment_ref, draft_ref=draft_ref)
    return DraftRequest(
        intent=_intent(brief, in_campaign=bool(brief.campaign)),
        persona=_persona(sender, brief),
        facts=_recipient_facts(recipient),
        today=timezone.localdate(),
        thread=thread,
        source_message=source_message,
        instruction=instruction,
        edit_examples=_edit_examples(sender=sender, origin_id=origin_id),
        own_domains=settings.OWN_DOMAINS,
        kept_untrusted=kept_untrusted,
        second_opinion=settings.GROUNDING_SECOND_OPINION,
    )


def draft_compose_request(*, draft: Draft) -> DraftRequest:
    """The engine's input for this draft."""
    return compose_request(
        recipient=draft.recipient,
        sender=draft.sender,
        brief=Brief.from_dict(draft.brief),
        origin_id=draft.origin_id,
        enrollment_ref=draft.enrollment_ref,
        draft_ref=draft.pk,
        instruction=draft.instruction,
        kept_untrusted=[str(k.get("text", "")) for k in draft.kept_untrusted or []],
    )


def _fail(draft_id: int, claimed_at, reason: str, *, retryable: bool) -> None:
    label = "retryable" if retryable else "not retryable"
    Draft.objects.filter(pk=draft_id, state=Draft.State.DRAFTING, drafting_started_at=claimed_at).update(
        state=Draft.State.FAILED,
        failure_reason=f"{reason} ({label})"[:2000],
        drafting_started_at=None,
        updated_at=timezone.now(),
    )


def _next_version_number(draft: Draft) -> int:
    return (draft.versions.aggregate(n=Max("number"))["n"] or 0) + 1


def draft_generate(*, draft_id: int, provider=None) -> Draft | None:
    """Turn a queued draft into a ready one. Safe to run twice: only the run that claims the row
    (queued -> drafting, a conditional UPDATE) does the work; a failure is recorded with its
    reason, so a draft never stays in "drafting"."""

    claimed_at = timezone.now()
    claimed = Draft.objects.filter(pk=draft_id, state=Draft.State.QUEUED).update(
        state=Draft.State.DRAFTING, drafting_started_at=claimed_at, attempts=F("attempts") + 1, updated_at=claimed_at
    )
    if not claimed:
        return None
    draft = Draft.objects.select_related("recipient__account", "sender__sender").get(pk=draft_id)
    try:
        request = draft_compose_request(draft=draft)
        result = compose(request, provider or configured_provider())
    except DraftingError as exc:
        _fail(draft_id, claimed_at, exc.reason, retryable=exc.retryable)
        return None
    except Exception as exc:  # a bug must not leave the draft in "drafting" either
        log.exception("drafting draft %s failed", draft_id)
        _fail(draft_id, claimed_at, f"internal error: {type(exc).__name__}", retryable=True)
        return None

    with transaction.atomic():
        # Lock and re-check: the sweep may have handed an overdue draft to another worker.
        draft = Draft.objects.select_for_update().get(pk=draft_id)
        if draft.state != Draft.State.DRAFTING or draft.drafting_started_at != claimed_at:
            return None
        now = timezone.now()
        regenerated = bool(draft.instruction) or draft.versions.exists()
        # A sequence step that gives its subject keeps it; the engine writes the rest.
        step_subject = Brief.from_dict(draft.brief).step_subject.strip()
        draft.subject = sanitize.clean_subject(step_subject) if step_subject else result.subject
        draft.preview_text = result.preview_text
        draft.body_html = result.body_html
        draft.body_text = result.body_text
        draft.cited_fact_ids = list(result.cited_fact_ids)
        draft.grounding = [dict(c) for c in result.claims]
        draft.unsupported_claim_count = result.unsupported_count
        draft.provider = result.provider
        draft.model_name = result.model
        draft.input_tokens = result.input_tokens + result.cache_read_tokens + result.cache_write_tokens
        draft.output_tokens = result.output_tokens
        draft.cost_usd = result.cost_usd
        draft.facts_snapshot = [dict(f) for f in request.facts]
        # Which reviewer edits the engine learnt from: edit analytics compares with and without.
        draft.edit_example_ids = [int(e.ref) for e in request.edit_examples if e.ref.isdigit()]
        draft.withheld = [dict(w) for w in result.withheld]
        draft.unfiltered = dict(result.unfiltered)
        draft.failure_reason = ""
        draft.state = Draft.State.READY
        # A regenerated draft keeps its place in the queue.
        draft.ready_at = draft.ready_at or now
        draft.drafting_started_at = None
        draft.version += 1
        draft.save()
        DraftVersion.objects.create(
            draft=draft,
            number=_next_version_number(draft),
            origin=DraftVersion.Origin.REGENERATED if regenerated else DraftVersion.Origin.GENERATED,
            subject=draft.subject,
            preview_text=draft.preview_text,
            body_html=draft.body_html,
            body_text=draft.body_text,
            instruction=draft.instruction,
        )
    return draft


def draft_sweep_stale(*, now=None) -> dict[str, int]:
    """Rows are the truth: return drafts whose worker died (drafting past the lease) to the queue,
    fail those that died too often, and re-enqueue queued drafts whose task was lost."""
    now = now or timezone.now()
    stale = Draft.objects.filter(state=Draft.State.DRAFTING, drafting_started_at__lt=now - DRAFTING_LEASE)
    failed = stale.filter(attempts__gte=MAX_ATTEMPTS).update(
        state=Draft.State.FAILED,
        failure_reason=f"the drafting worker stopped {MAX_ATTEMPTS} times (retryable)",
        drafting_started_at=None,
        updated_at=now,
    )
    requeue_ids = list(stale.values_list("pk", flat=True))
    requeued = Draft.objects.filter(pk__in=requeue_ids, state=Draft.State.DRAFTING).update(
        state=Draft.State.QUEUED,
        failure_reason="the drafting worker stopped; queued again",
        drafting_started_at=None,
        updated_at=now,
    )
    pending = _pending_task_names()
    lost = [
        pk
        for pk in Draft.objects.filter(state=Draft.State.QUEUED, updated_at__lt=now - LOST_TASK_AFTER).values_list(
            "pk", flat=True
        )[:5000]
        if pending is None or f"draft-{pk}" not in pending
    ]
    # Touch them so the next sweep waits another minute before enqueueing them again.
    Draft.objects.filter(pk__in=lost).update(updated_at=now)
    for pk in [*requeue_ids, *lost]:
        _enqueue_generation(pk)
    return {"failed": failed, "requeued": requeued, "reenqueued": len(lost)}


def _pending_task_names() -> set[str] | None:
    """Names of drafting tasks waiting in the ORM broker; None when the broker is not the ORM."""
    from django.conf import settings

    if not settings.Q_CLUSTER.get("orm"):
        return None
    from django_q.models import OrmQ

    return {str(t.name()) for t in OrmQ.objects.all()[:20000]}


# --- Decide ---------------------------------------------------------------------------------


def clean_addresses(values: Sequence[str]) -> list[str]:
    """Normalized, de-duplicated addresses; an invalid one refuses the whole list."""
    out: list[str] = []
    for raw in values:
        value = normalize_email(raw)
        if not value:
            continue
        try:
            validate_email(value)
        except ValidationError:
            raise ApplicationError(f"{raw.strip()!r} is not a valid email address") from None
        if value not in out:
            out.append(value)
    return out


def _lock(draft: Draft, *, expected_version: int, states: Sequence[str]) -> Draft:
    """Lock the draft row and check the version the user saw: the second click gets a 409."""
    locked = (
        Draft.objects.select_for_update(of=("self",))
        # What approving reads to create the outbound message, loaded with the lock.
        .select_related("recipient", "sender__sender", "sender__sender_config", "origin")
        .get(pk=draft.pk)
    )
    if locked.state in (Draft.State.APPROVED, Draft.State.REJECTED) and locked.state not in states:
        # Not joined above: after waiting on the lock, PostgreSQL re-reads the locked row but not
        # the joined ones, so a join would miss the decider who just committed.
        decider = get_user_model().objects.filter(pk=locked.decided_by_id).first() if locked.decided_by_id else None
        who = f" by {decider.get_full_name() or decider}" if decider else ""
        raise DraftConflict(
            f"This draft was already {locked.get_state_display().lower()}{who}. Nothing was done "
            "and nothing is sent twice; press j for the next draft."
        )
    if locked.version != expected_version:
        raise DraftConflict(
            f"This draft changed since you opened it (now {locked.get_state_display().lower()}, "
            f"version {locked.version}). Nothing was done; open it again to see the current text."
        )
    if locked.state not in states:
        raise DraftConflict(f"This draft is {locked.get_state_display().lower()}; it can no longer be changed here.")
    return locked


def _decided(draft: Draft, decision: DraftDecision, edit: DraftEdit | None = None) -> None:
    """Tell others: the emitted event (draft_edit_signal) is stored now, in the decision's transaction
    (never lost between a commit and an after-commit hook); the Django signal draft_decided is sent
    once it commits."""
    draft_decision_emit(draft=draft, decision=decision, edit=edit)
    transaction.on_commit(lambda: draft_decided.send(sender=Draft, draft=draft, decision=decision, edit=edit))


def outbound_message_from_draft(*, draft: Draft, approved_by) -> OutboundMessage:
    """Queue the draft's current text in the outbox, with where it came from and the rules it goes
    out under, handed down as plain values. Only `draft_approve` calls it, inside its transaction,
    after a person approved that text; the caller links the message to the draft."""
    return outbound_message_create(
        recipient=draft.recipient,
        sender=draft.sender,
        approved_by=approved_by,
        subject=draft.subject,
        preview_text=draft.preview_text,
        body_html=draft.body_html,
        body_text=draft.body_text,
        cc=list(draft.cc),
        bcc=list(draft.bcc),
        draft_ref=draft.pk,
        campaign_ref=draft.campaign_ref,
        enrollment_ref=draft.enrollment_ref,
        step_ref=draft.step_ref,
        rules=SendRules.from_dict(draft.send_rules),
        # Held for a moment so the reviewer can undo (settings.APPROVE_UNDO_SECONDS).
        hold_until=timezone.now() + timedelta(seconds=settings.APPROVE_UNDO_SECONDS)
        if settings.APPROVE_UNDO_SECONDS
        else None,
    )


@transaction.atomic
def draft_approve(
    *,
    draft: Draft,
    user,
    expected_version: int,
    subject: str | None = None,
    body_text: str | None = None,
    cc: Sequence[str] | None = None,
    bcc: Sequence[str] | None = None,
    preview_text: str | None = None,
    via: str = "web",
) -> Draft:
    """Approve the exact text (optionally edited) and create its outbound message, in one transaction.
    A text left as None stays as drafted; the preview text may be emptied."""

    draft = _lock(draft, expected_version=expected_version, states=[Draft.State.READY])
    new_subject = draft.subject if subject is None else sanitize.clean_subject(subject)
    new_body = draft.body_text if body_text is None else sanitize.clean_body_text(body_text)
    new_cc = list(draft.cc) if cc is None else clean_addresses(cc)
    new_bcc = list(draft.bcc) if bcc is None else clean_addresses(bcc)
    new_preview = (
        draft.preview_text if preview_text is None else sanitize.clean_subject(preview_text, sanitize.MAX_PREVIEW)
    )
    if not new_subject.strip() or not new_body.strip():
        raise ApplicationError("The subject and the body cannot be empty.")
    metrics = edit_metrics(
        subject_before=draft.subject,
        subject_after=new_subject,
        body_before=draft.body_text,
        body_after=new_body,
        cc_changed=new_cc != list(draft.cc),
        bcc_changed=new_bcc != list(draft.bcc),
        preview_changed=new_preview != draft.preview_text,
    )
    edit = None
    if metrics.changed:
        edit = DraftEdit.objects.create(
            draft=draft,
            editor=user,
            subject_before=draft.subject,
            subject_after=new_subject,
            preview_text_before=draft.preview_text,
            preview_text_after=new_preview,
            body_before=draft.body_text,
            body_after=new_body,
            char_distance=metrics.char_distance,
            normalized_similarity=metrics.normalized_similarity,
            word_distance=metrics.word_distance,
            changed_parts=metrics.changed_parts,
        )
        if new_body != draft.body_text:
            # The reviewer's own links are theirs to approve; the allow-list still limits tags and schemes.
            draft.body_html = sanitize.text_to_html(new_body, sanitize.links_in([new_body]))
        if {"subject", "preview_text", "body"} & set(metrics.changed_parts):
            draft.subject, draft.preview_text, draft.body_text = new_subject, new_preview, new_body
            DraftVersion.objects.create(
                draft=draft,
                number=_next_version_number(draft),
                origin=DraftVersion.Origin.EDITED,
                subject=new_subject,
                preview_text=new_preview,
                body_html=draft.body_html,
                body_text=new_body,
                created_by=user,
            )
        draft.cc, draft.bcc = new_cc, new_bcc
    decision = DraftDecision.objects.create(
        draft=draft,
        action=DraftDecision.Action.EDIT_APPROVE if edit else DraftDecision.Action.APPROVE,
        user=user,
        via=via,
    )
    draft.outbound_message = outbound_message_from_draft(draft=draft, approved_by=user)
    draft.state = Draft.State.APPROVED
    draft.decided_at = timezone.now()
    draft.decided_by = user
    draft.version += 1
    draft.save(
        update_fields=[
            "subject",
            "preview_text",
            "body_text",
            "body_html",
            "cc",
            "bcc",
            "state",
            "decided_at",
            "decided_by",
            "version",
            "outbound_message",
            "updated_at",
        ]
    )
    _decided(draft, decision, edit)
    return draft


UNDO_GRACE_SECONDS = 3  # the click left the browser in time; the request may take a moment longer


@transaction.atomic
def draft_undo_approve(*, draft: Draft, user, expected_version: int, via: str = "web") -> Draft:
    """Take back your own approval while the email is still held (APPROVE_UNDO_SECONDS): the
    outbox row ends as undone, the draft is ready for review again, and the decision is recorded."""
    if not settings.APPROVE_UNDO_SECONDS:
        raise ApplicationError("Undo is turned off here (APPROVE_UNDO_SECONDS is 0).")
    draft = _lock(draft, expected_version=expected_version, states=[Draft.State.APPROVED])
    if draft.decided_by_id != user.pk:
        raise ApplicationError("Only the person who approved this email can undo it.")
    deadline = (draft.decided_at or timezone.now()) + timedelta(
        seconds=settings.APPROVE_UNDO_SECONDS + UNDO_GRACE_SECONDS
    )
    if timezone.now() > deadline or draft.outbound_message_id is None:
        raise ApplicationError("Too late to undo: the email has left the hold and is on its way.")
    outbound_message_cancel_held(
        message_id=draft.outbound_message_id, actor=user, note=f"approval undone by {user} before sending"
    )
    decision = DraftDecision.objects.create(draft=draft, action=DraftDecision.Action.UNDO_APPROVE, user=user, via=via)
    # The approval it takes back no longer counts as one (edit analytics, the export).
    approval = (
        draft.decisions.filter(
            action__in=[DraftDecision.Action.APPROVE, DraftDecision.Action.EDIT_APPROVE], undone_at__isnull=True
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    if approval is not None:
        approval.undone_at = decision.created_at
        approval.save(update_fields=["undone_at"])
    draft.state = Draft.State.READY
    draft.outbound_message = None
    draft.decided_at = None
    draft.decided_by = None
    draft.version += 1
    draft.save(update_fields=["state", "outbound_message", "decided_at", "decided_by", "version", "updated_at"])
    _decided(draft, decision)
    return draft


@transaction.atomic
def draft_reject(*, draft: Draft, user, expected_version: int, reason: str, note: str = "", via: str = "web") -> Draft:
    """Reject with a reason; "do not contact this person" also suppresses the recipient."""

    if reason not in RejectReason.values:
        raise ApplicationError("Pick a reason for rejecting.")
    draft = _lock(draft, expected_version=expected_version, states=[Draft.State.READY, Draft.State.FAILED])
    note = note.strip()
    decision = DraftDecision.objects.create(
        draft=draft, action=DraftDecision.Action.REJECT, user=user, reason=reason, note=note, via=via
    )
    if reason == RejectReason.DO_NOT_CONTACT:
        suppression_add(
            kind=Suppression.Kind.RECIPIENT,
            value=str(draft.recipient_id),
            reason=Suppression.Reason.DO_NOT_CONTACT,
            note=note or f"Rejected draft #{draft.pk}: do not contact this person",
            source=f"review: draft #{draft.pk} rejected by {user}",
            added_by=user,
        )
    draft.state = Draft.State.REJECTED
    draft.decided_at = timezone.now()
    draft.decided_by = user
    draft.version += 1
    draft.save(update_fields=["state", "decided_at", "decided_by", "version", "updated_at"])
    _decided(draft, decision)
    return draft


@transaction.atomic
def draft_regenerate(*, draft: Draft, user, expected_version: int, instruction: str, via: str = "web") -> Draft:
    """Ask for a new version with an instruction ("shorter"); the current text stays in DraftVersion."""
    instruction = instruction.strip()
    if not instruction:
        raise ApplicationError("Say what to change, e.g. “shorter” or “mention the webinar”.")
    draft = _lock(draft, expected_version=expected_version, states=[Draft.State.READY, Draft.State.FAILED])
    decision = DraftDecision.objects.create(
        draft=draft, action=DraftDecision.Action.REGENERATE, user=user, note=instruction[:2000], via=via
    )
    draft.instruction = instruction[:2000]
    draft.state = Draft.State.QUEUED
    draft.failure_reason = ""
    draft.version += 1
    draft.save(update_fields=["instruction", "state", "failure_reason", "version", "updated_at"])
    pk = draft.pk
    transaction.on_commit(lambda: _enqueue_generation(pk))
    _decided(draft, decision)
    return draft


@transaction.atomic
def draft_retry(*, draft: Draft, user, expected_version: int | None = None, via: str = "web") -> Draft:
    """Queue a failed draft again."""
    version = draft.version if expected_version is None else expected_version
    draft = _lock(draft, expected_version=version, states=[Draft.State.FAILED])
    decision = DraftDecision.objects.create(draft=draft, action=DraftDecision.Action.RETRY, user=user, via=via)
    draft.state = Draft.State.QUEUED
    draft.version += 1
    draft.save(update_fields=["state", "version", "updated_at"])
    pk = draft.pk
    transaction.on_commit(lambda: _enqueue_generation(pk))
    _decided(draft, decision)
    return draft


@transaction.atomic
def draft_keep_untrusted(*, draft: Draft, user, expected_version: int, text: str, via: str = "web") -> Draft:
    """The reviewer keeps one withheld claim (a link, address, phone number, price, discount or
    deadline only an untrusted source contains): its sentence goes back into the text, still
    flagged, and the choice is recorded as a decision. Nothing else in the text changes."""
    draft = _lock(draft, expected_version=expected_version, states=[Draft.State.READY])
    key = kept_key(text)
    item = next((w for w in draft.withheld or [] if kept_key(str(w.get("text", ""))) == key), None)
    if item is None or not draft.unfiltered:
        raise ApplicationError("Nothing with that text was withheld from this draft.")
    now = timezone.now()
    draft.kept_untrusted = [
        *(draft.kept_untrusted or []),
        {"text": item["text"], "by": user.get_username(), "at": now.isoformat()},
    ]
    request = draft_compose_request(draft=draft)
    try:
        grounded = ground(
            request,
            subject=str(draft.unfiltered.get("subject", draft.subject)),
            preview_text=str(draft.unfiltered.get("preview_text", draft.preview_text)),
            body_text=str(draft.unfiltered.get("body_text", draft.body_text)),
        )
    except DraftingError as exc:
        raise ApplicationError(exc.reason) from exc
    draft.subject, draft.preview_text = grounded.subject, grounded.preview_text
    draft.body_text, draft.body_html = grounded.body_text, grounded.body_html
    draft.grounding = [dict(c) for c in grounded.claims]
    draft.unsupported_claim_count = sum(1 for c in grounded.claims if not c["supported"])
    draft.withheld = [dict(w) for w in grounded.withheld]
    decision = DraftDecision.objects.create(
        draft=draft, action=DraftDecision.Action.KEEP_UNTRUSTED, user=user, note=item["text"][:2000], via=via
    )
    draft.version += 1
    draft.save()
    DraftVersion.objects.create(
        draft=draft,
        number=_next_version_number(draft),
        origin=DraftVersion.Origin.KEPT,
        subject=draft.subject,
        preview_text=draft.preview_text,
        body_html=draft.body_html,
        body_text=draft.body_text,
        created_by=user,
    )
    _decided(draft, decision)
    return draft


def draft_skip(*, draft: Draft, user, via: str = "web") -> DraftDecision:
    """Record "skip for now"; the view keeps skipped ids in the session so the next draft shows."""
    decision = DraftDecision.objects.create(draft=draft, action=DraftDecision.Action.SKIP, user=user, via=via)
    _decided(draft, decision)
    return decision


# --- One-to-one emails (the API's send node) -----------------------------------------------------


@dataclass(frozen=True)
class OneToOneSkip:
    """A one-to-one email that was not drafted, with the send result's code."""

    code: str
    reason: str


@transaction.atomic
def one_to_one_request(
    *,
    recipient: Recipient,
    sender,
    prompt: str = "",
    subject: str = "",
    text: str = "",
    html: str = "",
    preview_text: str = "",
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    complete_on_send_failure: bool = True,
) -> Draft | OneToOneSkip:
    """One email to one contact from one inbox, as a one-to-one send tool asks for it: written by
    the drafting engine from `prompt`, or given as content (subject and text or HTML). Either way it
    becomes a draft in the sender's review queue, never a message: the person still approves it.
    A suppressed contact gets no draft but a skipped result with its code."""
    hit = suppression_check(recipient=recipient)
    if hit is not None:
        code = "user_marketing_email_opt_out" if hit.reason == "unsubscribed" else "suppressed"
        _skip(recipient=recipient, origin=Origin(), row=None, code=code, reason=hit.describe()).save()
        return OneToOneSkip(code=code, reason=hit.describe())
    prompt = (prompt or "").strip()
    if bool(prompt) == bool((text or "").strip() or (html or "").strip()):
        raise ApplicationError("Give either a prompt or content (a subject with text or HTML).")
    if not prompt and not (subject or "").strip():
        raise ApplicationError("Content needs a subject.")
    draft = draft_request(
        recipient=recipient,
        sender=sender,
        brief=Brief(step_prompt=prompt, step_subject=(subject or "").strip()),
        rules=SendRules(complete_on_send_failure=complete_on_send_failure),
        cc=list(cc),
        bcc=list(bcc),
    )
    if draft is None:  # suppressed between the check above and the request (draft_request logged it)
        return OneToOneSkip(code="suppressed", reason="suppressed")
    if prompt:
        return draft
    body_text = sanitize.clean_body_text(text or sanitize.strip_tags(html))
    body_html = sanitize.clean_body_html(html) if (html or "").strip() else sanitize.text_to_html(body_text)
    draft = draft_ready_from_text(
        draft=draft, subject=subject, body_text=body_text, body_html=body_html, provider="api", model_name="one-to-one"
    )
    if preview_text.strip():
        Draft.objects.filter(pk=draft.pk).update(preview_text=sanitize.clean_subject(preview_text))
        draft.refresh_from_db()
    return draft
