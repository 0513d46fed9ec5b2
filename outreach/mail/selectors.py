"""Reads about mail: messages, replies, one message's timeline, a campaign's rates."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from email.utils import formataddr, make_msgid

from django.conf import settings
from django.core.cache import cache
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, Concat, Greatest, Lower, Replace, RowNumber, StrIndex, Substr

from outreach.people.models import SenderProfile
from outreach.people.roles import is_admin, is_csm_or_admin

from . import spam
from .models import (
    EngagementEvent,
    LocalMailboxMessage,
    MailboxConnection,
    OutboundMessage,
    SendingDomain,
    SendingPause,
)
from .services.sending import build_email, messages_from_domain, sender_domain
from .unsubscribe import unsubscribe_url


def messages_visible_to(user) -> QuerySet[OutboundMessage]:
    """The one rule for emails: reps see the messages they send; CSMs and admins see the team's."""
    qs = OutboundMessage.objects.select_related("recipient", "sender")
    return qs if is_csm_or_admin(user) else qs.filter(sender=user)


def replies_visible_to(user) -> QuerySet[EngagementEvent]:
    """Replies to the messages this user may see (`messages_visible_to`), newest first."""
    qs = EngagementEvent.objects.filter(kind=EngagementEvent.Kind.REPLIED).select_related(
        "message", "message__sender", "recipient", "handled_by", "snoozed_by", "removal_confirmed_by"
    )
    if not is_csm_or_admin(user):
        qs = qs.filter(message__sender=user)
    return qs.order_by("-occurred_at", "-pk")


REPLY_STATUSES = ("open", "snoozed", "handled", "all")


def _reply_status_q(status: str, now: datetime) -> Q:
    not_snoozed = Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now)
    return {
        "open": Q(handled_at__isnull=True) & not_snoozed,
        "snoozed": Q(handled_at__isnull=True, snoozed_until__gt=now),
        "handled": Q(handled_at__isnull=False),
    }.get(status, Q())


def replies_in_status(replies: QuerySet[EngagementEvent], *, status: str, now: datetime) -> QuerySet[EngagementEvent]:
    """The Replies page's filters: open (not handled, not snoozed, or the snooze has run out),
    snoozed (until a time still to come), handled, or all."""
    return replies.filter(_reply_status_q(status, now))


def reply_status_counts(replies: QuerySet[EngagementEvent], *, now: datetime) -> dict[str, int]:
    """How many replies each filter holds, and how many ask to be removed without a person having
    confirmed it yet (`removal`), in one query."""
    return replies.order_by().aggregate(
        **{status: Count("pk", filter=_reply_status_q(status, now)) for status in REPLY_STATUSES if status != "all"},
        all=Count("pk"),
        removal=Count(
            "pk",
            filter=Q(reply_class=EngagementEvent.ReplyClass.UNSUBSCRIBE_REQUEST, removal_confirmed_at__isnull=True),
        ),
    )


def sending_pauses_visible_to(user) -> QuerySet[SendingPause]:
    """CSMs and admins see every pause; a rep sees the pauses on themselves and on their sending domain."""
    qs = SendingPause.objects.select_related("sender", "resumed_by")
    if is_csm_or_admin(user):
        return qs
    # The domain of their sending address, in the same query (addresses are stored lower-case).
    my_domain = SenderProfile.objects.filter(user=user).values(
        domain=Substr("email", StrIndex("email", Value("@")) + 1)
    )
    return qs.filter(
        Q(scope=SendingPause.Scope.SENDER, sender=user) | Q(scope=SendingPause.Scope.DOMAIN, domain__in=my_domain)
    )


def sending_pauses_active_for(user) -> list[SendingPause]:
    """The brakes on now that this person may see (the banner): one query."""
    return list(sending_pauses_visible_to(user).filter(resumed_at__isnull=True).order_by("created_at", "pk"))


def held_messages_for_pause(pause: SendingPause, *, within: QuerySet[OutboundMessage]) -> QuerySet[OutboundMessage]:
    """The emails this pause holds, among those a person may see (`messages_visible_to`)."""
    scope_q = (
        Q(sender_id=pause.sender_id) if pause.scope == SendingPause.Scope.SENDER else messages_from_domain(pause.domain)
    )
    return within.filter(scope_q, state=OutboundMessage.State.HELD, code=OutboundMessage.Code.SENDER_PAUSED)


