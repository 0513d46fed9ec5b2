"""The campaigns app's REST routes: sequences and enrollments, in the shapes follow-up sequence
APIs use. Thin: parse, check scope and permission, call campaigns.sequences / services."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator

from outreach.core.errors import ApplicationError
from outreach.core.normalize import normalize_email
from outreach.integrations.api_support import (
    ERRORS,
    ApiError,
    AutomationId,
    AutomationRef,
    ContactId,
    ContactRef,
    DraftRef,
    EnrollmentId,
    EnrollmentRef,
    InboxId,
    InboxRef,
    RuleId,
    RuleRef,
    SequenceId,
    SequenceRef,
    StepRef,
    filter_given,
    idempotent,
    named_enum,
    paginate,
    public_id,
    require_perm,
    token_auth,
    username,
)
from outreach.integrations.models import ApiToken
from outreach.people.models import Recipient, SenderProfile
from outreach.people.selectors import inboxes_sendable_by, recipients_visible_to
from outreach.people.services import contacts
from review.models import Draft

from . import selectors, services
from .display import rule_words
from .models import Campaign, Enrollment, LabelAutomation, MilestoneRule, SequenceStep
from .services import automations, milestones, sequences

router = Router()
Scope = ApiToken.Scope
EnrollmentState = Annotated[Enrollment.State, named_enum(Enrollment.State, "EnrollmentState")]
SequenceTrigger = Annotated[Campaign.Trigger, named_enum(Campaign.Trigger, "SequenceTrigger")]
SequenceStatus = Annotated[Campaign.Status, named_enum(Campaign.Status, "SequenceStatus")]
# Output fields: the schema names the values, the stored text is answered as it is.
EnrollmentStateOut = Annotated[str, named_enum(Enrollment.State, "EnrollmentState")]
EnrollmentKind = Annotated[str, named_enum(Enrollment.Kind, "EnrollmentKind")]
SequenceTriggerOut = Annotated[str, named_enum(Campaign.Trigger, "SequenceTrigger")]
SequenceStatusOut = Annotated[str, named_enum(Campaign.Status, "SequenceStatus")]
DraftStateOut = Annotated[str, named_enum(Draft.State, "DraftState")]
# A history entry's states; empty where the entry changed none (a note, a judged exit condition).
HistoryState = Annotated[str, named_enum(["", *Enrollment.State.values], "EnrollmentHistoryState")]
Limit = Annotated[int, Field(ge=1, le=200)]
Text = Annotated[str, StringConstraints(max_length=20000)]


# --- Schemas ------------------------------------------------------------------------------------


Address = Annotated[str, StringConstraints(min_length=3, max_length=254)]


class EmailStepIn(Schema):
    """A fixed email (`body`, with {{ variables }}) or a prompt for the drafting engine."""

    delay_days: int = Field(0, ge=0, le=365, description="Days after the previous send.")
    subject: Annotated[str, StringConstraints(max_length=300)] = ""
    body: Text | None = None
    prompt: Text | None = None
    cc: list[Address] = Field(
        default_factory=list, max_length=20, description="Copied on this email (team addresses are fine)."
    )
    bcc: list[Address] = Field(
        default_factory=list,
        max_length=20,
        description="Blind-copied; a suppressed CC or BCC address is dropped at send time, with a note on the message.",
    )

    @model_validator(mode="after")
    def _body_or_prompt(self):
        if bool((self.body or "").strip()) == bool((self.prompt or "").strip()):
            raise ValueError("give either a body or a prompt")
        return self


class SequenceIn(Schema):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    sender_inbox_id: InboxId | None = Field(
        None,
        description=(
            "The inbox (inb_…) every enrollment is sent from. Left out, each enrollment chooses with its "
            "inbox_id (default: the contact's owner)."
        ),
    )
    exit_on_reply: bool = True
    pause_on_out_of_office: bool = Field(
        False,
        description=(
            "An out-of-office auto-reply that gives a return date holds the next email until that day (in the "
            "contact's time zone), recorded in the enrollment's history. Off: an out-of-office changes nothing. "
            "Auto-replies never count as replies either way."
        ),
    )
    emails: list[EmailStepIn] = Field(..., min_length=1, max_length=20)
    exit_condition_prompt: Annotated[str, StringConstraints(max_length=2000)] = ""
    entry_prompt: Annotated[str, StringConstraints(max_length=2000)] = Field(
        "",
        description=(
            "When (and when not) to use this sequence: judged for each contact on their facts before the first "
            "draft — send now, not now (asked again at the next hourly scan) or never, the reason logged as a skip."
        ),
    )
    cc: list[Address] = Field(
        default_factory=list,
        max_length=20,
        description="Copied on every email of the sequence, before each email's own cc (team addresses are fine).",
    )
    bcc: list[Address] = Field(
        default_factory=list,
        max_length=20,
        description="Blind-copied on every email; a suppressed address is dropped at send time, with a note.",
    )
    set_properties: dict[str, Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=dict,
        max_length=10,
        description=(
            "Set on the contact after each successful send: name -> value, with {{ send_date }}, {{ send_time }}, "
            '{{ subject }} or {{ sender_email }} filled in, e.g. {"last_renewal_outreach": "{{ send_date }}"}.'
        ),
    )


class StepOut(Schema):
    position: int
    delay_days: int
    subject: str
    body: str
    prompt: str
    cc: list[str]
    bcc: list[str]


class SequenceOut(Schema):
    id: SequenceRef
    name: str
    status: SequenceStatusOut
    trigger: SequenceTriggerOut
    sender_inbox_id: InboxRef | None
    exit_on_reply: bool
    pause_on_out_of_office: bool
    exit_condition_prompt: str
    entry_prompt: str
    cc: list[str]
    bcc: list[str]
    set_properties: dict[str, str]
    emails: list[StepOut]
    created_at: datetime

    @staticmethod
    def resolve_sender_inbox_id(obj: Campaign) -> int | None:
        profile = getattr(obj.named_sender, "sender", None) if obj.named_sender_id else None
        return profile.pk if profile else None

    @staticmethod
    def resolve_emails(obj: Campaign) -> list[SequenceStep]:
        return [s for s in obj.steps.all() if s.enrollment_id is None]


class SequencePage(Schema):
    items: list[SequenceOut]
    next_cursor: str | None


class RecipientIn(Schema):
    model_config = ConfigDict(extra="forbid")

    contact_id: ContactId | None = None
    email: Annotated[str, StringConstraints(min_length=3, max_length=254)] | None = None
    full_name: Annotated[str, StringConstraints(max_length=200)] | None = None

    @model_validator(mode="after")
    def _one_way(self):
        if (self.contact_id is None) == (self.email is None):
            raise ValueError("give either contact_id or email")
        return self


class SourceIn(Schema):
    """The message or event that started it; prompts can draw on it."""

    type: Annotated[str, StringConstraints(max_length=50)] = Field(
        "", description="What started it, as the outside system names it (the documented examples: email)."
    )
    message_id: Annotated[str, StringConstraints(max_length=300)] = ""
    thread_id: Annotated[str, StringConstraints(max_length=300)] = ""
    subject: Annotated[str, StringConstraints(max_length=300)] = ""
    from_address: Annotated[str, StringConstraints(max_length=254)] = ""
    body_text: Annotated[str, StringConstraints(max_length=20000)] = ""
    sent_at: Annotated[str, StringConstraints(max_length=40)] = ""


class TriggerIn(Schema):
    """An outside automation's enrollment: enrolled once per occurrence_key."""

    automation: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    occurrence_key: Annotated[str, StringConstraints(min_length=1, max_length=150)]


