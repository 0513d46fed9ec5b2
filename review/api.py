"""The review app's REST routes: drafts (read) and approve.

Approving through the API is a person's decision made elsewhere (a chat button, a CRM task): the
token is that person's, the draft must be one they may approve in the browser, and the body names
the version they saw. Nothing else is accepted: the API never changes the text it approves."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from pydantic import ConfigDict, StringConstraints, model_validator

from outreach.core.errors import ApplicationError
from outreach.integrations.api_events import SEND_STATUSES, SendResultOut
from outreach.integrations.api_support import (
    ERRORS,
    ApiError,
    ContactId,
    ContactRef,
    DraftId,
    DraftRef,
    EnrollmentId,
    EnrollmentRef,
    InboxId,
    MessageRef,
    SequenceId,
    SequenceRef,
    StepRef,
    filter_given,
    idempotent,
    named_enum,
    paginate,
    require_perm,
    token_auth,
    username,
)
from outreach.integrations.models import ApiToken
from outreach.mail.models import OutboundMessage
from outreach.people.selectors import inboxes_sendable_by, recipients_visible_to

from . import selectors, services
from .models import Draft, DraftDecision

router = Router()
Scope = ApiToken.Scope
DraftState = Annotated[Draft.State, named_enum(Draft.State, "DraftState")]
DraftStateOut = Annotated[str, named_enum(Draft.State, "DraftState")]
DecisionAction = Annotated[str, named_enum(DraftDecision.Action, "DecisionAction")]
DecisionVia = Annotated[str, named_enum(["web", "api"], "DecisionVia")]
MessageStateOut = Annotated[str, named_enum(OutboundMessage.State, "MessageState")]
AWAITING_REVIEW = (Draft.State.QUEUED, Draft.State.DRAFTING, Draft.State.READY)
# Where a one-to-one email is: waiting for its person, decided against, or the send result's status.
ONE_TO_ONE_STATUSES = list(
    dict.fromkeys(["awaiting_review", *(s for s in Draft.State.values if s not in AWAITING_REVIEW), *SEND_STATUSES])
)
Limit = Annotated[int, Field(ge=1, le=200)]


class DecisionOut(Schema):
    action: DecisionAction
    user: str | None
    via: DecisionVia
    reason: str
    note: str
    created_at: datetime

    @staticmethod
    def resolve_user(obj) -> str | None:
        return username(obj.user) if obj.user_id else None


class DraftMessageOut(Schema):
    id: MessageRef
    status: MessageStateOut = Field(..., description="The outbox row's state.")
    code: str
    sent_at: datetime | None


class DraftOut(Schema):
    id: DraftRef
    status: DraftStateOut
    version: int = Field(..., description="Send it back as expected_version to approve.")
    contact_id: ContactRef
    to_email: str
    sender: str
    reviewer: str | None
    campaign_id: SequenceRef | None
    enrollment_id: EnrollmentRef | None
    step_id: StepRef | None
    subject: str
    preview_text: str = Field(..., description="The hidden preheader inboxes show after the subject.")
    body_text: str
    body_html: str
    cc: list[str]
    bcc: list[str]
    cited_fact_ids: list[str]
    unsupported_claim_count: int
    provider: str
    model_name: str
    failure_reason: str
    created_at: datetime
    ready_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    decisions: list[DecisionOut]
    message: DraftMessageOut | None

    @staticmethod
    def resolve_campaign_id(obj: Draft) -> int | None:
        return obj.campaign_ref

    @staticmethod
    def resolve_enrollment_id(obj: Draft) -> int | None:
        return obj.enrollment_ref

    @staticmethod
    def resolve_step_id(obj: Draft) -> int | None:
        return obj.step_ref

    @staticmethod
    def resolve_status(obj: Draft) -> str:
        return obj.state

    @staticmethod
    def resolve_contact_id(obj: Draft) -> int:
        return obj.recipient_id

    @staticmethod
    def resolve_to_email(obj: Draft) -> str:
        return obj.recipient.email

    @staticmethod
    def resolve_sender(obj: Draft) -> str:
        return obj.sender.get_username()

    @staticmethod
    def resolve_reviewer(obj: Draft) -> str | None:
        return username(obj.reviewer) if obj.reviewer_id else None

    @staticmethod
    def resolve_cited_fact_ids(obj: Draft) -> list[str]:
        return [str(i) for i in obj.cited_fact_ids or []]

    @staticmethod
    def resolve_decided_by(obj: Draft) -> str | None:
        return username(obj.decided_by) if obj.decided_by_id else None

    @staticmethod
    def resolve_decisions(obj: Draft) -> list:
        return list(obj.decisions.all())

    @staticmethod
    def resolve_message(obj: Draft):
        message = getattr(obj, "outbound_message", None)
        if message is None:
            return None
        return {"id": message.pk, "status": message.state, "code": message.code, "sent_at": message.sent_at}


class DraftPage(Schema):
    items: list[DraftOut]
    next_cursor: str | None


class DraftFilters(Schema):
    status: DraftState | None = None
    campaign_id: SequenceId | None = None
    enrollment_id: EnrollmentId | None = None
    contact_id: ContactId | None = None
    cursor: str | None = None
    limit: Limit = 50


class ApproveIn(Schema):
    """Only the version the person saw; text changes are made in the review queue."""

    model_config = ConfigDict(extra="forbid")

    expected_version: int = Field(..., ge=1, le=2**31, description="The draft's version the approver saw.")


def _drafts_for_user(request: HttpRequest):
    return (
        selectors.drafts_visible_to(request.user)
        .select_related("recipient", "sender", "reviewer", "decided_by", "origin", "outbound_message")
        .prefetch_related("decisions__user")
    )


def _get_draft_for_user(request: HttpRequest, draft_id: int) -> Draft:
    """Another rep's draft is a 404, as in the browser."""
    return get_object_or_404(_drafts_for_user(request), pk=draft_id)


