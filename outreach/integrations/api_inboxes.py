"""The inboxes' routes beyond the list: each inbox's threads and their messages (`inboxes:read`),
connecting an IMAP/SMTP mailbox for the token's user and syncing an inbox now (`inboxes:write`).

An inbox is a team member's sender profile (`inb_…`); the mailboxes connected to it (`mbx_…`) are
where its mail goes out and its replies come in. Thin: parse, check, call a service or selector."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from pydantic import StringConstraints

from outreach.core.errors import ApplicationError
from outreach.integrations.api_events import SendStatus
from outreach.integrations.api_support import (
    ERRORS,
    ApiError,
    ContactId,
    ContactRef,
    InboxId,
    InboxRef,
    PublicIdIn,
    PublicIdOut,
    filter_given,
    idempotent,
    named_enum,
    paginate,
    public_id,
    token_auth,
    username,
)
from outreach.integrations.models import ApiToken
from outreach.mail import selectors as mail_selectors
from outreach.mail.models import MailboxConnection, OutboundMessage
from outreach.mail.services import mailbox_sync, mailboxes
from outreach.people import selectors as people_selectors
from outreach.people.models import SenderProfile

router = Router(tags=["inboxes"])
Scope = ApiToken.Scope

ThreadId = Annotated[int, PublicIdIn("thr")]
ThreadRef = Annotated[int, PublicIdOut("thr")]
MailboxRef = Annotated[int, PublicIdOut("mbx")]
Security = Annotated[
    MailboxConnection.Security, named_enum(MailboxConnection.Security, "MailboxSecurity", "ssl: implicit TLS.")
]
MailboxKind = Annotated[MailboxConnection.Kind, named_enum(MailboxConnection.Kind, "MailboxKind")]
MailboxState = Annotated[MailboxConnection.State, named_enum(MailboxConnection.State, "MailboxState")]
Limit = Annotated[int, Field(ge=1, le=200)]
Host = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Port = Annotated[int, Field(ge=1, le=65535)]

READ = token_auth(Scope.INBOXES_READ, Scope.INBOXES_WRITE)
WRITE = token_auth(Scope.INBOXES_WRITE)


def _get_inbox_for_user(request: HttpRequest, inbox_id: int) -> SenderProfile:
    return get_object_or_404(people_selectors.inboxes_visible_to(request.user), pk=inbox_id)


def _inbox_messages(request: HttpRequest, inbox: SenderProfile) -> QuerySet[OutboundMessage]:
    """The inbox's emails this caller may see (`messages_visible_to`)."""
    return mail_selectors.messages_visible_to(request.user).filter(sender_id=inbox.user_id)


# --- Inboxes -------------------------------------------------------------------------------------


class InboxOut(Schema):
    """A team member's sending identity: what `inbox_id` and `sender_inbox_id` name."""

    id: InboxRef
    email: str
    display_name: str
    owner: str
    is_mine: bool

    @staticmethod
    def resolve_owner(obj: SenderProfile) -> str:
        return username(obj.user)

    @staticmethod
    def resolve_is_mine(obj: SenderProfile, context) -> bool:
        request = context["request"] if context else None
        return bool(request is not None and obj.user_id == request.user.pk)


class InboxPage(Schema):
    items: list[InboxOut]
    next_cursor: str | None


@router.get(
    "/inboxes/",
    response={200: InboxPage, **ERRORS},
    auth=token_auth(
        Scope.CONTACTS_READ,
        Scope.CONTACTS_WRITE,
        Scope.SEQUENCES_WRITE,
        Scope.EMAIL_SEND,
        Scope.INBOXES_READ,
        Scope.INBOXES_WRITE,
    ),
    summary="The inboxes you may send from (your own; CSMs and admins: every active team member's)",
)
def inbox_list(request: HttpRequest, cursor: str | None = None, limit: Limit = 50):
    return paginate(people_selectors.inboxes_sendable_by(user=request.user), cursor=cursor, limit=limit)


# --- Threads ------------------------------------------------------------------------------------