class EnrollmentIn(Schema):
    inbox_id: InboxId | None = Field(
        None,
        description=(
            "The inbox (inb_…) the emails are sent from: its team member sends and reviews them. You must be "
            "allowed to send from it (403). With a sequence that names its sender_inbox_id, it must be that one "
            "(422); left out, the sequence's sender (or, ad hoc, the contact's owner) sends."
        ),
    )
    sequence_id: SequenceId | None = Field(None, description="Template enrollment: the sequence (campaign) to follow.")
    recipient: RecipientIn
    emails: list[EmailStepIn] | None = Field(
        None, min_length=1, max_length=20, description="Ad hoc: steps for this recipient only."
    )
    exit_on_reply: bool | None = None
    sender_inbox_id: InboxId | None = Field(
        None, description="The older name of inbox_id (both may be given only when they agree)."
    )
    trigger: TriggerIn | None = None
    source: SourceIn | None = None


class EnrollmentPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    action: Literal["cancel"]
    reason: Annotated[str, StringConstraints(max_length=2000)] = ""


class EnrollmentSourceOut(BaseModel):
    """What started the enrollment, as stored: the API's `source` as given (outside ids echoed
    exactly), or the rule or automation that enrolled, with `why` in words. Other keys are kept
    (a plain pydantic model: ninja's Schema reads attributes and would drop them)."""

    model_config = ConfigDict(extra="allow")

    why: str | None = Field(None, description="Why it was enrolled, in words.")
    type: str | None = Field(None, description="What started it, as the outside system names it (email…).")
    message_id: str | None = Field(None, description="The outside system's message id, as given.")
    thread_id: str | None = Field(None, description="The outside system's thread id, as given.")
    subject: str | None = None
    from_address: str | None = None
    body_text: str | None = None
    sent_at: str | None = None
    rule: str | None = Field(None, description="The campaign rule's kind, when a rule enrolled.")
    rule_id: int | None = None
    automation_id: str | None = Field(None, description="The label automation that enrolled (aut_…).")
    automation: str | None = Field(None, description="The automation's kind (label_added).")
    label: str | None = Field(None, description="The label whose addition enrolled.")
    label_event_id: str | None = Field(None, description="That label addition (lbe_…).")
    label_added_via: str | None = None
    label_added_at: str | None = None