def sending_domains_visible_to(user) -> QuerySet[SendingDomain]:
    """Admins see every sending domain; everyone else the domain of their own sending address."""
    qs = SendingDomain.objects.all()
    if is_admin(user):
        return qs
    my_domain = SenderProfile.objects.filter(user=user).values(
        domain=Substr("email", StrIndex("email", Value("@")) + 1)
    )
    return qs.filter(domain__in=my_domain)


def sending_domain_for_address(address: str) -> SendingDomain | None:
    """The stored check of the domain an address is on (None before its first check)."""
    domain = sender_domain(address)
    return SendingDomain.objects.filter(domain=domain).first() if domain else None


@dataclass(frozen=True)
class DeliverabilityRow:
    """One sender's or one domain's rolling rates, over the same windows the automatic brakes use."""

    key: str
    label: str
    bounce_sends: int  # sends in the bounce window (the last BRAKE_BOUNCE_WINDOW)
    bounces: int
    complaint_sends: int  # sends in the complaint window (the last BRAKE_COMPLAINT_WINDOW)
    complaints: int
    paused: bool

    @property
    def bounce_rate(self) -> float | None:
        return self.bounces / self.bounce_sends if self.bounce_sends else None

    @property
    def complaint_rate(self) -> float | None:
        return self.complaints / self.complaint_sends if self.complaint_sends else None


def _from_domain():
    """The From address's domain in SQL ("Rita <rita@team.example>" -> "team.example")."""
    after_at = Substr("from_email", StrIndex("from_email", Value("@")) + 1)
    return Lower(Replace(after_at, Value(">"), Value("")))


def deliverability_rates(*, by: str) -> list[DeliverabilityRow]:
    """Hard-bounce and complaint rates per sender (by="sender") or per sending domain (by="domain")
    over their last sends (all time, whatever was resumed). One query for the rates, one for the
    pauses on now; at most BRAKE_COMPLAINT_WINDOW rows per sender or domain are read."""
    bounce_window, complaint_window = settings.BRAKE_BOUNCE_WINDOW, settings.BRAKE_COMPLAINT_WINDOW
    largest = max(bounce_window, complaint_window)
    partition = F("sender_id") if by == "sender" else _from_domain()
    events = EngagementEvent.objects.filter(message_id=OuterRef("pk"))
    ranked = (
        OutboundMessage.objects.filter(state=OutboundMessage.State.SENT)
        .annotate(
            group=partition,
            rank=Window(RowNumber(), partition_by=[partition], order_by=[F("sent_at").desc(), F("pk").desc()]),
            bounced=Exists(events.filter(kind=EngagementEvent.Kind.BOUNCED)),
            complained=Exists(events.filter(kind=EngagementEvent.Kind.COMPLAINED)),
        )
        .filter(rank__lte=largest)
        .values_list("group", "rank", "bounced", "complained", "sender__username")
    )
    tallies: dict[str, list] = {}
    for group, rank, bounced, complained, username in ranked:
        key = str(group)
        tally = tallies.setdefault(key, [username if by == "sender" else key, 0, 0, 0, 0])
        if rank <= bounce_window:
            tally[1] += 1
            tally[2] += int(bounced)
        if rank <= complaint_window:
            tally[3] += 1
            tally[4] += int(complained)
    active = SendingPause.objects.filter(resumed_at__isnull=True)
    if by == "sender":
        paused = {str(pk) for pk in active.filter(scope=SendingPause.Scope.SENDER).values_list("sender_id", flat=True)}
    else:
        paused = set(active.filter(scope=SendingPause.Scope.DOMAIN).values_list("domain", flat=True))
    rows = [
        DeliverabilityRow(key, label, b_sends, b, c_sends, c, key in paused)
        for key, (label, b_sends, b, c_sends, c) in tallies.items()
    ]
    return sorted(rows, key=lambda r: (-(r.bounce_rate or 0), -(r.complaint_rate or 0), r.label))


SPAMD_CACHE_SECONDS = 24 * 3600
SPAMD_DOWN_KEY = "spamd:down"
SPAMD_DOWN_SECONDS = 60


