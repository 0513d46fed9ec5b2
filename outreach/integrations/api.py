"""The foundation's REST routes: contacts, suppressions, messages, emitted events and webhook
subscriptions. Thin: parse, check scope and permission, call a service or selector."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from django.db.models import Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status
from pydantic import StringConstraints

from outreach.core import public_ids
from outreach.core.errors import ApplicationError
from outreach.integrations import selectors as integration_selectors
from outreach.integrations.api_events import (
    SEND_CODE_HELP,
    SendResultOut,
    SendStatus,
)
from outreach.integrations.api_events import EventOut as EventOut
from outreach.integrations.api_support import (
    ERRORS,
    ApiError,
    ContactId,
    ContactRef,
    DeliveryId,
    DeliveryRef,
    DraftRef,
    EnrollmentRef,
    FactRef,
    InboxId,
    InboxRef,
    MessageId,
    MessageRef,
    SequenceId,
    SequenceRef,
    SuppressionListId,
    SuppressionListRef,
    SuppressionRef,
    WebhookId,
    WebhookRef,
    encode_cursor,
    filter_given,
    idempotent,
    named_enum,
    paginate,
    public_id,
    require_perm,
    token_auth,
    username,
)
from outreach.integrations.models import ApiToken, EmittedEvent, WebhookDelivery, WebhookSubscription
from outreach.integrations.services import webhooks
from outreach.mail import selectors as mail_selectors
from outreach.mail.models import OutboundMessage
from outreach.people import selectors as people_selectors
from outreach.people.models import Fact, Recipient, SenderProfile
from outreach.people.services import contacts
from outreach.suppression import selectors as suppression_selectors
from outreach.suppression import services as suppression_services
from outreach.suppression.models import Suppression, SuppressionList

router = Router()
Scope = ApiToken.Scope

FactKind = Annotated[Fact.Kind, named_enum(Fact.Kind, "FactKind")]
SuppressionKind = Annotated[Suppression.Kind, named_enum(Suppression.Kind, "SuppressionKind")]
SuppressionReason = Annotated[Suppression.Reason, named_enum(Suppression.Reason, "SuppressionReason")]
MessageState = Annotated[OutboundMessage.State, named_enum(OutboundMessage.State, "MessageState")]
MessageCode = Annotated[OutboundMessage.Code, named_enum(OutboundMessage.Code, "MessageCode")]
EventTypeName = Annotated[EmittedEvent.Type, named_enum(EmittedEvent.Type, "EventType")]
DeliveryStatus = Annotated[WebhookDelivery.Status, named_enum(WebhookDelivery.Status, "DeliveryStatus")]
# Output fields: the schema names the values, the stored text is answered as it is.
FactKindOut = Annotated[str, named_enum(Fact.Kind, "FactKind")]
FactOrigin = Annotated[str, named_enum(Fact.Origin, "FactOrigin")]
SuppressionKindOut = Annotated[str, named_enum(Suppression.Kind, "SuppressionKind")]
SuppressionReasonOut = Annotated[str, named_enum(Suppression.Reason, "SuppressionReason")]
MessageStateOut = Annotated[str, named_enum(OutboundMessage.State, "MessageState")]
DeliveryStatusOut = Annotated[str, named_enum(WebhookDelivery.Status, "DeliveryStatus")]
EventTypeOut = Annotated[str, named_enum(EmittedEvent.Type, "EventType")]

ShortStr = Annotated[str, StringConstraints(max_length=200)]
Limit = Annotated[int, Field(ge=1, le=200)]


# --- Contacts ---------------------------------------------------------------------------------


class EmailIn(Schema):
    label: Annotated[str, StringConstraints(max_length=50)] = ""
    address: Annotated[str, StringConstraints(min_length=3, max_length=254)]


class FactIn(Schema):
    text: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    kind: FactKind = Fact.Kind.NOTE
    value: Annotated[str, StringConstraints(max_length=200)] = ""
    source: Annotated[str, StringConstraints(max_length=100)] = "api"
    observed_at: datetime | None = None


class ContactIn(Schema):
    inbox_id: InboxId | None = Field(
        None, description="Sender profile (a team member's sending identity, inb_…) who owns the contact."
    )
    full_name: ShortStr | None = None
    emails: list[EmailIn] = Field(..., min_length=1, max_length=20)
    labels: list[Annotated[str, StringConstraints(max_length=100)]] | None = Field(None, max_length=50)
    notes: Annotated[str, StringConstraints(max_length=10000)] | None = None
    facts: list[FactIn | Annotated[str, StringConstraints(min_length=1, max_length=2000)]] = Field(
        default_factory=list, max_length=100
    )
    title: ShortStr | None = None
    country: Annotated[str, StringConstraints(max_length=2)] | None = None


class FactOut(Schema):
    id: FactRef
    kind: FactKindOut
    text: str
    value: str
    source: str
    # Where it came from (facts sent through the API are "api") and so whether a draft may take a
    # link, address, phone number, price, discount or deadline from it.
    origin: FactOrigin
    trusted: bool
    observed_at: datetime


class SuppressionHitOut(Schema):
    reason: SuppressionReasonOut
    kind: SuppressionKindOut
    value: str
    list_name: str


class ContactOut(Schema):
    id: ContactRef
    full_name: str
    first_name: str
    last_name: str
    email: str
    emails: list[EmailIn]
    labels: list[str]
    notes: str
    title: str
    country: str
    inbox_id: InboxRef | None
    owner: str | None
    facts: list[FactOut]
    suppressed: SuppressionHitOut | None = None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_emails(obj: Recipient) -> list[dict]:
        return (obj.properties or {}).get("emails") or [{"label": "", "address": obj.email}]

    @staticmethod
    def resolve_labels(obj: Recipient) -> list[str]:
        return sorted(label.name for label in obj.labels.all())

    @staticmethod
    def resolve_notes(obj: Recipient) -> str:
        return str((obj.properties or {}).get("notes", ""))

    @staticmethod
    def resolve_inbox_id(obj: Recipient) -> int | None:
        profile = getattr(obj.owner, "sender", None) if obj.owner_id else None
        return profile.pk if profile else None

    @staticmethod
    def resolve_owner(obj: Recipient) -> str | None:
        return username(obj.owner) if obj.owner_id else None

    @staticmethod
    def resolve_facts(obj: Recipient) -> list[Fact]:
        return list(obj.facts.all())

    @staticmethod
    def resolve_suppressed(obj: Recipient) -> dict | None:
        # A list checks its whole page in one query (_bulk_hit); a single contact checks itself.
        hit = obj._bulk_hit if hasattr(obj, "_bulk_hit") else suppression_selectors.suppression_check(recipient=obj)
        return (
            None
            if hit is None
            else {"reason": hit.reason, "kind": hit.kind, "value": hit.value, "list_name": hit.list_name}
        )


class ContactPage(Schema):
    items: list[ContactOut]
    next_cursor: str | None


def _contact_out(recipient: Recipient) -> ContactOut:
    return ContactOut.from_orm(recipient)


def _get_recipient_for_user(request: HttpRequest, contact_id: int) -> Recipient:
    return get_object_or_404(people_selectors.recipients_visible_to(request.user), pk=contact_id)


@router.post(
    "/contacts/",
    response={200: ContactOut, 201: ContactOut, **ERRORS},
    auth=token_auth(Scope.CONTACTS_WRITE),
    tags=["contacts"],
    summary="Create or update a contact by address",
)
@idempotent
def contact_upsert(request: HttpRequest, payload: ContactIn):
    require_perm(request, "outreach.add_recipient", "Your role may not create or change contacts.")
    inbox = None
    if payload.inbox_id is not None:
        inbox = SenderProfile.objects.select_related("user").filter(pk=payload.inbox_id).first()
        if inbox is None:
            raise ApiError(422, "No such inbox (sender profile).", field="inbox_id")
    facts = [
        contacts.ContactFact(text=f) if isinstance(f, str) else contacts.ContactFact(**f.model_dump())
        for f in payload.facts
    ]
    data = contacts.ContactData(
        emails=[e.model_dump() for e in payload.emails],
        full_name=payload.full_name,
        inbox=inbox,
        labels=payload.labels,
        notes=payload.notes,
        facts=facts,
        title=payload.title,
        country=payload.country,
    )
    recipient, created = contacts.contact_upsert(data=data, actor=request.user)
    recipient = people_selectors.recipients_visible_to(request.user).get(pk=recipient.pk)
    return (201 if created else 200), _contact_out(recipient)


class ContactFilters(Schema):
    email: str | None = Field(None, description="Exact address.")
    q: str | None = Field(None, max_length=200, description="Search in address, name and account.")
    label: str | None = None
    inbox_id: InboxId | None = None
    updated_since: datetime | None = None
    cursor: str | None = None
    limit: Limit = 50


@router.get(
    "/contacts/",
    response={200: ContactPage, **ERRORS},
    auth=token_auth(Scope.CONTACTS_READ, Scope.CONTACTS_WRITE),
    tags=["contacts"],
)
def contact_list(request: HttpRequest, filters: Query[ContactFilters]):
    qs = people_selectors.recipients_visible_to(request.user).prefetch_related("labels", "facts")
    if filters.email:
        qs = qs.filter(email=filters.email.strip().lower())
    if filters.q:
        q = filters.q.strip()
        qs = qs.filter(
            Q(email__icontains=q.lower())
            | Q(first_name__icontains=q)
            | Q(last_name__icontains=q)
            | Q(account__name__icontains=q)
        )
    if filters.label:
        qs = qs.filter(labels__name=filters.label)
    if filters.inbox_id is not None:
        qs = qs.filter(owner__sender__pk=filters.inbox_id)
    if filters.updated_since:
        qs = qs.filter(updated_at__gte=filters.updated_since)
    page = paginate(qs.distinct(), cursor=filters.cursor, limit=filters.limit)
    hits = suppression_selectors.suppression_check_bulk(recipients=page["items"])
    for recipient in page["items"]:
        recipient._bulk_hit = hits.get(recipient.pk)
    return page


@router.get(
    "/contacts/{contact_id}/",
    response={200: ContactOut, **ERRORS},
    auth=token_auth(Scope.CONTACTS_READ, Scope.CONTACTS_WRITE),
    tags=["contacts"],
)
def contact_detail(request: HttpRequest, contact_id: ContactId):
    return _contact_out(_get_recipient_for_user(request, contact_id))


# --- Suppressions -----------------------------------------------------------------------------


class SuppressionIn(Schema):
    kind: SuppressionKind = Suppression.Kind.ADDRESS
    value: Annotated[str, StringConstraints(min_length=1, max_length=254)]
    reason: SuppressionReason = Suppression.Reason.MANUAL
    note: Annotated[str, StringConstraints(max_length=2000)] = ""
    list_id: SuppressionListId | None = Field(
        None, description="A suppression list (spl_…); the global list when left out."
    )
    expires_at: datetime | None = None


class SuppressionRemoveIn(Schema):
    kind: SuppressionKind = Suppression.Kind.ADDRESS
    value: Annotated[str, StringConstraints(min_length=1, max_length=254)]
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        ..., description="Why the entry is removed; kept in its history."
    )
    list_id: SuppressionListId | None = None


class SuppressionOut(Schema):
    id: SuppressionRef
    kind: SuppressionKindOut
    value: str
    reason: SuppressionReasonOut
    note: str
    source: str
    list_id: SuppressionListRef = Field(..., alias="suppression_list_id")
    list_name: str
    added_by: str | None
    created_at: datetime
    expires_at: datetime | None
    removed_at: datetime | None
    removed_by: str | None
    removal_reason: str
    active: bool

    @staticmethod
    def resolve_value(obj: Suppression) -> str:
        # A contact's own entry names the contact by its public id, as everywhere else.
        if obj.kind == Suppression.Kind.RECIPIENT and obj.value.isdigit():
            return public_id("ctc", int(obj.value)) or obj.value
        return obj.value

    @staticmethod
    def resolve_list_name(obj: Suppression) -> str:
        return obj.suppression_list.name

    @staticmethod
    def resolve_added_by(obj: Suppression) -> str | None:
        return username(obj.added_by) if obj.added_by_id else None

    @staticmethod
    def resolve_removed_by(obj: Suppression) -> str | None:
        return username(obj.removed_by) if obj.removed_by_id else None

    @staticmethod
    def resolve_active(obj: Suppression) -> bool:
        return obj.is_active


class SuppressionPage(Schema):
    items: list[SuppressionOut]
    next_cursor: str | None


class SuppressionRemoved(Schema):
    removed: list[SuppressionOut]


def _suppression_list(list_id: int | None) -> SuppressionList | None:
    if list_id is None:
        return None
    found = SuppressionList.objects.filter(pk=list_id).first()
    if found is None:
        raise ApiError(422, "No such suppression list.", field="list_id")
    return found


def _suppression_value(kind: str, value: str) -> str:
    """A contact's entry names the contact by its public id (ctc_…); stored as its row id."""
    if kind != Suppression.Kind.RECIPIENT:
        return value
    pk = public_ids.decode("ctc", value.strip())
    if pk is None:
        raise ApiError(422, "A contact's suppression names the contact by its id (ctc_…).", field="value")
    return str(pk)