class HistoryOut(Schema):
    kind: str = Field(..., description="What happened: enrolled, a state change, exit_condition (a judged reply)…")
    from_state: HistoryState
    to_state: HistoryState
    reason: str
    actor: str | None
    at: datetime

    @staticmethod
    def resolve_actor(obj) -> str | None:
        return username(obj.actor) if obj.actor_id else None

    @staticmethod
    def resolve_at(obj) -> datetime:
        return obj.created_at


class EnrollmentDraftOut(Schema):
    id: DraftRef
    status: DraftStateOut
    step_id: StepRef | None

    @staticmethod
    def resolve_status(obj) -> str:
        return obj.state

    @staticmethod
    def resolve_step_id(obj) -> int | None:
        return obj.step_ref


class EnrollmentOut(Schema):
    id: EnrollmentRef
    kind: EnrollmentKind
    state: EnrollmentStateOut
    state_reason: str
    sequence_id: SequenceRef | None
    contact_id: ContactRef
    current_step: int
    next_due_at: datetime | None
    exit_on_reply: bool
    inbox_id: InboxRef | None = Field(..., description="The inbox the emails are sent from, once known.")
    sender: str | None
    source: EnrollmentSourceOut
    occurrence_key: str
    emails: list[StepOut]
    history: list[HistoryOut]
    drafts: list[EnrollmentDraftOut]
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_sequence_id(obj: Enrollment) -> int | None:
        return obj.campaign_id

    @staticmethod
    def resolve_contact_id(obj: Enrollment) -> int:
        return obj.recipient_id

    @staticmethod
    def resolve_inbox_id(obj: Enrollment) -> int | None:
        sender = obj.sender if obj.sender_id else _sequence_sender(obj.campaign)
        profile = getattr(sender, "sender", None) if sender is not None else None
        return profile.pk if profile else None

    @staticmethod
    def resolve_sender(obj: Enrollment) -> str | None:
        sender = obj.sender if obj.sender_id else _sequence_sender(obj.campaign)
        return username(sender) if sender is not None else None

    @staticmethod
    def resolve_emails(obj: Enrollment) -> list[SequenceStep]:
        return list(obj.ad_hoc_steps.all())

    @staticmethod
    def resolve_source(obj: Enrollment) -> dict:
        return public_source(obj.source)

    @staticmethod
    def resolve_history(obj: Enrollment) -> list:
        return list(obj.events.all())

    @staticmethod
    def resolve_drafts(obj: Enrollment) -> list:
        # Attached by _with_drafts: review keeps the drafts, by the enrollment id handed down.
        drafts = getattr(obj, "_drafts", None)
        if drafts is None:
            drafts = selectors.drafts_of_enrollments(enrollment_ids=[obj.pk])[obj.pk]
        return drafts


# Row numbers our own automations put into an enrollment's source, shown as public ids.
SOURCE_IDS = {"automation_id": "aut", "label_event_id": "lbe"}


def public_source(source: dict | None) -> dict:
    """An enrollment's source as the API shows it: ids of our rows as public ids (`aut_…`), never
    row numbers; what outside systems gave (message_id, thread_id…) exactly as given."""
    out = {}
    for key, value in (source or {}).items():
        if key in SOURCE_IDS and isinstance(value, int):
            value = public_id(SOURCE_IDS[key], value)
        out[key] = value
    return out


