"""The wire shapes of what we emit: one schema per event type, `type` the discriminator, and the
send result they share with the messages API. `GET /v1/events/` answers with them and webhooks
carry the same `{id, type, timestamp, data}` bodies (`EmittedEvent.as_body()`); the emitters are
`services/events.py` and `review/events.py` (a test checks every payload they write against these)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from ninja import Field, Schema
from pydantic import WithJsonSchema

from outreach.integrations.api_support import named_enum
from outreach.integrations.models import EmittedEvent
from outreach.mail.models import EngagementEvent, OutboundMessage, SendingPause
from outreach.suppression.models import Suppression

# An event's moments as the emitter wrote them (ISO 8601): kept as text so the feed and the
# webhooks carry byte-identical data.
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
# The one-to-one send shape's statuses: final ones (success, failure, skipped) and the two before.
SEND_STATUSES = list(dict.fromkeys(OutboundMessage._STATUS_BY_STATE.values()))
FINAL_SEND_STATUSES = [OutboundMessage._STATUS_BY_STATE[s] for s in OutboundMessage.FINAL_STATES]
SEND_STATUS_HELP = (
    "success, failure or skipped once final; pending while queued or sending; unknown: a person must decide."
)
SendStatus = Annotated[str, named_enum(SEND_STATUSES, "SendStatus", SEND_STATUS_HELP)]
FinalSendStatus = Annotated[str, named_enum(FINAL_SEND_STATUSES, "FinalSendStatus")]
SEND_CODE_HELP = (
    "Why it failed or was skipped: resend_error (or <channel>_error: smtp_error, postmark_error…), "
    "duplicate_email, user_marketing_email_opt_out, suppressed, daily_limit_reached, invalid_address, "
    "content_changed, undone, sender_paused, mailbox_disconnected. Open-ended (a new channel brings its "
    "own <channel>_error), so typed as a string."
)
# What engagement_signal reports (other engagement kinds are recorded but not emitted).
EMITTED_ENGAGEMENT_KINDS = [
    EngagementEvent.Kind.REPLIED,
    EngagementEvent.Kind.OPENED,
    EngagementEvent.Kind.BOUNCED,
    EngagementEvent.Kind.COMPLAINED,
    EngagementEvent.Kind.UNSUBSCRIBED,
]
# The review app's decisions that emit draft_edit_signal (review sits above this app, so the
# values are named here; a test keeps them equal to review.events.EMITTED_ACTIONS).
EMITTED_DECISIONS = ["approve", "edit_approve", "reject"]
DECISION_VIAS = ["web", "api"]


class SendEmailOptionsOut(Schema):
    """What was handed (or was to be handed) to the provider."""

    from_: str = Field(..., alias="from")
    to: list[str]
    subject: str
    preview_text: str
    text: str
    html: str
    cc: list[str]
    bcc: list[str]
    headers: dict[str, str]


class SendResultOut(Schema):
    """One send's outcome, in the one-to-one send shape (`OutboundMessage.as_send_result()`)."""

    status: SendStatus
    to_id: str = Field(..., description="The contact (ctc_…).")
    from_id: str | None = Field(..., description="The inbox it is sent from (inb_…).")
    email_id: str = Field(..., description="This message (msg_…).")
    sender_config_id: str | None = Field(..., description="The sender's own channel (scf_…); null: the organization's.")
    mailbox_id: str | None = Field(None, description="The sender's own mailbox it went out through (mbx_…).")
    create_email_options: SendEmailOptionsOut
    create_email_response: dict | None = Field(..., description="The provider's answer, as it gave it.")
    code: str | None = Field(..., description=SEND_CODE_HELP)
    error_message: str | None


# --- Event data, one schema per type -------------------------------------------------------------


class EventRecipientOut(Schema):
    id: str | None = Field(..., description="The contact (ctc_…).")
    email: str