MANAGE_SUPPRESSION = "outreach.add_suppression"
NO_SUPPRESSION_ROLE = "Your role may not manage suppression lists."


@router.post(
    "/suppressions/",
    response={200: SuppressionOut, 201: SuppressionOut, **ERRORS},
    auth=token_auth(Scope.SUPPRESSIONS_WRITE),
    tags=["suppressions"],
    summary="Suppress an address, a domain or a contact",
)
@idempotent
def suppression_create(request: HttpRequest, payload: SuppressionIn):
    require_perm(request, MANAGE_SUPPRESSION, NO_SUPPRESSION_ROLE)
    payload.value = _suppression_value(payload.kind, payload.value)
    suppression_list = _suppression_list(payload.list_id) or suppression_services.suppression_list_get_global()
    existed = (
        suppression_selectors.active_suppressions()
        .filter(
            suppression_list=suppression_list,
            kind=payload.kind,
            value=suppression_selectors.normalize_suppression_value(payload.kind, payload.value),
        )
        .exists()
    )
    try:
        entry = suppression_services.suppression_add(
            kind=payload.kind,
            value=payload.value,
            reason=payload.reason,
            suppression_list=suppression_list,
            note=payload.note,
            source=f"API, by {request.user.get_username()}",
            added_by=request.user,
            expires_at=payload.expires_at,
        )
    except ApplicationError as exc:
        field = "expires_at" if "expire" in exc.message else "value"
        raise ApiError(422, exc.message, field=field) from exc
    # Already suppressed: the existing entry is returned as it is.
    return (200 if existed else 201), SuppressionOut.from_orm(entry)