def _sequence_sender(campaign: Campaign | None):
    """The team member a sequence names as its sender, if it names one."""
    if campaign is None or campaign.sender_mode != Campaign.SenderMode.NAMED or not campaign.named_sender_id:
        return None
    return campaign.named_sender


class EnrollmentPage(Schema):
    items: list[EnrollmentOut]
    next_cursor: str | None


# --- Access helpers ------------------------------------------------------------------------------


def _sequences_for_user(request: HttpRequest):
    return selectors.campaigns_visible_to(request.user).select_related("named_sender__sender").prefetch_related("steps")


def _get_sequence_for_user(request: HttpRequest, sequence_id: int) -> Campaign:
    return get_object_or_404(_sequences_for_user(request), pk=sequence_id)


def _enrollments_for_user(request: HttpRequest):
    return (
        selectors.enrollments_visible_to(request.user)
        .select_related("sender__sender", "recipient", "campaign__named_sender__sender")
        .prefetch_related("ad_hoc_steps", "events__actor")
    )


def _with_drafts(enrollments: list[Enrollment]) -> list[Enrollment]:
    """Each enrollment with its drafts, in one query for the whole page."""
    drafts = selectors.drafts_of_enrollments(enrollment_ids=[e.pk for e in enrollments])
    for enrollment in enrollments:
        enrollment._drafts = drafts[enrollment.pk]  # type: ignore[attr-defined]
    return enrollments


def _get_enrollment_for_user(request: HttpRequest, enrollment_id: int) -> Enrollment:
    return get_object_or_404(_enrollments_for_user(request), pk=enrollment_id)


def _inbox(inbox_id: int, field: str) -> SenderProfile:
    inbox = SenderProfile.objects.select_related("user").filter(pk=inbox_id, user__is_active=True).first()
    if inbox is None:
        raise ApiError(422, "No such inbox (sender profile), or its team member is no longer active.", field=field)
    return inbox


def _sending_inbox(request: HttpRequest, inbox_id: int, field: str) -> SenderProfile:
    """An inbox the caller may send from: their own, or (CSMs, admins) any active team member's."""
    inbox = _inbox(inbox_id, field)
    if not inboxes_sendable_by(user=request.user).filter(pk=inbox.pk).exists():
        raise ApiError(403, "You may not send from this inbox: only from your own.", field=field)
    return inbox


def _enrollment_sender(request: HttpRequest, payload: EnrollmentIn, campaign: Campaign | None):
    """Who sends this enrollment's emails: the inbox the body names (inbox_id), which must agree
    with the sequence's own sender_inbox_id when it names one; None leaves the choice to the
    sequence (its named sender, round robin or the contact's owner)."""
    given = {f: v for f, v in (("inbox_id", payload.inbox_id), ("sender_inbox_id", payload.sender_inbox_id)) if v}
    if len(set(given.values())) > 1:
        raise ApiError(422, "inbox_id and sender_inbox_id name different inboxes; give one.", field="inbox_id")
    if not given:
        return None
    field, inbox_id = next(iter(given.items()))
    inbox = _sending_inbox(request, inbox_id, field)
    named_sender = _sequence_sender(campaign)
    if named_sender is not None and named_sender.pk != inbox.user_id:
        named = getattr(named_sender, "sender", None)
        expected = public_id("inb", named.pk) if named else "its named sender"
        raise ApiError(
            422,
            f"{field} is not this sequence's sender_inbox_id ({expected}): the sequence is sent from "
            "that inbox. Leave it out, or give that one.",
            field=field,
        )
    return inbox.user


def _recipient(request: HttpRequest, spec: RecipientIn) -> Recipient:
    if spec.contact_id is not None:
        found = recipients_visible_to(request.user).filter(pk=spec.contact_id).first()
        if found is None:
            raise ApiError(422, "No such contact that you may see.", field="recipient.contact_id")
        return found
    address = normalize_email(str(spec.email))
    try:
        validate_email(address)
    except ValidationError:
        raise ApiError(422, f"{spec.email!r} is not a valid email address.", field="recipient.email") from None
    found = recipients_visible_to(request.user).filter(email=address).first()
    if found is not None:
        return found
    if Recipient.objects.filter(email=address).exists():
        raise ApiError(422, f"{address} belongs to a contact you may not see.", field="recipient.email")
    require_perm(request, "outreach.add_recipient", "Your role may not create contacts; enroll an existing contact_id.")
    recipient, _ = contacts.contact_upsert(
        data=contacts.ContactData(emails=[{"label": "", "address": address}], full_name=spec.full_name),
        actor=request.user,
    )
    return recipient