class ThreadOut(Schema):
    """A conversation: a first email, the follow-ups that answer it, and what came back."""

    id: ThreadRef = Field(..., description="The thread (thr_…); the same as its first email's.")
    inbox_id: InboxRef
    contact_id: ContactRef
    first_message_id: str = Field(..., description="The first email (msg_…).")
    subject: str
    started_at: datetime
    last_activity_at: datetime
    email_count: int = Field(..., description="Emails we sent in the thread.")
    inbound_count: int = Field(..., description="Replies, auto-replies and bounces that came back.")

    @staticmethod
    def resolve_inbox_id(obj: OutboundMessage, context) -> int:
        return context["inbox_pk"] if context and "inbox_pk" in context else obj.sender.sender.pk

    @staticmethod
    def resolve_contact_id(obj: OutboundMessage) -> int:
        return obj.recipient_id

    @staticmethod
    def resolve_first_message_id(obj: OutboundMessage) -> str:
        return public_id("msg", obj.pk) or ""

    @staticmethod
    def resolve_started_at(obj: OutboundMessage) -> datetime:
        return obj.sent_at or obj.created_at


class ThreadPage(Schema):
    items: list[ThreadOut]
    next_cursor: str | None


class ThreadFilters(Schema):
    contact_id: ContactId | None = None
    cursor: str | None = None
    limit: Limit = 50


def _threads(request: HttpRequest, inbox: SenderProfile) -> QuerySet[OutboundMessage]:
    return mail_selectors.threads_of(_inbox_messages(request, inbox)).select_related("sender__sender")


@router.get(
    "/inboxes/{inbox_id}/threads/",
    response={200: ThreadPage, **ERRORS},
    auth=READ,
    summary="An inbox's threads (yours; CSMs and admins: any team member's), oldest first",
)
def inbox_thread_list(request: HttpRequest, inbox_id: InboxId, filters: Query[ThreadFilters]):
    inbox = _get_inbox_for_user(request, inbox_id)
    qs = filter_given(_threads(request, inbox), recipient_id=filters.contact_id)
    return paginate(qs, cursor=filters.cursor, limit=filters.limit)


class ThreadMessageOut(Schema):
    """One email of a thread: ours (`out`, a msg_… id) or one that came back (`in`, an eng_… id)."""

    id: str = Field(..., description="msg_… for ours; eng_… for a reply, auto-reply or bounce.")
    direction: Literal["out", "in"]
    kind: Literal["email", "replied", "auto_replied", "bounced", "soft_bounced"]
    at: datetime = Field(..., description="Sent (or queued, if not sent yet) or received.")
    from_address: str
    to_address: str
    subject: str
    text: str = Field(..., description="Ours as approved; a reply without its quoted history.")
    message_id: str = Field(..., description="The RFC 5322 Message-ID header, where known.")
    answers_id: str | None = Field(..., description="For an email that came back: ours it answers (msg_…).")
    status: SendStatus | None = Field(
        None, description="Ours: the send result's status (success, failure, skipped, pending, unknown)."
    )


class ThreadMessagesOut(Schema):
    thread: ThreadOut
    items: list[ThreadMessageOut]


def _message_out(entry: mail_selectors.ThreadEntry) -> dict:
    out = entry.event is None
    return {
        "id": public_id("msg", entry.message.pk) if out else public_id("eng", entry.event.pk),  # type: ignore[union-attr]
        "direction": entry.direction,
        "kind": entry.kind,
        "at": entry.at,
        "from_address": entry.from_address,
        "to_address": entry.to_address,
        "subject": entry.subject,
        "text": entry.text,
        "message_id": entry.message.message_id if out else str((entry.event.payload or {}).get("message_id") or ""),  # type: ignore[union-attr]
        "answers_id": None if out else public_id("msg", entry.message.pk),
        "status": entry.message.as_send_result()["status"] if out else None,
    }


@router.get(
    "/inboxes/{inbox_id}/threads/{thread_id}/messages/",
    response={200: ThreadMessagesOut, **ERRORS},
    auth=READ,
    summary="A thread with every email in and out, oldest first",
)
def inbox_thread_messages(request: HttpRequest, inbox_id: InboxId, thread_id: ThreadId):
    inbox = _get_inbox_for_user(request, inbox_id)
    thread = get_object_or_404(_threads(request, inbox), pk=thread_id)
    entries = mail_selectors.thread_entries(
        user=request.user, thread_id=thread.pk, messages=_inbox_messages(request, inbox)
    )
    return {"thread": thread, "items": [_message_out(e) for e in entries]}


# --- Connecting a mailbox and syncing an inbox ---------------------------------------------------