class SuppressionFilters(Schema):
    q: str | None = Field(None, max_length=200)
    kind: SuppressionKind | None = None
    value: str | None = Field(None, max_length=254)
    list_id: SuppressionListId | None = None
    include_removed: bool = False
    cursor: str | None = None
    limit: Limit = 50


@router.get(
    "/suppressions/",
    response={200: SuppressionPage, **ERRORS},
    auth=token_auth(Scope.SUPPRESSIONS_WRITE),
    tags=["suppressions"],
)
def suppression_list(request: HttpRequest, filters: Query[SuppressionFilters]):
    require_perm(request, MANAGE_SUPPRESSION, NO_SUPPRESSION_ROLE)
    qs = suppression_selectors.suppression_search(
        user=request.user, query=filters.q or "", list_id=filters.list_id, include_removed=filters.include_removed
    )
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.value:
        qs = qs.filter(
            value=suppression_selectors.normalize_suppression_value(
                filters.kind or Suppression.Kind.ADDRESS,
                _suppression_value(filters.kind or Suppression.Kind.ADDRESS, filters.value),
            )
        )
    return paginate(qs, cursor=filters.cursor, limit=filters.limit)


@router.delete(
    "/suppressions/",
    response={200: SuppressionRemoved, **ERRORS},
    auth=token_auth(Scope.SUPPRESSIONS_WRITE),
    tags=["suppressions"],
    summary="Remove the active entries for a value, with a reason (their history is kept)",
)
def suppression_remove(request: HttpRequest, payload: SuppressionRemoveIn):
    require_perm(request, MANAGE_SUPPRESSION, NO_SUPPRESSION_ROLE)
    payload.value = _suppression_value(payload.kind, payload.value)
    qs = suppression_selectors.suppressions_visible_to(request.user).filter(
        kind=payload.kind,
        value=suppression_selectors.normalize_suppression_value(payload.kind, payload.value),
        removed_at__isnull=True,
    )
    if payload.list_id is not None:
        qs = qs.filter(suppression_list=_suppression_list(payload.list_id))
    entries = list(qs)
    if not entries:
        raise ApiError(404, f"No active suppression for {payload.kind} {payload.value}.", field="value")
    removed = [
        suppression_services.suppression_remove(entry=e, removed_by=request.user, reason=payload.reason)
        for e in entries
    ]
    return {"removed": removed}