def email_spam_risk(*, recipient, sender, subject: str, body_html: str, body_text: str) -> spam.SpamRisk:
    """The spam-risk reading of an email before it is approved, built as it would be sent (the HTML
    document, the footer, the headers). spamd's report is cached by content for a day."""
    profile = getattr(sender, "sender", None)
    from_address = profile.email if profile is not None else (sender.email or "sender@localhost")
    preview = OutboundMessage(
        recipient=recipient,
        sender=sender,
        from_email=formataddr((profile.display_name if profile else "", from_address)),
        reply_to=from_address,  # a header filters do not score; the profile's other fields may be deferred
        to_email=recipient.email,
        subject=subject,
        body_html=body_html,
        body_text=body_text,
        message_id=make_msgid(domain=sender_domain(from_address) or "localhost"),
    )
    footer_url = unsubscribe_url(recipient_id=recipient.pk, message_id=None)
    ignore = (footer_url,)
    if not settings.SPAMD_HOST:
        return spam.spam_risk(
            subject=subject,
            body_html=body_html,
            body_text=body_text,
            raw=None,
            sender_domain=sender_domain(from_address),
            ignore_links=ignore,
        )
    raw = build_email(preview).message().as_bytes()
    key = "spamd:" + hashlib.sha256(f"{from_address}\0{subject}\0{body_html}\0{body_text}".encode()).hexdigest()
    cached = cache.get(key)
    if isinstance(cached, spam.SpamdReport):
        findings = spam.spam_findings(
            subject=subject,
            body_html=body_html,
            body_text=body_text,
            sender_domain=sender_domain(from_address),
            ignore_links=ignore,
        )
        return spam.SpamRisk(findings=findings, spamd=cached)
    down = cache.get(SPAMD_DOWN_KEY)
    risk = spam.spam_risk(
        subject=subject,
        body_html=body_html,
        body_text=body_text,
        raw=None if down else raw,
        sender_domain=sender_domain(from_address),
        ignore_links=ignore,
    )
    if down:
        # spamd did not answer a moment ago: no reviewer waits for its timeout on every draft.
        return spam.SpamRisk(findings=risk.findings, spamd_note=f"{down} (not asked again for a minute)")
    if risk.spamd is not None:
        cache.set(key, risk.spamd, SPAMD_CACHE_SECONDS)
    elif risk.spamd_note:
        cache.set(SPAMD_DOWN_KEY, risk.spamd_note, SPAMD_DOWN_SECONDS)
    return risk


def mailbox_messages_visible_to(user) -> QuerySet[LocalMailboxMessage]:
    """The development mailbox: admins read every stored email; others what was sent from their
    own address (their login email or their sender profile's)."""
    qs = LocalMailboxMessage.objects.all()
    if is_admin(user):
        return qs
    addresses = {user.email.lower()} if user.email else set()
    profile = getattr(user, "sender", None)
    if profile is not None:
        addresses.add(profile.email)
    return qs.filter(sender_address__in=addresses)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    label: str
    who: str = ""
    detail: str = ""
    tone: str = ""  # "", "ok", "warn", "bad": how the page colours it


_EVENT_TONES = {
    EngagementEvent.Kind.DELIVERED: "ok",
    EngagementEvent.Kind.REPLIED: "ok",
    EngagementEvent.Kind.BOUNCED: "bad",
    EngagementEvent.Kind.COMPLAINED: "bad",
    EngagementEvent.Kind.UNSUBSCRIBED: "bad",
    EngagementEvent.Kind.REJECTED: "bad",
    EngagementEvent.Kind.SOFT_BOUNCED: "warn",
    EngagementEvent.Kind.DEFERRED: "warn",
}