# --- Enrollments (declared before /sequences/{id}/ so its path wins) -------------------------------


@router.post(
    "/sequences/enrollments/",
    response={200: EnrollmentOut, 201: EnrollmentOut, **ERRORS},
    auth=token_auth(Scope.SEQUENCES_WRITE),
    tags=["sequences"],
    summary="Enroll a contact: by sequence (template), ad hoc (inline emails) or from an automation",
    description=(
        "When the sequence has a label automation (POST /v1/automations/) and the contact carries its label, "
        "the enrollment is that automation's (kind `triggered`, its source naming the automation and the label "
        "event); if the automation already enrolled the contact for that label, the answer is 200 with that "
        "enrollment instead of a second one."
    ),
)
@idempotent
def enrollment_create(request: HttpRequest, payload: EnrollmentIn):
    require_perm(request, "campaigns.add_enrollment", "Your role may not enroll contacts.")
    campaign = None
    if payload.sequence_id is not None:
        campaign = _sequences_for_user(request).filter(pk=payload.sequence_id).first()
        if campaign is None:
            raise ApiError(422, "No such sequence that you may see.", field="sequence_id")
    sender = _enrollment_sender(request, payload, campaign)
    recipient = _recipient(request, payload.recipient)
    try:
        enrollment, created = sequences.enrollment_enroll_from_api(
            user=request.user,
            recipient=recipient,
            campaign=campaign,
            emails=[e.model_dump() for e in payload.emails] if payload.emails else None,
            exit_on_reply=payload.exit_on_reply,
            sender=sender,
            source={k: v for k, v in payload.source.model_dump().items() if v} if payload.source else None,
            occurrence_key=f"api:{payload.trigger.automation}:{payload.trigger.occurrence_key}"
            if payload.trigger
            else "",
            automation=payload.trigger.automation if payload.trigger else "",
        )
    except ApplicationError as exc:
        if "status" in exc.extra:
            raise
        # Already enrolled, archived sequence...: a conflict with the current state.
        raise ApiError(409, exc.message, field=exc.extra.get("field")) from exc
    # 200: a label automation of this sequence had already enrolled the contact for that label.
    return (201 if created else 200), EnrollmentOut.from_orm(_get_enrollment_for_user(request, enrollment.pk))


class EnrollmentFilters(Schema):
    state: EnrollmentState | None = None
    sequence_id: SequenceId | None = None
    contact_id: ContactId | None = None
    cursor: str | None = None
    limit: Limit = 50


@router.get(
    "/sequences/enrollments/",
    response={200: EnrollmentPage, **ERRORS},
    auth=token_auth(Scope.SEQUENCES_READ, Scope.SEQUENCES_WRITE),
    tags=["sequences"],
)
def enrollment_list(request: HttpRequest, filters: Query[EnrollmentFilters]):
    qs = filter_given(
        _enrollments_for_user(request),
        state=filters.state,
        campaign_id=filters.sequence_id,
        recipient_id=filters.contact_id,
    )
    page = paginate(qs, cursor=filters.cursor, limit=filters.limit)
    page["items"] = _with_drafts(page["items"])
    return page


@router.get(
    "/sequences/enrollments/{enrollment_id}/",
    response={200: EnrollmentOut, **ERRORS},
    auth=token_auth(Scope.SEQUENCES_READ, Scope.SEQUENCES_WRITE),
    tags=["sequences"],
    summary="An enrollment with its state and history",
)
def enrollment_detail(request: HttpRequest, enrollment_id: EnrollmentId):
    return _get_enrollment_for_user(request, enrollment_id)


@router.patch(
    "/sequences/enrollments/{enrollment_id}/",
    response={200: EnrollmentOut, **ERRORS},
    auth=token_auth(Scope.SEQUENCES_WRITE),
    tags=["sequences"],
    summary='Cancel an enrollment: {"action": "cancel"}',
)
def enrollment_update(request: HttpRequest, enrollment_id: EnrollmentId, payload: EnrollmentPatch):
    enrollment = _get_enrollment_for_user(request, enrollment_id)
    require_perm(request, "campaigns.change_enrollment", "Your role may not cancel enrollments.")
    try:
        services.enrollment_cancel(
            enrollment=enrollment,
            user=request.user,
            reason=payload.reason or f"cancelled through the API by {request.user}",
        )
    except ApplicationError as exc:
        raise ApiError(409, exc.message, field="action") from exc
    return _get_enrollment_for_user(request, enrollment_id)