# --- Messages (the outbox) --------------------------------------------------------------------


class MessageOut(Schema):
    id: MessageRef
    draft_id: DraftRef | None
    contact_id: ContactRef
    inbox_id: InboxRef | None
    sender: str
    campaign_id: SequenceRef | None
    enrollment_id: EnrollmentRef | None
    from_email: str
    to_email: str
    cc: list[str]
    bcc: list[str]
    subject: str
    preview_text: str
    status: SendStatus
    state: MessageStateOut = Field(..., description="The outbox row's state.")
    code: str = Field(..., description="As send_result.code; empty while nothing went wrong. " + SEND_CODE_HELP)
    error_message: str
    provider: str
    provider_message_id: str
    provider_response: dict
    message_id: str
    attempts: int
    complete_on_send_failure: bool
    approved_by: str | None
    created_at: datetime
    sent_at: datetime | None
    send_result: SendResultOut

    @staticmethod
    def resolve_draft_id(obj: OutboundMessage) -> int | None:
        return obj.draft_ref

    @staticmethod
    def resolve_contact_id(obj: OutboundMessage) -> int:
        return obj.recipient_id

    @staticmethod
    def resolve_inbox_id(obj: OutboundMessage) -> int | None:
        profile = getattr(obj.sender, "sender", None)
        return profile.pk if profile else None

    @staticmethod
    def resolve_campaign_id(obj: OutboundMessage) -> int | None:
        return obj.campaign_ref

    @staticmethod
    def resolve_enrollment_id(obj: OutboundMessage) -> int | None:
        return obj.enrollment_ref

    @staticmethod
    def resolve_status(obj: OutboundMessage) -> str:
        return obj.as_send_result()["status"]

    @staticmethod
    def resolve_code(obj: OutboundMessage) -> str:
        return obj.result_code

    @staticmethod
    def resolve_send_result(obj: OutboundMessage) -> dict:
        return obj.as_send_result()

    @staticmethod
    def resolve_sender(obj: OutboundMessage) -> str:
        return obj.sender.get_username()

    @staticmethod
    def resolve_approved_by(obj: OutboundMessage) -> str | None:
        return username(obj.approved_by) if obj.approved_by_id else None