def message_tracking_note(*, message: OutboundMessage) -> str:
    """What the message page says about opens and clicks for this email."""
    Tracking = OutboundMessage.Tracking
    mode = message.tracking
    if mode == Tracking.OWN:
        links = len(message.tracked_links or [])
        wrapped = f"{links} approved link{'' if links == 1 else 's'} through our redirect" if links else "no links"
        return (
            f"Opens and clicks tracked by Outreach Review: an open pixel and {wrapped}, "
            "in the HTML part only (the plain-text part is as approved)."
        )
    if mode == Tracking.NO_CONSENT and (message.cc or message.bcc) and message.recipient.consent_open_tracking:
        return "Not tracked: no consent from the people copied (CC or BCC)."
    if mode:
        return str(Tracking(mode).label) + "."
    # Not handed over yet: what will happen.
    if not message.open_tracking:
        return str(Tracking.OFF.label) + "."
    if not message.recipient.consent_open_tracking:
        return str(Tracking.NO_CONSENT.label) + " (unless the recipient consents before it is sent)."
    return (
        "Opens and clicks will be tracked: by Outreach Review through the sender's own mailbox, else by the provider."
    )


def message_timeline(*, message: OutboundMessage) -> list[TimelineEntry]:
    """What happened to one email in the outbox, oldest first: queued (approved by whom), sent or
    not, then what came back. One query beyond the message itself. Review adds the draft's story."""
    entries: list[TimelineEntry] = []
    entries.append(
        TimelineEntry(
            message.created_at,
            "Queued",
            who=str(message.approved_by.get_full_name() or message.approved_by) if message.approved_by else "",
            detail="approved text queued in the outbox",
        )
    )
    State = OutboundMessage.State
    if message.sent_at:
        entries.append(TimelineEntry(message.sent_at, "Sent", detail=message.provider, tone="ok"))
    elif message.state == State.HELD:
        detail = " · ".join(p for p in (message.get_code_display() if message.code else "", message.error_message) if p)
        entries.append(TimelineEntry(message.updated_at, "Held", detail=detail, tone="warn"))
    elif message.state in (State.FAILED, State.SKIPPED, State.UNKNOWN):
        detail = " · ".join(p for p in (message.get_code_display() if message.code else "", message.error_message) if p)
        entries.append(TimelineEntry(message.updated_at, message.get_state_display(), detail=detail, tone="bad"))
    for event in message.events.order_by("occurred_at", "pk"):
        payload = event.payload or {}
        if event.kind in EngagementEvent.INBOUND_KINDS:
            detail = event.reply_text[:300]
            if event.reply_class:
                detail = f"[{event.get_reply_class_display()}] {detail}".strip()
        else:
            detail = payload.get("description") or payload.get("click_url") or payload.get("mta_response") or ""
        if event.email and event.email != message.to_email:
            detail = f"{event.email}: {detail}" if detail else event.email
        entries.append(
            TimelineEntry(
                event.occurred_at,
                event.get_kind_display(),
                who=event.provider,
                detail=detail,
                tone=_EVENT_TONES.get(event.kind, ""),  # type: ignore[call-overload]
            )
        )
    entries.sort(key=lambda e: e.at)
    return entries


@dataclass(frozen=True)
class RateBar:
    key: str
    label: str
    count: int
    rate: float  # 0..1 of sent

    @property
    def percent(self) -> float:
        return round(self.rate * 100, 1)

    @property
    def bar_width(self) -> float:
        """Length in the chart's 180-unit track."""
        return round(self.rate * 180, 1)


@dataclass(frozen=True)
class CampaignRates:
    campaign_id: int
    sent: int
    bars: list[RateBar]

    @property
    def chart_height(self) -> int:
        return len(self.bars) * 12

    def get(self, key: str) -> RateBar:
        return next(bar for bar in self.bars if bar.key == key)


_RATE_KINDS = (
    ("delivered", EngagementEvent.Kind.DELIVERED, "Delivered"),
    ("bounced", EngagementEvent.Kind.BOUNCED, "Bounced"),
    ("replied", EngagementEvent.Kind.REPLIED, "Replied"),
    ("unsubscribed", EngagementEvent.Kind.UNSUBSCRIBED, "Unsubscribed"),
)