# --- Sequences ----------------------------------------------------------------------------------------


@router.post(
    "/sequences/",
    response={201: SequenceOut, **ERRORS},
    auth=token_auth(Scope.SEQUENCES_WRITE),
    tags=["sequences"],
    summary="Create a sequence (a running campaign sent by one inbox)",
)
@idempotent
def sequence_create(request: HttpRequest, payload: SequenceIn):
    require_perm(request, "campaigns.add_campaign", "Your role may not create sequences.")
    inbox = _sending_inbox(request, payload.sender_inbox_id, "sender_inbox_id") if payload.sender_inbox_id else None
    campaign = sequences.sequence_create(
        user=request.user,
        name=payload.name,
        sender=inbox.user if inbox else None,
        emails=[e.model_dump() for e in payload.emails],
        exit_on_reply=payload.exit_on_reply,
        pause_on_out_of_office=payload.pause_on_out_of_office,
        exit_condition_prompt=payload.exit_condition_prompt,
        entry_prompt=payload.entry_prompt,
        cc=payload.cc,
        bcc=payload.bcc,
        set_properties=payload.set_properties,
    )
    return 201, SequenceOut.from_orm(_get_sequence_for_user(request, campaign.pk))


class SequenceFilters(Schema):
    trigger: SequenceTrigger | None = None
    status: SequenceStatus | None = None
    cursor: str | None = None
    limit: Limit = 50


@router.get(
    "/sequences/",
    response={200: SequencePage, **ERRORS},
    auth=token_auth(Scope.SEQUENCES_READ, Scope.SEQUENCES_WRITE),
    tags=["sequences"],
)
def sequence_list(request: HttpRequest, filters: Query[SequenceFilters]):
    qs = _sequences_for_user(request)
    if filters.trigger:
        qs = qs.filter(trigger=filters.trigger)
    if filters.status:
        qs = qs.filter(status=filters.status)
    return paginate(qs, cursor=filters.cursor, limit=filters.limit)


@router.get(
    "/sequences/{sequence_id}/",
    response={200: SequenceOut, **ERRORS},
    auth=token_auth(Scope.SEQUENCES_READ, Scope.SEQUENCES_WRITE),
    tags=["sequences"],
)
def sequence_detail(request: HttpRequest, sequence_id: SequenceId):
    return _get_sequence_for_user(request, sequence_id)


# --- Label automations ---------------------------------------------------------------------------


class AutomationIn(Schema):
    """ "When label X is added to a contact, enroll them in sequence S": the documented
    automation-triggered enrollment body with `label` in place of `recipient`."""

    model_config = ConfigDict(extra="forbid")

    label: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    sequence_id: SequenceId
    inbox_id: InboxId | None = Field(
        None, description="The inbox its enrollments are sent from (you must be allowed to send from it)."
    )
    exit_on_reply: bool | None = Field(None, description="Left out: the sequence's own setting.")
    source: SourceIn | None = Field(None, description="Copied into each enrollment's source.")
    enroll_existing: bool = Field(
        False,
        description=(
            "Also enroll the contacts who already carry the label. Needs existing_count: the number "
            "GET /v1/automations/preview/ showed (409 naming the current number when it differs)."
        ),
    )
    existing_count: int | None = Field(None, ge=0)


class AutomationOut(Schema):
    id: AutomationRef
    label: str
    sequence_id: SequenceRef
    inbox_id: InboxRef | None
    exit_on_reply: bool | None
    source: dict
    active: bool
    existing_enrolled: int = Field(..., description="Contacts who already carried the label, enrolled at creation.")
    created_by: str | None
    created_at: datetime

    @staticmethod
    def resolve_label(obj: LabelAutomation) -> str:
        return obj.label.name

    @staticmethod
    def resolve_sequence_id(obj: LabelAutomation) -> int:
        return obj.campaign_id

    @staticmethod
    def resolve_inbox_id(obj: LabelAutomation) -> int | None:
        profile = getattr(obj.sender, "sender", None) if obj.sender_id else None
        return profile.pk if profile else None

    @staticmethod
    def resolve_created_by(obj: LabelAutomation) -> str | None:
        return username(obj.created_by) if obj.created_by_id else None


