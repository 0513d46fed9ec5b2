"""Writes on drafts: request, generate (the task), decide (approve, edit, reject, regenerate, retry, skip)."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from outreach.core.errors import ApplicationError
from outreach.core.normalize import normalize_email
from outreach.core.tasks import pending_task_names, task_enqueue
from outreach.drafting import (
    BatchItem,
    DraftingError,
    DraftRequest,
    EditExample,
    Intent,
    Persona,
    StyleExample,
    ThreadMessage,
    batch_requests,
    compose,
    compose_from_raw,
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
from .models import (
    Draft,
    DraftBatch,
    DraftDecision,
    DraftEdit,
    DraftOrigin,
    DraftSkip,
    DraftVersion,
    RejectReason,
    ReviewerSettings,
)
from .providers import configured_batch_provider, configured_provider
from .selectors import drafts_visible_to
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


# Draft ids requested inside drafts_gathered(), per thread (each request or task is one thread).
_gathering = threading.local()


@contextmanager
def drafts_gathered() -> Iterator[None]:
    """Drafts requested inside the block are handed to drafting together when it ends, once what
    requested them has committed: more than DRAFT_BATCH_THRESHOLD go to Message Batches, fewer get
    one task each (`drafts_dispatch`). A campaign's launch and the scan of due steps use it; a bulk
    request does the same by itself. Nested blocks gather into the outermost."""
    if getattr(_gathering, "ids", None) is not None:
        yield
        return
    ids: list[int] = []
    _gathering.ids = ids
    try:
        yield
    finally:
        _gathering.ids = None
        # Runs after the on-commit hooks that filled `ids` (they were registered first), or at once
        # when no transaction is open; discarded with a transaction that rolls back.
        transaction.on_commit(lambda: drafts_dispatch(draft_ids=ids))


def _enqueue_on_commit(draft_id: int) -> None:
    ids = getattr(_gathering, "ids", None)
    if ids is None:
        transaction.on_commit(lambda: _enqueue_generation(draft_id))
    else:
        transaction.on_commit(lambda: ids.append(draft_id))


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
    _enqueue_on_commit(draft.pk)
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
    transaction.on_commit(lambda: drafts_dispatch(draft_ids=ids))
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


def recipient_facts(recipient: Recipient) -> list[dict]:
    """The facts the drafting engine gets about a recipient (campaigns' entry prompt judges them)."""
    return _recipient_facts(recipient)


def _intent(brief: Brief, *, in_campaign: bool) -> Intent:
    step_prompt = brief.step_prompt.strip()
    if not in_campaign:
        return Intent(goal=step_prompt or "A personal one-to-one note", key_message=step_prompt, call_to_action="")
    goal = brief.goal
    if step_prompt:
        goal = f"{goal}\nThis email: {step_prompt}" if goal else step_prompt
    return Intent(
        goal=goal,
        key_message=brief.key_message,
        call_to_action=brief.call_to_action,
        trigger_reason=brief.why_now,
        campaign=brief.campaign,
        audience=brief.audience,
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


# The sender's approved emails given as style examples: how many, approved before the start of
# the current hour (so a campaign's prefix stays byte-identical while its drafts are written, even
# as the sender approves others, and the prompt cache is read rather than rewritten).
STYLE_EXAMPLES = 5


def _style_examples(*, sender) -> list[StyleExample]:
    """The sender's own most recently approved emails, most recent first: only emails this sender
    sent (never another rep's, whatever the sender may see), approved before this hour began."""
    cutoff = timezone.now().replace(minute=0, second=0, microsecond=0)
    approved = (
        drafts_visible_to(sender)
        .filter(sender_id=sender.pk, state=Draft.State.APPROVED, decided_at__lt=cutoff)
        .exclude(body_text="")
        .order_by("-decided_at", "-id")
        .values_list("subject", "body_text")[:STYLE_EXAMPLES]
    )
    return [StyleExample(subject=subject, body=body) for subject, body in approved]


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
        style_examples=_style_examples(sender=sender),
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

    return _store_result(
        draft_id,
        request,
        result,
        # Re-checked under the lock: the sweep may have handed an overdue draft to another worker.
        still_ours=lambda d: d.state == Draft.State.DRAFTING and d.drafting_started_at == claimed_at,
    )


def _store_result(
    draft_id: int, request: DraftRequest, result: Any, *, still_ours: Callable[[Draft], bool]
) -> Draft | None:
    """Store a written draft (a single call's or a batch's): ready for review, with a version. The
    same path for both, so a batch result is sanitized, grounded and priced like a single call."""
    with transaction.atomic():
        draft = Draft.objects.select_for_update().get(pk=draft_id)
        if not still_ours(draft):
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
        draft.cache_read_tokens = result.cache_read_tokens
        draft.cache_write_tokens = result.cache_write_tokens
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


# --- Bulk drafting through Message Batches ------------------------------------------------------
#
# More than DRAFT_BATCH_THRESHOLD drafts requested together (a launch, a scan, a bulk request) go to
# the Anthropic Message Batches API at half the price: the drafts are claimed (drafting, with their
# DraftBatch) when the request commits, a task submits them, a schedule polls the batch and stores
# each result through the same path as a single call. Rows are the truth: a worker killed at any
# point leaves a batch row that the poller picks up, and a result is stored only on a draft still
# drafting in that batch at the version it was sent with, so nothing is written twice. Requests
# that errored, expired or were canceled are drafted again by single calls.

# A worker submitting a batch or storing its results holds it this long.
BATCH_LEASE = timedelta(minutes=10)
# Drafts per Message Batch (the API takes up to 100,000 requests or 256 MB).
BATCH_MAX_REQUESTS = 5000
_CUSTOM_ID = re.compile(r"^draft-(\d+)-v(\d+)$")


def _custom_id(draft: Draft) -> str:
    """Stable per draft and version: a result is stored only on the draft as it was sent."""
    return f"draft-{draft.pk}-v{draft.version}"


def batches_enabled() -> bool:
    """Batches need the Anthropic provider (the offline writer has none) and a threshold above 0."""
    if settings.DRAFT_BATCH_THRESHOLD <= 0 or settings.DRAFTING_PROVIDER != "anthropic":
        return False
    try:
        configured_batch_provider()
    except DraftingError:  # no API key: the single calls record why
        return False
    return True


def drafts_dispatch(*, draft_ids: Sequence[int]) -> list[DraftBatch]:
    """Hand requested drafts to drafting: more than DRAFT_BATCH_THRESHOLD go to Message Batches
    (the drafts still queued are claimed), fewer get one task each."""
    ids = list(dict.fromkeys(draft_ids))
    if len(ids) > settings.DRAFT_BATCH_THRESHOLD and batches_enabled():
        made = []
        for start in range(0, len(ids), BATCH_MAX_REQUESTS):
            batch = draft_batch_create(draft_ids=ids[start : start + BATCH_MAX_REQUESTS])
            if batch is not None:
                made.append(batch)
        return made
    for pk in ids:
        _enqueue_generation(pk)
    return []


@transaction.atomic
def draft_batch_create(*, draft_ids: Sequence[int]) -> DraftBatch | None:
    """Claim the drafts still queued (queued -> drafting in this batch) and submit them on commit."""
    now = timezone.now()
    batch = DraftBatch.objects.create(model_name=str(settings.ANTHROPIC_MODEL)[:100])
    claimed = Draft.objects.filter(pk__in=list(draft_ids), state=Draft.State.QUEUED).update(
        state=Draft.State.DRAFTING,
        batch=batch,
        drafting_started_at=now,
        attempts=F("attempts") + 1,
        failure_reason="",
        updated_at=now,
    )
    if not claimed:
        batch.delete()
        return None
    batch.request_count = batch.processing_count = claimed
    batch.save(update_fields=["request_count", "processing_count"])
    pk = batch.pk
    transaction.on_commit(
        lambda: task_enqueue("review.tasks.draft_batch_submit", pk, task_name=f"draft-batch-{pk}", group="drafting")
    )
    return batch


def _batch_lease(batch_id: int, state: str, now) -> bool:
    """Take the batch for this worker (a conditional UPDATE): only one submits or stores at a time."""
    return bool(
        DraftBatch.objects.filter(pk=batch_id, state=state)
        .filter(Q(busy_until__isnull=True) | Q(busy_until__lt=now))
        .update(busy_until=now + BATCH_LEASE)
    )


def _to_single_calls(draft_ids: Sequence[int], *, batch_id: int, reason: str) -> int:
    """Drafts of a batch that will not get a usable result are queued again for single calls."""
    ids = list(
        Draft.objects.filter(pk__in=list(draft_ids), batch_id=batch_id, state=Draft.State.DRAFTING).values_list(
            "pk", flat=True
        )
    )
    if not ids:
        return 0
    moved = Draft.objects.filter(pk__in=ids, batch_id=batch_id, state=Draft.State.DRAFTING).update(
        state=Draft.State.QUEUED,
        batch=None,
        drafting_started_at=None,
        failure_reason=f"{reason}; drafted by a single call"[:2000],
        updated_at=timezone.now(),
    )
    DraftBatch.objects.filter(pk=batch_id).update(fallback_count=F("fallback_count") + moved)

    def enqueue() -> None:
        for pk in ids:
            _enqueue_generation(pk)

    transaction.on_commit(enqueue)
    return moved


def _batch_fail(batch_id: int, reason: str, now) -> None:
    with transaction.atomic():
        ids = Draft.objects.filter(batch_id=batch_id, state=Draft.State.DRAFTING).values_list("pk", flat=True)
        _to_single_calls(list(ids), batch_id=batch_id, reason=reason)
        DraftBatch.objects.filter(pk=batch_id).update(
            state=DraftBatch.State.FAILED, failure_reason=reason[:2000], ended_at=now, busy_until=None
        )


def draft_batch_submit(*, batch_id: int, provider=None, now=None) -> DraftBatch | None:
    """Send a prepared batch's drafts to the API, one request per draft (custom_id draft-<id>-v<version>).
    Safe to run twice: only the worker that takes the lease submits. A refused submission hands
    the drafts to single calls (they record their own errors)."""
    now = now or timezone.now()
    if not _batch_lease(batch_id, DraftBatch.State.PREPARING, now):
        return None
    drafts = list(
        Draft.objects.filter(batch_id=batch_id, state=Draft.State.DRAFTING).select_related(
            "recipient__account", "sender__sender"
        )
    )
    if not drafts:
        DraftBatch.objects.filter(pk=batch_id).update(state=DraftBatch.State.ENDED, ended_at=now, busy_until=None)
        return None
    items = [(_custom_id(d), draft_compose_request(draft=d)) for d in drafts]
    try:
        status = batch_requests(items, provider or configured_batch_provider())
    except DraftingError as exc:
        log.warning("batch %s not submitted: %s", batch_id, exc.reason)
        _batch_fail(batch_id, f"batch not submitted: {exc.reason}", now)
        return None
    DraftBatch.objects.filter(pk=batch_id).update(
        state=DraftBatch.State.SUBMITTED,
        provider_batch_id=status.id[:100],
        request_count=len(items),
        processing_count=status.counts.get("processing", len(items)),
        submitted_at=now,
        checked_at=now,
        busy_until=None,
    )
    return DraftBatch.objects.get(pk=batch_id)


def draft_batch_check(*, batch_id: int, provider=None, now=None) -> DraftBatch | None:
    """Ask the API how a submitted batch is doing; once it ended, store each result on its draft
    and hand the others to single calls. Safe to run twice and to resume after a killed worker."""
    now = now or timezone.now()
    if not _batch_lease(batch_id, DraftBatch.State.SUBMITTED, now):
        return None
    batch = DraftBatch.objects.get(pk=batch_id)
    try:
        provider = provider or configured_batch_provider()
        status = provider.batch_status(batch.provider_batch_id)
    except DraftingError as exc:
        if exc.retryable:
            DraftBatch.objects.filter(pk=batch_id).update(busy_until=None)
            return batch
        _batch_fail(batch_id, f"batch lost: {exc.reason}", now)
        return DraftBatch.objects.get(pk=batch_id)
    counts = status.counts
    DraftBatch.objects.filter(pk=batch_id).update(
        processing_count=counts.get("processing", 0),
        succeeded_count=counts.get("succeeded", 0),
        errored_count=counts.get("errored", 0),
        expired_count=counts.get("expired", 0),
        canceled_count=counts.get("canceled", 0),
        checked_at=now,
    )
    if not status.ended:
        DraftBatch.objects.filter(pk=batch_id).update(busy_until=None)
        return DraftBatch.objects.get(pk=batch_id)
    try:
        for item in provider.batch_results(batch.provider_batch_id):
            _batch_item_store(batch=batch, item=item, provider=provider)
    except DraftingError as exc:
        # The results stream broke: what was stored stays; the next poll resumes.
        log.warning("batch %s results interrupted: %s", batch_id, exc.reason)
        DraftBatch.objects.filter(pk=batch_id).update(busy_until=None)
        return DraftBatch.objects.get(pk=batch_id)
    with transaction.atomic():
        left = Draft.objects.filter(batch_id=batch_id, state=Draft.State.DRAFTING).values_list("pk", flat=True)
        _to_single_calls(list(left), batch_id=batch_id, reason="no result in the batch")
        DraftBatch.objects.filter(pk=batch_id).update(
            state=DraftBatch.State.ENDED, ended_at=status.ended_at or now, busy_until=None
        )
    return DraftBatch.objects.get(pk=batch_id)


def _batch_item_store(*, batch: DraftBatch, item: BatchItem, provider) -> None:
    """One result: stored on its draft if the draft still waits for it in this batch at that
    version (else ignored: already written, superseded or handed back)."""
    match = _CUSTOM_ID.match(item.custom_id)
    if match is None:
        return
    draft_id, version = int(match[1]), int(match[2])

    def still_ours(d: Draft) -> bool:
        return d.state == Draft.State.DRAFTING and d.batch_id == batch.pk and d.version == version

    draft = Draft.objects.select_related("recipient__account", "sender__sender").filter(pk=draft_id).first()
    if draft is None or not still_ours(draft):
        return
    if item.raw is None and item.outcome == "succeeded" and not item.retryable:
        # The model answered and the answer is final (a refusal): a single call would not differ.
        with transaction.atomic():
            updated = Draft.objects.filter(
                pk=draft_id, batch_id=batch.pk, version=version, state=Draft.State.DRAFTING
            ).update(
                state=Draft.State.FAILED,
                failure_reason=f"{item.error} (not retryable)"[:2000],
                drafting_started_at=None,
                updated_at=timezone.now(),
            )
            DraftBatch.objects.filter(pk=batch.pk).update(stored_count=F("stored_count") + updated)
        return
    if item.raw is None:
        with transaction.atomic():
            _to_single_calls([draft_id], batch_id=batch.pk, reason=item.error or f"batch request {item.outcome}")
        return
    request = draft_compose_request(draft=draft)
    try:
        result = compose_from_raw(request, item.raw, provider)
    except DraftingError as exc:
        with transaction.atomic():
            _to_single_calls([draft_id], batch_id=batch.pk, reason=exc.reason)
        return
    with transaction.atomic():
        if _store_result(draft_id, request, result, still_ours=still_ours) is not None:
            DraftBatch.objects.filter(pk=batch.pk).update(stored_count=F("stored_count") + 1)


def draft_batch_cancel(*, batch: DraftBatch, provider=None) -> DraftBatch:
    """Ask the API to cancel a submitted batch; its canceled requests come back (at the next poll)
    as single calls, the ones already done are stored as usual."""
    if batch.state != DraftBatch.State.SUBMITTED:
        raise ApplicationError("Only a submitted batch can be canceled.")
    try:
        (provider or configured_batch_provider()).batch_cancel(batch.provider_batch_id)
    except DraftingError as exc:
        raise ApplicationError(f"The batch could not be canceled: {exc.reason}") from exc
    return batch


def draft_batches_poll(*, now=None, provider=None) -> dict[str, int]:
    """The schedule (every minute): submit prepared batches whose task was lost or whose submitter
    died, check every submitted batch, store the results of those that ended."""
    now = now or timezone.now()
    free = Q(busy_until__isnull=True) | Q(busy_until__lt=now)
    out = {"submitted": 0, "checked": 0, "ended": 0}
    preparing = DraftBatch.objects.filter(free, state=DraftBatch.State.PREPARING, created_at__lt=now - LOST_TASK_AFTER)
    for pk in preparing.values_list("pk", flat=True):
        if draft_batch_submit(batch_id=pk, provider=provider, now=now) is not None:
            out["submitted"] += 1
    for pk in DraftBatch.objects.filter(free, state=DraftBatch.State.SUBMITTED).values_list("pk", flat=True):
        batch = draft_batch_check(batch_id=pk, provider=provider, now=now)
        if batch is not None:
            out["checked"] += 1
            out["ended"] += batch.state == DraftBatch.State.ENDED
    return out


def draft_sweep_stale(*, now=None) -> dict[str, int]:
    """Rows are the truth: return drafts whose worker died (drafting past the lease) to the queue,
    fail those that died too often, and re-enqueue queued drafts whose task was lost."""
    now = now or timezone.now()
    # A draft drafting in a batch waits for its batch (up to 24 h): the batch poller answers for it.
    stale = Draft.objects.filter(
        state=Draft.State.DRAFTING, batch__isnull=True, drafting_started_at__lt=now - DRAFTING_LEASE
    )
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
    """Names of drafting tasks waiting in the broker (ORM or Redis); None when it cannot be read."""
    return pending_task_names()


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
    only_if_grounded: bool = False,
    note: str = "",
) -> Draft:
    """Approve the exact text (optionally edited) and create its outbound message, in one transaction.
    A text left as None stays as drafted; the preview text may be emptied. `only_if_grounded`
    (bulk approval) refuses a draft with unsupported claims, judged on the locked row."""

    draft = _lock(draft, expected_version=expected_version, states=[Draft.State.READY])
    if only_if_grounded and draft.unsupported_claim_count:
        n = draft.unsupported_claim_count
        raise ApplicationError(
            f"it has {n} unsupported claim{'s' if n != 1 else ''}: open it and approve it on its own."
        )
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
        note=note,
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


BULK_APPROVE_MAX = 50  # one page of the queue


@dataclass
class BulkApproval:
    approved: list[Draft] = field(default_factory=list)
    refused: list[tuple[Draft, str]] = field(default_factory=list)  # the draft and why, in words


def drafts_approve_selected(*, selected: Sequence[tuple[Draft, int]], user, via: str = "web") -> BulkApproval:
    """Approve drafts a person explicitly selected, each at the version they saw, one by one through
    `draft_approve` (its own transaction: suppression, the undo hold, the decision and its event
    apply to each as to a single approval). A draft with unsupported claims, or one that changed or
    was decided meanwhile, is refused with the reason and the others still go ahead."""
    if len(selected) > BULK_APPROVE_MAX:
        raise ApplicationError(f"Select at most {BULK_APPROVE_MAX} drafts at a time.")
    result = BulkApproval()
    note = f"bulk approval of {len(selected)} selected draft{'s' if len(selected) != 1 else ''}"
    for draft, version in selected:
        try:
            approved = draft_approve(
                draft=draft, user=user, expected_version=version, via=via, only_if_grounded=True, note=note
            )
        except ApplicationError as exc:
            result.refused.append((draft, exc.message))
        else:
            result.approved.append(approved)
    return result


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


# --- A reviewer's own settings -------------------------------------------------------------------


def reviewer_settings_update(*, user, single_key_shortcuts: bool) -> ReviewerSettings:
    """Store the user's choice on the server: the queue honours it in every browser they use."""
    row, _ = ReviewerSettings.objects.update_or_create(
        user=user, defaults={"single_key_shortcuts": bool(single_key_shortcuts)}
    )
    return row


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