def engagement_rates_for_campaign(*, campaign_id: int) -> CampaignRates:
    """Sent, delivered, bounced, replied and unsubscribed messages of a campaign and their share
    of those sent. Each message counts once per kind, however many events it had. One query."""
    aggregates = {
        "sent": Count("pk", filter=Q(state=OutboundMessage.State.SENT), distinct=True),
        **{key: Count("pk", filter=Q(events__kind=kind), distinct=True) for key, kind, _ in _RATE_KINDS},
    }
    counts = OutboundMessage.objects.filter(campaign_ref=campaign_id).aggregate(**aggregates)
    sent = counts["sent"] or 0
    bars = [RateBar("sent", "Sent", sent, 1.0 if sent else 0.0)]
    for key, _, label in _RATE_KINDS:
        count = counts[key] or 0
        bars.append(RateBar(key, label, count, min(count / sent, 1.0) if sent else 0.0))
    return CampaignRates(campaign_id=campaign_id, sent=sent, bars=bars)


def mailboxes_visible_to(user) -> QuerySet[MailboxConnection]:
    """Who sees which mailbox connections: a rep their own, CSMs the team's, admins all."""
    qs = MailboxConnection.objects.select_related("user")
    return qs if is_csm_or_admin(user) else qs.filter(user=user)


def mailboxes_needing_attention(*, user) -> list[MailboxConnection]:
    """One's own mailboxes that need re-authorization or err (the banner on every page). One query."""
    return list(
        MailboxConnection.objects.filter(
            user=user, state__in=[MailboxConnection.State.NEEDS_REAUTH, MailboxConnection.State.ERROR]
        ).only("pk", "email_address", "state", "state_reason")
    )


# --- Threads: every email in and out of one conversation, oldest first --------------------------
#
# A thread is one first email and the follow-ups that answer it (their References start with its
# Message-ID), with what came back to any of them: replies, auto-replies and bounces read from the
# sender's mailbox or reported by the provider. Its id is its first email's. What a person may see
# is `messages_visible_to`: a rep their own emails, CSMs and admins the team's.

INBOUND_KINDS = (
    EngagementEvent.Kind.REPLIED,
    EngagementEvent.Kind.AUTO_REPLIED,
    EngagementEvent.Kind.BOUNCED,
    EngagementEvent.Kind.SOFT_BOUNCED,
)


def _thread_members(root_message_id, *, via: str = "") -> Q:
    """The follow-ups of the email with this Message-ID (a value, OuterRef or Subquery); `via`
    names the relation to the email from another model ("message__")."""
    return Q(**{f"{via}references": root_message_id}) | Q(
        **{f"{via}references__startswith": Concat(root_message_id, Value(" "))}
    )


def threads_of(messages: QuerySet[OutboundMessage]) -> QuerySet[OutboundMessage]:
    """The threads among these (visible) emails, as their first emails, each annotated with
    `email_count` (ours), `inbound_count` (replies, auto-replies, bounces) and `last_activity_at`.
    One query, whatever the number of threads."""
    members = messages.model.objects.filter(_thread_members(OuterRef("message_id")))
    inbound = EngagementEvent.objects.filter(kind__in=INBOUND_KINDS).filter(
        Q(message_id=OuterRef("pk")) | _thread_members(OuterRef("message_id"), via="message__")
    )
    count = Func(F("pk"), function="COUNT")
    own_time = Coalesce("sent_at", "created_at")
    return (
        messages.filter(in_reply_to="")
        .select_related("recipient", "sender")
        .annotate(
            email_count=Value(1) + Coalesce(Subquery(members.values(n=count).order_by()[:1]), 0),
            inbound_count=Coalesce(Subquery(inbound.values(n=count).order_by()[:1]), 0),
            # Coalesced: on SQLite a NULL makes GREATEST NULL.
            last_activity_at=Greatest(
                own_time,
                Coalesce(
                    Subquery(members.annotate(at=Coalesce("sent_at", "created_at")).order_by("-at").values("at")[:1]),
                    own_time,
                ),
                Coalesce(Subquery(inbound.order_by("-occurred_at").values("occurred_at")[:1]), own_time),
            ),
        )
    )