@router.get(
    "/drafts/",
    response={200: DraftPage, **ERRORS},
    auth=token_auth(Scope.DRAFTS_READ, Scope.EMAIL_SEND),
    tags=["drafts"],
)
def draft_list(request: HttpRequest, filters: Query[DraftFilters]):
    qs = filter_given(
        _drafts_for_user(request),
        state=filters.status,
        origin__campaign_ref=filters.campaign_id,
        enrollment_ref=filters.enrollment_id,
        recipient_id=filters.contact_id,
    )
    return paginate(qs, cursor=filters.cursor, limit=filters.limit)


@router.get(
    "/drafts/{draft_id}/",
    response={200: DraftOut, **ERRORS},
    auth=token_auth(Scope.DRAFTS_READ, Scope.EMAIL_SEND),
    tags=["drafts"],
)
def draft_detail(request: HttpRequest, draft_id: DraftId):
    return _get_draft_for_user(request, draft_id)


@router.post(
    "/drafts/{draft_id}/approve",
    response={200: DraftOut, **ERRORS},
    auth=token_auth(Scope.EMAIL_SEND),
    tags=["drafts"],
    summary="Approve the exact text of a ready draft (it is then sent)",
)
@idempotent
def draft_approve(request: HttpRequest, draft_id: DraftId, payload: ApproveIn):
    require_perm(request, "review.change_draft", "Your role may not approve drafts.")
    draft = _get_draft_for_user(request, draft_id)
    try:
        # The same service as the browser's approve button, recorded as approved via the API.
        services.draft_approve(draft=draft, user=request.user, expected_version=payload.expected_version, via="api")
    except services.DraftConflict as exc:
        raise ApiError(409, exc.message, field="expected_version") from exc
    return 200, DraftOut.from_orm(_get_draft_for_user(request, draft_id))


# --- One-to-one emails (the send node) -------------------------------------------------------------


class OneToOneContentIn(Schema):
    model_config = ConfigDict(extra="forbid")

    subject: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    text: Annotated[str, StringConstraints(max_length=20000)] | None = None
    html: Annotated[str, StringConstraints(max_length=100000)] | None = None
    preview_text: Annotated[str, StringConstraints(max_length=300)] = ""

    @model_validator(mode="after")
    def _text_or_html(self):
        if not ((self.text or "").strip() or (self.html or "").strip()):
            raise ValueError("give the text or the HTML")
        return self


Address = Annotated[str, StringConstraints(min_length=3, max_length=254)]


class OneToOneIn(Schema):
    """One email to one contact from one inbox; it waits in the sender's review queue."""

    model_config = ConfigDict(extra="forbid")

    to_id: ContactId = Field(..., description="The contact (ctc_…).")
    from_id: InboxId | None = Field(
        None,
        description="The inbox it is sent from (inb_…); default: the contact's owner's. You must be allowed to send from it.",
    )
    prompt: Annotated[str, StringConstraints(max_length=20000)] | None = Field(
        None, description="Instructions for the drafting engine (or give content)."
    )
    content: OneToOneContentIn | None = None
    cc: list[Address] = Field(default_factory=list, max_length=20)
    bcc: list[Address] = Field(default_factory=list, max_length=20)
    complete_on_send_failure: bool = True

    @model_validator(mode="after")
    def _prompt_or_content(self):
        if bool((self.prompt or "").strip()) == (self.content is not None):
            raise ValueError("give either a prompt or content")
        return self