class MessagePage(Schema):
    items: list[MessageOut]
    next_cursor: str | None


class MessageFilters(Schema):
    status: SendStatus | None = Field(None, description="The send result's status.")
    state: MessageState | None = Field(None, description="The outbox row's state.")
    code: MessageCode | None = None
    contact_id: ContactId | None = None
    campaign_id: SequenceId | None = None
    cursor: str | None = None
    limit: Limit = 50


STATES_BY_STATUS: dict[str, list[str]] = {}
for _state, _status in OutboundMessage._STATUS_BY_STATE.items():
    STATES_BY_STATUS.setdefault(_status, []).append(_state)


@router.get(
    "/messages/",
    response={200: MessagePage, **ERRORS},
    auth=token_auth(Scope.DRAFTS_READ, Scope.EMAIL_SEND),
    tags=["messages"],
    by_alias=True,
)
def message_list(request: HttpRequest, filters: Query[MessageFilters]):
    qs = filter_given(
        mail_selectors.messages_visible_to(request.user).select_related("approved_by", "sender__sender"),
        state__in=STATES_BY_STATUS.get(filters.status or ""),
        state=filters.state,
        code=filters.code,
        recipient_id=filters.contact_id,
        campaign_ref=filters.campaign_id,
    )
    return paginate(qs, cursor=filters.cursor, limit=filters.limit)