class EngagementSignalData(Schema):
    """A reply, an open (only where the recipient consented to open tracking), a bounce, a
    complaint or an unsubscribe, attributed to the message and where it came from."""

    engagement_id: str = Field(..., description="eng_…")
    kind: Annotated[str, named_enum(EMITTED_ENGAGEMENT_KINDS, "EngagementKind")]
    occurred_at: Timestamp
    recipient: EventRecipientOut | None
    message_id: str | None = Field(..., description="The message it concerns (msg_…), when known.")
    draft_id: str | None
    campaign_id: str | None = Field(..., description="The sequence (seq_…).")
    enrollment_id: str | None
    sender: str | None = Field(..., description="The sending team member's username.")
    reply_class: Annotated[str, named_enum(EngagementEvent.ReplyClass, "ReplyClass")] | None = Field(
        ..., description="What kind of answer a reply is; null for the other kinds."
    )
    reply_class_reason: str | None = Field(..., description="Why it was classed so, in words.")


class DraftEditOut(Schema):
    char_distance: int
    word_distance: int
    normalized_similarity: float
    changed_parts: list[str]


class DraftEditSignalData(Schema):
    """A person's decision on a draft: approved as written, edited and approved, or rejected."""

    draft_id: str
    decision: Annotated[str, named_enum(EMITTED_DECISIONS, "DraftDecisionAction")]
    via: Annotated[str, named_enum(DECISION_VIAS, "DecisionVia")]
    decided_by: str | None
    reason: str
    note: str
    decided_at: Timestamp
    recipient: EventRecipientOut
    sender: str
    campaign_id: str | None
    enrollment_id: str | None
    step_id: str | None
    edit: DraftEditOut | None = Field(..., description="How much the text changed (edit_approve only).")


class SuppressionAdditionData(Schema):
    suppression_id: str
    kind: Annotated[str, named_enum(Suppression.Kind, "SuppressionKind")]
    value: str = Field(..., description="The address, domain, or the contact's id (ctc_…).")
    reason: Annotated[str, named_enum(Suppression.Reason, "SuppressionReason")]
    list: str = Field(..., description="The suppression list's name.")
    source: str = Field(..., description="Where it came from: a person, a webhook event, an import.")
    created_at: Timestamp
    expires_at: Timestamp | None
    recipient: EventRecipientOut | None


class SendingPauseData(Schema):
    pause_id: int
    scope: Annotated[str, named_enum(SendingPause.Scope, "SendingPauseScope")]
    sender: str | None
    domain: str | None
    cause: Annotated[str, named_enum(SendingPause.Cause, "SendingPauseCause")]
    events: int = Field(..., description="Bounced or complained sends in the window.")
    sends: int = Field(..., description="Sends in the window.")
    threshold_percent: float
    reason: str
    paused_at: Timestamp
    resumed_at: Timestamp | None
    resumed_by: str | None
    resume_note: str | None


class SendingPausedData(SendingPauseData):
    """The automatic brake went on: `held` emails wait for a person."""

    held: int


class SendingResumedData(SendingPauseData):
    """A person took the brake off: `released` emails go out again."""

    released: int


class EmailSendResultData(SendResultOut):
    """A send's final outcome in the one-to-one send shape, with where it came from."""

    status: FinalSendStatus
    draft_id: str | None
    campaign_id: str | None
    enrollment_id: str | None
    sender: str | None
    sent_at: Timestamp | None


# --- Events: {id, type, timestamp, data}, `type` the discriminator ---------------------------------
# A webhook delivery's body is `…Webhook`; the events feed adds each event's cursor (`…Event`).


class _WebhookBase(Schema):
    id: str = Field(..., description="evt_…; also the webhook-id header of its deliveries.")
    timestamp: Timestamp


class _Cursor(Schema):
    cursor: str = Field(..., description="Poll GET /v1/events/?cursor=… with it to read what came after.")


class EngagementSignalWebhook(_WebhookBase):
    type: Literal["engagement_signal"]
    data: EngagementSignalData