class InboxConnectIn(Schema):
    """An IMAP/SMTP mailbox for the token's own user. Both logins are tried before anything is
    saved; the password is stored encrypted and never returned."""

    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]
    username: Annotated[str, StringConstraints(max_length=255)] = Field("", description="Empty: the email address.")
    password: Annotated[str, StringConstraints(min_length=1, max_length=1000)] = Field(
        ..., description="The password or app password. Write-only."
    )
    imap_host: Host
    imap_port: Port = 993
    imap_security: Security = MailboxConnection.Security.SSL
    smtp_host: Host
    smtp_port: Port = 587
    smtp_security: Security = MailboxConnection.Security.STARTTLS


InboxConnectIn.request_examples = {  # type: ignore[attr-defined]
    "imap_smtp": {
        "email": "rita@team.example",
        "username": "rita@team.example",
        "password": "app-password",
        "imap_host": "imap.team.example",
        "imap_port": 993,
        "imap_security": "ssl",
        "smtp_host": "smtp.team.example",
        "smtp_port": 587,
        "smtp_security": "starttls",
    }
}


class MailboxOut(Schema):
    """A connected mailbox; its password is never shown."""

    id: MailboxRef
    inbox_id: InboxRef | None = Field(..., description="The owner's inbox (inb_…); null without a sender profile.")
    email: str
    kind: MailboxKind
    state: MailboxState
    state_reason: str
    is_default: bool = Field(..., description="The owner's emails go out through this mailbox.")
    imap_host: str
    imap_port: int
    imap_security: Security
    smtp_host: str
    smtp_port: int
    smtp_security: Security
    username: str
    connected_at: datetime
    last_synced_at: datetime | None
    last_sync_error: str
    messages_matched: int

    @staticmethod
    def resolve_inbox_id(obj: MailboxConnection) -> int | None:
        profile = SenderProfile.objects.filter(user_id=obj.user_id).values_list("pk", flat=True).first()
        return profile

    @staticmethod
    def resolve_email(obj: MailboxConnection) -> str:
        return obj.email_address


@router.post(
    "/inboxes/",
    response={201: MailboxOut, **ERRORS},
    auth=WRITE,
    summary="Connect an IMAP/SMTP mailbox for the token's user (both logins checked first)",
)
@idempotent
def inbox_connect(request: HttpRequest, payload: InboxConnectIn):
    try:
        mailbox = mailboxes.mailbox_connect_imap(
            user=request.user,
            email_address=payload.email,
            imap_host=payload.imap_host,
            imap_port=payload.imap_port,
            imap_security=payload.imap_security,
            smtp_host=payload.smtp_host,
            smtp_port=payload.smtp_port,
            smtp_security=payload.smtp_security,
            username=payload.username,
            password=payload.password,
        )
    except ApplicationError as exc:
        raise ApiError(422, exc.message, field=exc.extra.get("field")) from exc
    return 201, MailboxOut.from_orm(mailbox)


class MailboxSyncOut(Schema):
    mailbox_id: MailboxRef
    email: str
    state: MailboxState
    changed: bool = Field(..., description="Something arrived since the last pass.")
    read: int = Field(..., description="Emails read in this pass.")
    outcomes: dict[str, int] = Field(..., description="How many were replied, auto_replied, bounced, ignored…")
    error: str
    skipped: str = Field(..., description="Why the mailbox was not read (not connected, another worker on it).")
    last_synced_at: datetime | None


class InboxSyncOut(Schema):
    inbox_id: InboxRef
    mailboxes: list[MailboxSyncOut]


@router.post(
    "/inboxes/{inbox_id}/sync",
    response={200: InboxSyncOut, **ERRORS},
    auth=WRITE,
    summary="Read the inbox's connected mailboxes now (what the worker does every interval)",
)
def inbox_sync(request: HttpRequest, inbox_id: InboxId):
    inbox = _get_inbox_for_user(request, inbox_id)
    results = []
    for mailbox in mail_selectors.mailboxes_visible_to(request.user).filter(
        user_id=inbox.user_id, state=MailboxConnection.State.CONNECTED
    ):
        result = mailbox_sync.mailbox_sync(mailbox_id=mailbox.pk)
        mailbox.refresh_from_db(fields=["state", "last_synced_at"])
        results.append(
            {
                "mailbox_id": mailbox.pk,
                "email": mailbox.email_address,
                "state": mailbox.state,
                "changed": result.changed,
                "read": result.read,
                "outcomes": result.outcomes,
                "error": result.error,
                "skipped": result.skipped,
                "last_synced_at": mailbox.last_synced_at,
            }
        )
    return {"inbox_id": inbox.pk, "mailboxes": results}