@router.get(
    "/messages/{message_id}/",
    response={200: MessageOut, **ERRORS},
    auth=token_auth(Scope.DRAFTS_READ, Scope.EMAIL_SEND),
    tags=["messages"],
    by_alias=True,
    summary="A message with its send result (the one-to-one send shape)",
)
def message_detail(request: HttpRequest, message_id: MessageId):
    return get_object_or_404(
        mail_selectors.messages_visible_to(request.user).select_related("sender__sender"), pk=message_id
    )


# --- Emitted events (pull) --------------------------------------------------------------------


def _event_out(event: EmittedEvent) -> dict:
    return {**event.as_body(), "cursor": encode_cursor(event.pk)}


class EventPage(Schema):
    items: list[EventOut]
    next_cursor: str | None


class EventFilters(Schema):
    type: EventTypeName | None = None
    cursor: str | None = Field(
        None, description="Events after this one; keep the last next_cursor (or an item's cursor) to poll."
    )
    limit: Limit = 50


@router.get(
    "/events/",
    response={200: EventPage, **ERRORS},
    auth=token_auth(Scope.EVENTS_READ),
    tags=["events"],
    summary="Emitted signals, oldest first, for pull-based consumers",
    by_alias=True,
)
def event_list(request: HttpRequest, filters: Query[EventFilters]):
    qs = filter_given(integration_selectors.emitted_events_visible_to(request.user), type=filters.type)
    page = paginate(qs, cursor=filters.cursor, limit=filters.limit)
    return {**page, "items": [_event_out(event) for event in page["items"]]}


# --- Webhook subscriptions --------------------------------------------------------------------

MANAGE_WEBHOOKS = "outreach.add_webhooksubscription"
NO_WEBHOOK_ROLE = "Only admins manage webhook subscriptions."


class WebhookIn(Schema):
    url: Annotated[str, StringConstraints(min_length=8, max_length=500)]
    event_types: list[EventTypeName] = Field(..., min_length=1)
    description: Annotated[str, StringConstraints(max_length=200)] = ""
    is_active: bool = True


class WebhookPatch(Schema):
    url: Annotated[str, StringConstraints(min_length=8, max_length=500)] | None = None
    event_types: list[EventTypeName] | None = Field(None, min_length=1)
    description: Annotated[str, StringConstraints(max_length=200)] | None = None
    is_active: bool | None = None
    rotate_secret: bool = False


class WebhookOut(Schema):
    id: WebhookRef
    url: str
    event_types: list[EventTypeOut]
    description: str
    is_active: bool
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(..., description="whsec_…: verify signatures with it. Shown on creation and rotation.")


class WebhookPage(Schema):
    items: list[WebhookOut]
    next_cursor: str | None


class DeliveryOut(Schema):
    id: DeliveryRef
    subscription_id: WebhookRef
    event_id: str
    event_type: EventTypeOut
    status: DeliveryStatusOut
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    response_code: int | None
    response_body: str
    error: str
    attempt_log: list[dict]
    delivered_at: datetime | None

    @staticmethod
    def resolve_event_id(obj: WebhookDelivery) -> str:
        return obj.event.public_id

    @staticmethod
    def resolve_event_type(obj: WebhookDelivery) -> str:
        return obj.event.type


class DeliveryPage(Schema):
    items: list[DeliveryOut]
    next_cursor: str | None


def _get_subscription_for_user(request: HttpRequest, subscription_id: int) -> WebhookSubscription:
    require_perm(request, MANAGE_WEBHOOKS, NO_WEBHOOK_ROLE)
    return get_object_or_404(integration_selectors.webhook_subscriptions_visible_to(request.user), pk=subscription_id)