class DraftEditSignalWebhook(_WebhookBase):
    type: Literal["draft_edit_signal"]
    data: DraftEditSignalData


class SuppressionAdditionWebhook(_WebhookBase):
    type: Literal["suppression_addition"]
    data: SuppressionAdditionData


class SendingPausedWebhook(_WebhookBase):
    type: Literal["sending_paused"]
    data: SendingPausedData


class SendingResumedWebhook(_WebhookBase):
    type: Literal["sending_resumed"]
    data: SendingResumedData


class EmailSendResultWebhook(_WebhookBase):
    type: Literal["email_send_result"]
    data: EmailSendResultData


class EngagementSignalEvent(EngagementSignalWebhook, _Cursor):
    pass


class DraftEditSignalEvent(DraftEditSignalWebhook, _Cursor):
    pass


class SuppressionAdditionEvent(SuppressionAdditionWebhook, _Cursor):
    pass


class SendingPausedEvent(SendingPausedWebhook, _Cursor):
    pass


class SendingResumedEvent(SendingResumedWebhook, _Cursor):
    pass


class EmailSendResultEvent(EmailSendResultWebhook, _Cursor):
    pass


EVENT_SCHEMAS: dict[str, type[_WebhookBase]] = {
    EmittedEvent.Type.ENGAGEMENT: EngagementSignalEvent,
    EmittedEvent.Type.DRAFT_EDIT: DraftEditSignalEvent,
    EmittedEvent.Type.SUPPRESSION: SuppressionAdditionEvent,
    EmittedEvent.Type.SENDING_PAUSED: SendingPausedEvent,
    EmittedEvent.Type.SENDING_RESUMED: SendingResumedEvent,
    EmittedEvent.Type.SEND_RESULT: EmailSendResultEvent,
}
WEBHOOK_SCHEMAS: dict[str, type[_WebhookBase]] = {
    EmittedEvent.Type.ENGAGEMENT: EngagementSignalWebhook,
    EmittedEvent.Type.DRAFT_EDIT: DraftEditSignalWebhook,
    EmittedEvent.Type.SUPPRESSION: SuppressionAdditionWebhook,
    EmittedEvent.Type.SENDING_PAUSED: SendingPausedWebhook,
    EmittedEvent.Type.SENDING_RESUMED: SendingResumedWebhook,
    EmittedEvent.Type.SEND_RESULT: EmailSendResultWebhook,
}


def webhooks_openapi(components: dict[str, Any]) -> dict[str, Any]:
    """The schema's `webhooks` section (OpenAPI 3.1): what each subscribed URL receives, signed the
    Standard Webhooks way; the bodies' schemas are added to `components`."""
    section = {}
    for event_type, model in WEBHOOK_SCHEMAS.items():
        body = model.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True)
        for name, definition in body.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components.setdefault(model.__name__, body)
        section[str(event_type)] = {
            "post": {
                "summary": f"{event_type}: {EmittedEvent.Type(event_type).label}",
                "description": (
                    "POSTed to each subscribed URL, with headers webhook-id (the event id, the same on every "
                    "retry), webhook-timestamp and webhook-signature (v1,<base64 HMAC-SHA256 of "
                    '"{id}.{timestamp}.{body}"> keyed with the whsec_ secret). Any 2xx answer acknowledges it; '
                    "anything else is retried (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h)."
                ),
                "operationId": f"webhook_{event_type}",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
                },
                "responses": {"2XX": {"description": "Received."}},
            }
        }
    return section


EventOut = Annotated[
    Union[  # noqa: UP007 - pydantic's discriminated union, one schema per event type
        EngagementSignalEvent,
        DraftEditSignalEvent,
        SuppressionAdditionEvent,
        SendingPausedEvent,
        SendingResumedEvent,
        EmailSendResultEvent,
    ],
    Field(discriminator="type"),
]