class AutomationPage(Schema):
    items: list[AutomationOut]
    next_cursor: str | None


class AutomationPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    active: bool


class AutomationPreviewOut(Schema):
    label: str
    sequence_id: SequenceRef
    existing_count: int = Field(..., description="Contacts who carry the label now and are not in the sequence.")


def _automations_for_user(request: HttpRequest):
    visible = selectors.campaigns_visible_to(request.user).values("pk")
    return LabelAutomation.objects.filter(campaign__in=visible).select_related("label", "sender__sender", "created_by")


@router.get(
    "/automations/preview/",
    response={200: AutomationPreviewOut, **ERRORS},
    auth=token_auth(Scope.SEQUENCES_READ, Scope.SEQUENCES_WRITE),
    tags=["automations"],
    summary="How many contacts already carry a label (those enroll_existing would enroll)",
)
def automation_preview(request: HttpRequest, sequence_id: SequenceId, label: str = Query(..., max_length=100)):
    campaign = _sequences_for_user(request).filter(pk=sequence_id).first()
    if campaign is None:
        raise ApiError(422, "No such sequence that you may see.", field="sequence_id")
    count = automations.label_automation_existing_count(campaign=campaign, label_name=label)
    return {"label": label, "sequence_id": campaign.pk, "existing_count": count}


@router.post(
    "/automations/",
    response={201: AutomationOut, **ERRORS},
    auth=token_auth(Scope.SEQUENCES_WRITE),
    tags=["automations"],
    summary="Create a label automation: when a label is added to a contact, enroll them in a sequence",
    description=(
        "Fires on label additions made after it exists (the API, CSV imports, the recipient page, the admin). "
        "Contacts who already carry the label are enrolled only with enroll_existing and the existing_count "
        "you were shown. The sequence's own trigger is not changed."
    ),
)
@idempotent
def automation_create(request: HttpRequest, payload: AutomationIn):
    require_perm(request, "campaigns.change_campaign", "Your role may not create automations.")
    campaign = _sequences_for_user(request).filter(pk=payload.sequence_id).first()
    if campaign is None:
        raise ApiError(422, "No such sequence that you may see.", field="sequence_id")
    inbox = _sending_inbox(request, payload.inbox_id, "inbox_id") if payload.inbox_id else None
    created = automations.label_automation_create(
        campaign=campaign,
        label_name=payload.label,
        user=request.user,
        sender=inbox.user if inbox else None,
        exit_on_reply=payload.exit_on_reply,
        source={k: v for k, v in payload.source.model_dump().items() if v} if payload.source else None,
        enroll_existing=payload.enroll_existing,
        existing_count=payload.existing_count,
    )
    return 201, AutomationOut.from_orm(_automations_for_user(request).get(pk=created.automation.pk))


class AutomationFilters(Schema):
    sequence_id: SequenceId | None = None
    cursor: str | None = None
    limit: Limit = 50


@router.get(
    "/automations/",
    response={200: AutomationPage, **ERRORS},
    auth=token_auth(Scope.SEQUENCES_READ, Scope.SEQUENCES_WRITE),
    tags=["automations"],
)
def automation_list(request: HttpRequest, filters: Query[AutomationFilters]):
    qs = filter_given(_automations_for_user(request), campaign_id=filters.sequence_id)
    return paginate(qs, cursor=filters.cursor, limit=filters.limit)


@router.get(
    "/automations/{automation_id}/",
    response={200: AutomationOut, **ERRORS},
    auth=token_auth(Scope.SEQUENCES_READ, Scope.SEQUENCES_WRITE),
    tags=["automations"],
)
def automation_detail(request: HttpRequest, automation_id: AutomationId):
    return get_object_or_404(_automations_for_user(request), pk=automation_id)


@router.patch(
    "/automations/{automation_id}/",
    response={200: AutomationOut, **ERRORS},
    auth=token_auth(Scope.SEQUENCES_WRITE),
    tags=["automations"],
    summary='Switch an automation off or on: {"active": false}',
)
def automation_update(request: HttpRequest, automation_id: AutomationId, payload: AutomationPatch):
    automation = get_object_or_404(_automations_for_user(request), pk=automation_id)
    require_perm(request, "campaigns.change_campaign", "Your role may not change automations.")
    automations.label_automation_set_active(automation=automation, active=payload.active)
    return get_object_or_404(_automations_for_user(request), pk=automation_id)