def _get_delivery_for_user(request: HttpRequest, delivery_id: int) -> WebhookDelivery:
    require_perm(request, MANAGE_WEBHOOKS, NO_WEBHOOK_ROLE)
    return get_object_or_404(integration_selectors.webhook_deliveries_visible_to(request.user), pk=delivery_id)


@router.post(
    "/webhooks/",
    response={201: WebhookCreated, **ERRORS},
    auth=token_auth(Scope.WEBHOOKS_WRITE),
    tags=["webhooks"],
    summary="Subscribe a URL to emitted signals",
)
@idempotent
def webhook_create(request: HttpRequest, payload: WebhookIn):
    require_perm(request, MANAGE_WEBHOOKS, NO_WEBHOOK_ROLE)
    sub = webhooks.webhook_subscription_create(
        url=payload.url,
        event_types=list(payload.event_types),
        description=payload.description,
        is_active=payload.is_active,
        created_by=request.user,
    )
    return 201, WebhookCreated.from_orm(sub)


@router.get(
    "/webhooks/", response={200: WebhookPage, **ERRORS}, auth=token_auth(Scope.WEBHOOKS_WRITE), tags=["webhooks"]
)
def webhook_list(request: HttpRequest, cursor: str | None = None, limit: Limit = 50):
    require_perm(request, MANAGE_WEBHOOKS, NO_WEBHOOK_ROLE)
    return paginate(integration_selectors.webhook_subscriptions_visible_to(request.user), cursor=cursor, limit=limit)


@router.get(
    "/webhooks/{subscription_id}/",
    response={200: WebhookOut, **ERRORS},
    auth=token_auth(Scope.WEBHOOKS_WRITE),
    tags=["webhooks"],
)
def webhook_detail(request: HttpRequest, subscription_id: WebhookId):
    return _get_subscription_for_user(request, subscription_id)


@router.patch(
    "/webhooks/{subscription_id}/",
    response={200: WebhookCreated, **ERRORS},
    auth=token_auth(Scope.WEBHOOKS_WRITE),
    tags=["webhooks"],
)
def webhook_update(request: HttpRequest, subscription_id: WebhookId, payload: WebhookPatch):
    sub = _get_subscription_for_user(request, subscription_id)
    changes = payload.model_dump(exclude_unset=True)
    return webhooks.webhook_subscription_update(subscription=sub, **changes)


@router.delete(
    "/webhooks/{subscription_id}/",
    response={204: None, **ERRORS},
    auth=token_auth(Scope.WEBHOOKS_WRITE),
    tags=["webhooks"],
)
def webhook_delete(request: HttpRequest, subscription_id: WebhookId):
    webhooks.webhook_subscription_delete(subscription=_get_subscription_for_user(request, subscription_id))
    return Status(204, None)


@router.get(
    "/webhooks/{subscription_id}/deliveries/",
    response={200: DeliveryPage, **ERRORS},
    auth=token_auth(Scope.WEBHOOKS_WRITE),
    tags=["webhooks"],
    summary="Delivery log: attempts and responses",
)
def webhook_delivery_list(
    request: HttpRequest,
    subscription_id: WebhookId,
    status: DeliveryStatus | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
):
    sub = _get_subscription_for_user(request, subscription_id)
    qs = sub.deliveries.select_related("event")
    if status:
        qs = qs.filter(status=status)
    return paginate(qs, cursor=cursor, limit=limit)


@router.post(
    "/webhooks/deliveries/{delivery_id}/replay",
    response={202: DeliveryOut, **ERRORS},
    auth=token_auth(Scope.WEBHOOKS_WRITE),
    tags=["webhooks"],
    summary="Send a delivery again now (same webhook-id)",
)
def webhook_delivery_replay(request: HttpRequest, delivery_id: DeliveryId):
    delivery = _get_delivery_for_user(request, delivery_id)
    return Status(202, webhooks.webhook_delivery_replay(delivery=delivery, user=request.user))