@dataclass(frozen=True)
class ThreadEntry:
    """One email of a conversation: ours (direction "out") or what came back ("in")."""

    at: datetime
    direction: str  # "out" | "in"
    kind: str  # "email" for ours; replied | auto_replied | bounced | soft_bounced
    label: str
    message: OutboundMessage  # ours, or the one this answers
    event: EngagementEvent | None = None

    @property
    def from_address(self) -> str:
        if self.event is None:
            return self.message.from_email
        return self.event.email or self.message.to_email

    @property
    def to_address(self) -> str:
        return self.message.to_email if self.event is None else self.message.from_email

    @property
    def subject(self) -> str:
        if self.event is None:
            return self.message.subject
        return str((self.event.payload or {}).get("subject") or "")

    @property
    def text(self) -> str:
        if self.event is None:
            return self.message.body_text
        if self.event.reply_text:
            return self.event.reply_text
        payload = self.event.payload or {}
        if self.kind in (EngagementEvent.Kind.BOUNCED, EngagementEvent.Kind.SOFT_BOUNCED):
            return " ".join(str(p) for p in (payload.get("status"), payload.get("description")) if p)
        return str(payload.get("body_skipped") or "")

    @property
    def thread_id(self) -> int:
        return self.message.thread_root_pk  # type: ignore[attr-defined]


def _entries(messages: list[OutboundMessage]) -> list[ThreadEntry]:
    """Our emails and what came back to them, oldest first: one query beyond the emails."""
    entries = [
        ThreadEntry(
            at=m.sent_at or m.created_at,
            direction="out",
            kind="email",
            label="Sent" if m.state == OutboundMessage.State.SENT else m.get_state_display(),
            message=m,
        )
        for m in messages
    ]
    by_pk = {m.pk: m for m in messages}
    events = EngagementEvent.objects.filter(message_id__in=list(by_pk), kind__in=INBOUND_KINDS).order_by(
        "occurred_at", "pk"
    )
    for event in events:
        message = by_pk[event.message_id]  # type: ignore[index]
        event.message = message  # already loaded: no query per event
        entries.append(
            ThreadEntry(
                at=event.occurred_at,
                direction="in",
                kind=event.kind,
                label=event.get_kind_display(),
                message=message,
                event=event,
            )
        )
    # What came back never sorts before the email it answers (a sender's clock or a Date header
    # with whole seconds can put it a moment earlier).
    entries.sort(
        key=lambda e: (
            max(e.at, e.message.sent_at or e.message.created_at),
            e.direction == "in",
            e.message.pk,
            e.event.pk if e.event else 0,
        )
    )
    return entries


def _first_reference(ref) -> Substr:
    """The first Message-ID of References: the thread's first email."""
    return Substr(ref, 1, StrIndex(Concat(ref, Value(" ")), Value(" ")) - 1, output_field=CharField())


def _with_thread_root(messages: QuerySet[OutboundMessage]) -> QuerySet[OutboundMessage]:
    """Each email annotated with its thread's id (`thread_root_pk`): its own pk for a first email,
    else the pk of the email its References start with."""
    root = OutboundMessage.objects.filter(message_id=_first_reference(OuterRef("references"))).values("pk")[:1]
    return messages.annotate(
        thread_root_pk=Case(When(in_reply_to="", then=F("pk")), default=Coalesce(Subquery(root), F("pk")))
    )


def thread_entries(*, user, thread_id: int, messages: QuerySet[OutboundMessage] | None = None) -> list[ThreadEntry]:
    """Every email in and out of one thread the user may see, oldest first (empty: no such thread
    for this user). `messages` narrows further (an inbox's). Two queries."""
    visible = messages if messages is not None else messages_visible_to(user)
    root_message_id = visible.filter(pk=thread_id, in_reply_to="").values("message_id")[:1]
    emails = list(
        _with_thread_root(
            visible.filter(Q(pk=thread_id, in_reply_to="") | _thread_members(Subquery(root_message_id)))
        ).order_by("created_at", "pk")
    )
    return _entries(emails) if emails else []


def contact_conversation(*, user, recipient) -> list[ThreadEntry]:
    """Every email in and out with one contact that the user may see, across threads, oldest
    first; each entry knows its thread. Two queries."""
    emails = list(_with_thread_root(messages_visible_to(user).filter(recipient=recipient)).order_by("created_at", "pk"))
    return _entries(emails)


def thread_id_of(*, user, message_id: int) -> int | None:
    """The thread (its first email's pk) of one email the user may see, or None. One query."""
    return (
        _with_thread_root(messages_visible_to(user).filter(pk=message_id))
        .values_list("thread_root_pk", flat=True)  # type: ignore[misc]  # annotated by _with_thread_root
        .first()
    )