class OneToOneOut(Schema):
    """Awaiting review (the draft), then the send result once it is sent; or skipped at once."""

    id: DraftRef | None = Field(..., description="The draft (drf_…); null when skipped before drafting.")
    status: Annotated[
        str,
        named_enum(
            ONE_TO_ONE_STATUSES,
            "OneToOneStatus",
            "awaiting_review (queued, drafting or ready in the sender's queue), rejected, failed (drafting), "
            "superseded, or the send result's status once approved: pending, success, failure, skipped, unknown.",
        ),
    ]
    code: str | None
    error_message: str | None
    draft: DraftOut | None
    send_result: SendResultOut | None


def _one_to_one_out(draft: Draft) -> dict:
    message = getattr(draft, "outbound_message", None)
    result = message.as_send_result() if message is not None else None
    if result is not None:
        status = result["status"]
    elif draft.state in AWAITING_REVIEW:
        status = "awaiting_review"
    else:
        status = draft.state
    return {
        "id": draft.pk,
        "status": status,
        "code": result["code"] if result else (draft.failure_reason and "drafting_failed") or None,
        "error_message": result["error_message"] if result else (draft.failure_reason or None),
        "draft": draft,
        "send_result": result,
    }


@router.post(
    "/one-to-one-emails/",
    response={201: OneToOneOut, 200: OneToOneOut, **ERRORS},
    auth=token_auth(Scope.EMAIL_SEND),
    tags=["one-to-one emails"],
    summary="Ask for one email to one contact: a draft in the sender's review queue, or skipped at once",
    by_alias=True,
)
@idempotent
def one_to_one_create(request: HttpRequest, payload: OneToOneIn):
    require_perm(request, "review.add_draft", "Your role may not ask for drafts.")
    recipient = recipients_visible_to(request.user).filter(pk=payload.to_id).first()
    if recipient is None:
        raise ApiError(422, "No such contact that you may see.", field="to_id")
    if payload.from_id is not None:
        inbox = inboxes_sendable_by(user=request.user).filter(pk=payload.from_id).first()
        if inbox is None:
            raise ApiError(403, "You may not send from this inbox: only from your own.", field="from_id")
        sender = inbox.user
    else:
        owner = recipient.owner
        if owner is None or getattr(owner, "sender", None) is None:
            raise ApiError(422, "Name a from_id: nobody with an inbox owns this contact.", field="from_id")
        sender = owner
        if not inboxes_sendable_by(user=request.user).filter(user=sender).exists():
            raise ApiError(
                403, "You may not send from the contact owner's inbox; name your own from_id.", field="from_id"
            )
    content = payload.content
    try:
        outcome = services.one_to_one_request(
            recipient=recipient,
            sender=sender,
            prompt=payload.prompt or "",
            subject=content.subject if content else "",
            text=(content.text or "") if content else "",
            html=(content.html or "") if content else "",
            preview_text=content.preview_text if content else "",
            cc=payload.cc,
            bcc=payload.bcc,
            complete_on_send_failure=payload.complete_on_send_failure,
        )
    except ApplicationError as exc:
        raise ApiError(422, exc.message, field="cc" if "valid email" in exc.message else None) from exc
    if isinstance(outcome, services.OneToOneSkip):
        skipped = OneToOneOut(
            id=None, status="skipped", code=outcome.code, error_message=outcome.reason, draft=None, send_result=None
        )
        return 200, skipped
    return 201, OneToOneOut.from_orm(_one_to_one_out(_get_draft_for_user(request, outcome.pk)))


@router.get(
    "/one-to-one-emails/{draft_id}/",
    response={200: OneToOneOut, **ERRORS},
    auth=token_auth(Scope.EMAIL_SEND, Scope.DRAFTS_READ),
    tags=["one-to-one emails"],
    summary="Where a one-to-one email is: awaiting review, or its send result",
    by_alias=True,
)
def one_to_one_detail(request: HttpRequest, draft_id: DraftId):
    return _one_to_one_out(_get_draft_for_user(request, draft_id))
