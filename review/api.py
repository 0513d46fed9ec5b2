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
from pydantic import ConfigDict

from outreach.integrations.api_support import (
    ERRORS,
    ApiError,
    filter_given,
    idempotent,
    paginate,
    require_perm,
    token_auth,
    username,
)
from outreach.integrations.models import ApiToken

from . import selectors, services
from .models import Draft

router = Router()
Scope = ApiToken.Scope
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
Limit = Annotated[int, Field(ge=1, le=200)]


class DecisionOut(Schema):
    action: str
    user: str | None
    via: str
    reason: str
    note: str
    created_at: datetime

    @staticmethod
    def resolve_user(obj) -> str | None:
        return username(obj.user) if obj.user_id else None


class DraftMessageOut(Schema):
    id: int
    status: str
    code: str
    sent_at: datetime | None


class DraftOut(Schema):
    id: int
    status: str = Field(..., description="queued, drafting, ready, approved, rejected, failed, superseded")
    version: int = Field(..., description="Send it back as expected_version to approve.")
    contact_id: int
    to_email: str
    sender: str
    reviewer: str | None
    campaign_id: int | None
    enrollment_id: int | None
    step_id: int | None
    subject: str
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
    status: Draft.State | None = None
    campaign_id: Id | None = None
    enrollment_id: Id | None = None
    contact_id: Id | None = None
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


@router.get("/drafts/", response={200: DraftPage, **ERRORS}, auth=token_auth(Scope.DRAFTS_READ), tags=["drafts"])
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
    "/drafts/{draft_id}/", response={200: DraftOut, **ERRORS}, auth=token_auth(Scope.DRAFTS_READ), tags=["drafts"]
)
def draft_detail(request: HttpRequest, draft_id: Id):
    return _get_draft_for_user(request, draft_id)


@router.post(
    "/drafts/{draft_id}/approve",
    response={200: DraftOut, **ERRORS},
    auth=token_auth(Scope.EMAIL_SEND),
    tags=["drafts"],
    summary="Approve the exact text of a ready draft (it is then sent)",
)
@idempotent
def draft_approve(request: HttpRequest, draft_id: Id, payload: ApproveIn):
    require_perm(request, "review.change_draft", "Your role may not approve drafts.")
    draft = _get_draft_for_user(request, draft_id)
    try:
        # The same service as the browser's approve button, recorded as approved via the API.
        services.draft_approve(draft=draft, user=request.user, expected_version=payload.expected_version, via="api")
    except services.DraftConflict as exc:
        raise ApiError(409, exc.message, field="expected_version") from exc
    return 200, DraftOut.from_orm(_get_draft_for_user(request, draft_id))