# --- Campaign rules ------------------------------------------------------------------------------

RuleKind = Annotated[MilestoneRule.Kind, named_enum(MilestoneRule.Kind, "RuleKind")]


class RuleIn(Schema):
    """A rule the scan (every hour, or run_milestone_scan) checks; it enrolls each contact once per
    occurrence. `risk_crossed`: {"property": "risk_score", "of": "account"|"contact", "threshold": 70,
    "direction": "above"|"below"}, fires on the crossing, once per crossing. `csm_handoff`:
    {"stage": "qualified"}: the stage reached and the owner a CSM, who sends the handoff."""

    model_config = ConfigDict(extra="forbid")

    sequence_id: SequenceId
    kind: RuleKind
    parameters: dict = Field(default_factory=dict)


class RuleOut(Schema):
    id: RuleRef
    sequence_id: SequenceRef
    kind: Annotated[str, named_enum(MilestoneRule.Kind, "RuleKind")]
    parameters: dict
    description: str = Field(..., description="The rule in plain words.")
    active: bool
    last_run_at: datetime | None
    last_matched: int
    created_at: datetime

    @staticmethod
    def resolve_sequence_id(obj: MilestoneRule) -> int:
        return obj.campaign_id

    @staticmethod
    def resolve_description(obj: MilestoneRule) -> str:
        return rule_words(obj.kind, obj.parameters)


class RulePage(Schema):
    items: list[RuleOut]
    next_cursor: str | None


class RulePatch(Schema):
    model_config = ConfigDict(extra="forbid")

    active: bool


class RuleFilters(Schema):
    sequence_id: SequenceId | None = None
    cursor: str | None = None
    limit: Limit = 50


def _rules_for_user(request: HttpRequest):
    return MilestoneRule.objects.filter(campaign__in=selectors.campaigns_visible_to(request.user).values("pk"))


@router.post(
    "/rules/",
    response={201: RuleOut, **ERRORS},
    auth=token_auth(Scope.SEQUENCES_WRITE),
    tags=["rules"],
    summary="Add a campaign rule (risk score crosses a threshold, qualified and assigned a CSM, renewal…)",
)
@idempotent
def rule_create(request: HttpRequest, payload: RuleIn):
    require_perm(request, "campaigns.change_campaign", "Your role may not add campaign rules.")
    campaign = _sequences_for_user(request).filter(pk=payload.sequence_id).first()
    if campaign is None:
        raise ApiError(422, "No such sequence that you may see.", field="sequence_id")
    try:
        rule = milestones.milestone_rule_create(campaign=campaign, kind=payload.kind, parameters=payload.parameters)
    except ApplicationError as exc:
        raise ApiError(422, exc.message, field="parameters") from exc
    return 201, RuleOut.from_orm(rule)


@router.get(
    "/rules/",
    response={200: RulePage, **ERRORS},
    auth=token_auth(Scope.SEQUENCES_READ, Scope.SEQUENCES_WRITE),
    tags=["rules"],
)
def rule_list(request: HttpRequest, filters: Query[RuleFilters]):
    qs = filter_given(_rules_for_user(request), campaign_id=filters.sequence_id)
    return paginate(qs, cursor=filters.cursor, limit=filters.limit)


@router.get(
    "/rules/{rule_id}/",
    response={200: RuleOut, **ERRORS},
    auth=token_auth(Scope.SEQUENCES_READ, Scope.SEQUENCES_WRITE),
    tags=["rules"],
)
def rule_detail(request: HttpRequest, rule_id: RuleId):
    return get_object_or_404(_rules_for_user(request), pk=rule_id)


@router.patch(
    "/rules/{rule_id}/",
    response={200: RuleOut, **ERRORS},
    auth=token_auth(Scope.SEQUENCES_WRITE),
    tags=["rules"],
    summary='Switch a rule off or on: {"active": false}',
)
def rule_update(request: HttpRequest, rule_id: RuleId, payload: RulePatch):
    rule = get_object_or_404(_rules_for_user(request), pk=rule_id)
    require_perm(request, "campaigns.change_campaign", "Your role may not change campaign rules.")
    return milestones.milestone_rule_set_active(rule=rule, active=payload.active)
