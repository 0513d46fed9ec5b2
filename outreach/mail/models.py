"""Mail: each sender's channel, the outbox and its log, what comes back (engagement), the local mailbox."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from outreach.core import public_ids
from outreach.core.crypto import decrypt, encrypt
from outreach.core.netguard import destination_refusal
from outreach.core.normalize import normalize_email
from outreach.people.models import Recipient


class OutboundMessage(models.Model):
    """The outbox: one email to send, created only by approving a draft. Its row is the truth."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        UNKNOWN = "unknown", "Unknown: a person must decide"
        # Approved and kept, but not sent until a person releases it (its code says why).
        HELD = "held", "Held: waits for a person"

    class Code(models.TextChoices):
        DUPLICATE_EMAIL = "duplicate_email", "Duplicate email"
        SUPPRESSED = "suppressed", "Suppressed"
        OPTED_OUT = "user_marketing_email_opt_out", "Recipient opted out"
        DAILY_LIMIT = "daily_limit_reached", "Daily limit reached"
        PROVIDER_ERROR = "provider_error", "Provider error"
        INVALID_ADDRESS = "invalid_address", "Invalid address"
        CONTENT_CHANGED = "content_changed", "Body does not match the approved text"
        UNDONE = "undone", "Approval undone by the reviewer"
        SENDER_PAUSED = "sender_paused", "Sending paused: too many bounces or complaints"
        MAILBOX_DISCONNECTED = "mailbox_disconnected", "The sender's mailbox is disconnected"

    recipient = models.ForeignKey(Recipient, on_delete=models.PROTECT, related_name="outbound_messages")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="outbound_messages")
    # Where it came from, as plain ids handed down at approval: review and campaigns sit above mail,
    # so no foreign key points up (the draft points down at its message). Mail filters by them
    # (threading, duplicates, a campaign's rates) and echoes them in the API and emitted events.
    draft_ref = models.PositiveBigIntegerField(null=True, blank=True, unique=True)
    campaign_ref = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    enrollment_ref = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    step_ref = models.PositiveBigIntegerField(null=True, blank=True)
    # The rules it is sent under, copied when it was approved: a later change to the campaign does
    # not change an email a person already approved.
    send_window = models.JSONField(
        default=dict, blank=True, help_text='{"days": [0..6], "start": "HH:MM", "end": "HH:MM"}'
    )
    suppression_list_ids = models.JSONField(
        default=list, blank=True, help_text="Lists checked besides the global ones."
    )
    open_tracking = models.BooleanField(default=False)

    class Tracking(models.TextChoices):
        # Mail through the sender's own mailbox has no provider tracking: our pixel and redirect.
        OWN = "own", "Opens and clicks tracked by Outreach Review"
        NO_CONSENT = "no_consent", "Not tracked: no consent"
        OFF = "off", "Not tracked: tracking is off for this campaign"
        PLAIN_TEXT = "plain_text", "Not tracked: a plain-text email"
        PROVIDER = "provider", "Opens and clicks as the organization's provider reports them"

    # Decided when the email is handed over (empty before): whether our pixel and redirect are in
    # it, and which approved links the redirect wraps (a click token names one by its index).
    tracking = models.CharField(max_length=12, choices=Tracking.choices, blank=True)
    tracked_links = models.JSONField(default=list, blank=True)
    complete_on_send_failure = models.BooleanField(
        default=True, help_text="Whether the sequence goes on when this email fails (read by campaigns)."
    )
    set_properties = models.JSONField(
        default=dict, blank=True, help_text="Set on the contact once sent: key -> value template ({{ send_date }})."
    )
    from_email = models.CharField(max_length=320)
    reply_to = models.EmailField(blank=True)
    to_email = models.EmailField()
    cc = models.JSONField(default=list, blank=True)
    bcc = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=300)
    preview_text = models.CharField(
        max_length=300, blank=True, help_text="The approved preheader: the inbox preview after the subject."
    )
    body_html = models.TextField()
    body_text = models.TextField()
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of the approved subject and bodies.")
    message_id = models.CharField(max_length=255, unique=True, help_text="Fixed before the provider is called.")
    idempotency_key = models.CharField(max_length=64, unique=True)
    in_reply_to = models.CharField(max_length=255, blank=True)
    references = models.TextField(blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED, db_index=True)
    code = models.CharField(max_length=40, choices=Code.choices, blank=True)
    error_message = models.TextField(blank=True)
    provider = models.CharField(max_length=50, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True, db_index=True)
    provider_response = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    not_before = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    sender_config = models.ForeignKey(
        "SenderConfig",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        help_text="The channel it goes out through; empty means the organization's default backend.",
    )
    mailbox = models.ForeignKey(
        "MailboxConnection",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="outbound_messages",
        help_text="The sender's own mailbox it went out through (set when it was handed over).",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "not_before"]), models.Index(fields=["sender", "sent_at"])]

    def __str__(self) -> str:
        return f"Message #{self.pk} to {self.to_email} ({self.state})"

    # success | failure | skipped, as one-to-one send tools report an outcome (pending and unknown
    # are not final: no email_send_result is emitted for them).
    _STATUS_BY_STATE: dict[str, str] = {
        State.SENT: "success",
        State.FAILED: "failure",
        State.SKIPPED: "skipped",
        State.UNKNOWN: "unknown",
        State.QUEUED: "pending",
        State.SENDING: "pending",
        State.HELD: "pending",
    }
    FINAL_STATES = (State.SENT, State.FAILED, State.SKIPPED)

    @property
    def channel(self) -> str:
        """The provider or channel it went (or was to go) through: resend, postmark, amazon_ses,
        sendgrid, smtp, local_mailbox…, from the backend recorded with the outcome."""
        backend = str((self.provider_response or {}).get("backend") or self.provider or "")
        return channel_of_backend(backend)

    @property
    def result_code(self) -> str:
        """The send result's code: a provider's error is named after it (`resend_error`,
        `smtp_error`, …); the others as stored (`duplicate_email`, `user_marketing_email_opt_out`…)."""
        if self.code == self.Code.PROVIDER_ERROR:
            return f"{self.channel or 'provider'}_error"
        return self.code

    @property
    def participants(self) -> set[str]:
        """The addresses this email went to openly (To and CC, normalized). Only they can answer
        it: a reply naming it in In-Reply-To or References from anyone else is not its answer
        (those headers are easy to forge). Every reply matcher checks this (one place)."""
        return {normalize_email(a) for a in [self.to_email, *(self.cc or [])] if a}

    def as_send_result(self) -> dict:
        """The outcome in the shape one-to-one send tools report it, with public ids."""
        profile = getattr(self.sender, "sender", None) if self.sender_id else None
        headers = {"Message-ID": self.message_id}
        if self.in_reply_to:
            headers["In-Reply-To"] = self.in_reply_to
            headers["References"] = self.references or self.in_reply_to
        if self.reply_to:
            headers["Reply-To"] = self.reply_to
        return {
            "status": self._STATUS_BY_STATE[self.state],
            "to_id": public_ids.encode("ctc", self.recipient_id),
            "from_id": public_ids.encode_or_none("inb", profile.pk if profile else None),
            "email_id": public_ids.encode("msg", self.pk),
            "sender_config_id": public_ids.encode_or_none("scf", self.sender_config_id),
            "mailbox_id": public_ids.encode_or_none("mbx", self.mailbox_id),
            "create_email_options": {
                "from": self.from_email,
                "to": [self.to_email],
                "subject": self.subject,
                "preview_text": self.preview_text,
                "text": self.body_text,
                "html": self.body_html,
                "cc": list(self.cc),
                "bcc": list(self.bcc),
                "headers": headers,
            },
            "create_email_response": self.provider_response or None,
            "code": self.result_code or None,
            "error_message": self.error_message or None,
        }


def channel_of_backend(backend: str) -> str:
    """resend, postmark, amazon_ses, sendgrid, smtp, local_mailbox… from a Django email backend path."""
    lowered = backend.lower()
    for name in ("resend", "postmark", "amazon_ses", "sendgrid", "mailgun", "local_mailbox", "locmem", "console"):
        if name in lowered:
            return name
    if "smtp" in lowered:
        return "smtp"
    parts = [p for p in lowered.split(".") if p not in ("emailbackend", "backends", "backend", "mail", "")]
    return parts[-1] if parts else ""


class EngagementEvent(models.Model):
    class Kind(models.TextChoices):
        DELIVERED = "delivered", "Delivered"
        OPENED = "opened", "Opened"
        CLICKED = "clicked", "Clicked"
        REPLIED = "replied", "Replied"
        BOUNCED = "bounced", "Bounced"
        SOFT_BOUNCED = "soft_bounced", "Soft bounce"
        COMPLAINED = "complained", "Complained"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        DEFERRED = "deferred", "Delivery delayed"
        REJECTED = "rejected", "Rejected by provider"
        # RFC 3834 auto-replies and out-of-office notes: recorded, never counted as replies.
        AUTO_REPLIED = "auto_replied", "Auto-reply"

    class ReplyClass(models.TextChoices):
        # The same seven as outreach.drafting.reply_class.CLASSES (a test keeps them equal).
        INTERESTED = "interested", "Interested"
        NOT_NOW = "not_now", "Not now"
        NOT_INTERESTED = "not_interested", "Not interested"
        OUT_OF_OFFICE = "out_of_office", "Out of office"
        UNSUBSCRIBE_REQUEST = "unsubscribe_request", "Unsubscribe request"
        REFERRAL = "referral", "Referral to someone else"
        OTHER = "other", "Other"

    # Inbound kinds: what a person (or their auto-responder) wrote back. Each is classified.
    INBOUND_KINDS = (Kind.REPLIED, Kind.AUTO_REPLIED)

    message = models.ForeignKey(OutboundMessage, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    recipient = models.ForeignKey(Recipient, null=True, blank=True, on_delete=models.CASCADE, related_name="engagement")
    kind = models.CharField(max_length=15, choices=Kind.choices)
    provider_event_id = models.CharField(max_length=255, blank=True)
    provider = models.CharField(
        max_length=50, blank=True, help_text="Where the event came from: resend, postmark, imap, unsubscribe link…"
    )
    email = models.CharField(max_length=254, blank=True, help_text="The address the event is about.")
    occurred_at = models.DateTimeField()
    payload = models.JSONField(default=dict, blank=True)
    reply_text = models.TextField(blank=True)
    # What kind of answer a reply or auto-reply is, why, and who decided (the model or the rules).
    reply_class = models.CharField(max_length=20, choices=ReplyClass.choices, blank=True)
    reply_class_reason = models.CharField(max_length=600, blank=True)
    reply_classified_by = models.CharField(max_length=120, blank=True)
    # The Replies page's triage, each with who and when: handled, snoozed until a time, and a
    # "please remove me" confirmed by a person (the suppression entry it created).
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    snoozed_until = models.DateTimeField(null=True, blank=True)
    snoozed_at = models.DateTimeField(null=True, blank=True)
    snoozed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    removal_confirmed_at = models.DateTimeField(null=True, blank=True)
    removal_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    removal_suppression = models.ForeignKey(
        "outreach.Suppression", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Side effects (suppression, the engagement_recorded signal) are done once this is set; the
    # sweeper re-enqueues rows left without it.
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [
            models.Index(fields=["message", "kind"], name="engagement_message_kind"),
            models.Index(fields=["kind", "occurred_at"], name="engagement_kind_time"),
        ]
        constraints = [
            # Providers redeliver webhooks; one row per provider event.
            models.UniqueConstraint(
                fields=["provider_event_id"], condition=~Q(provider_event_id=""), name="engagement_event_dedup"
            ),
        ]

    # How the Replies page colours a class: good news, a request to act on, the rest plain.
    _CLASS_TONES = {"interested": "ok", "not_now": "warn", "unsubscribe_request": "bad", "referral": "warn"}

    @property
    def reply_class_tone(self) -> str:
        return self._CLASS_TONES.get(self.reply_class, "")


def smtp_host_refusal(host: str, port: int) -> str | None:
    """Why a typed mail server may not be saved (outreach.core.netguard), or None. The worker
    connects wherever a rep's settings say: no database port or metadata service behind them.
    Checked again (and pinned) at every connection."""
    refusal = destination_refusal(host, port)
    return f"{refusal}. Use your mail provider's public server." if refusal else None


class SenderConfig(models.Model):
    """How one team member's email leaves: the organization's provider on their own domain, or
    their own mailbox over SMTP. The SMTP password is stored encrypted and never shown again."""

    class Kind(models.TextChoices):
        PROVIDER = "provider", "Organization's provider"
        SMTP = "smtp", "My own mailbox (SMTP)"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sender_config")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PROVIDER)
    smtp_host = models.CharField(max_length=255, blank=True)
    smtp_port = models.PositiveIntegerField(default=587)
    smtp_username = models.CharField(max_length=255, blank=True)
    smtp_password_encrypted = models.TextField(blank=True, editable=False)
    smtp_use_tls = models.BooleanField("STARTTLS", default=True)
    smtp_use_ssl = models.BooleanField("implicit TLS (SSL)", default=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        if self.kind == self.Kind.SMTP:
            return f"{self.user} via SMTP {self.smtp_host}:{self.smtp_port}"
        return f"{self.user} via the organization's provider"

    def clean(self) -> None:
        if self.kind == self.Kind.SMTP and not self.smtp_host:
            raise ValidationError({"smtp_host": "An SMTP configuration needs a host."})
        if self.smtp_use_tls and self.smtp_use_ssl:
            raise ValidationError("Choose STARTTLS or implicit TLS, not both.")
        if self.kind == self.Kind.SMTP:
            refusal = smtp_host_refusal(self.smtp_host, self.smtp_port)
            if refusal:
                raise ValidationError({"smtp_host": f"SMTP host {refusal}"})

    def set_smtp_password(self, password: str) -> None:
        self.smtp_password_encrypted = encrypt(password)

    def get_smtp_password(self) -> str:
        return decrypt(self.smtp_password_encrypted)

    @property
    def has_smtp_password(self) -> bool:
        return bool(self.smtp_password_encrypted)


class SendingPause(models.Model):
    """An automatic brake: a sender (or every sender on a domain) whose recent sends bounced or drew
    complaints above the limit stops sending until a person looks and resumes. Their queued emails
    are held (code `sender_paused`), never dropped."""

    class Scope(models.TextChoices):
        SENDER = "sender", "Sender"
        DOMAIN = "domain", "Sending domain"

    class Cause(models.TextChoices):
        BOUNCES = "bounces", "Hard bounces"
        COMPLAINTS = "complaints", "Spam complaints"

    scope = models.CharField(max_length=10, choices=Scope.choices)
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="sending_pauses"
    )
    domain = models.CharField(max_length=253, blank=True, help_text="The sending domain (scope domain).")
    cause = models.CharField(max_length=12, choices=Cause.choices)
    events = models.PositiveIntegerField(help_text="Bounced or complained sends in the window.")
    sends = models.PositiveIntegerField(help_text="Sends in the window.")
    threshold = models.FloatField(help_text="The rate above which sending pauses (0..1).")
    reason = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    resumed_at = models.DateTimeField(null=True, blank=True)
    resumed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resume_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(scope="sender", sender__isnull=False, domain="") | Q(scope="domain", sender__isnull=True))
                & ~Q(scope="domain", domain=""),
                name="sending_pause_scope_target",
            ),
            # One brake on at a time per sender and per domain.
            models.UniqueConstraint(
                fields=["sender"], condition=Q(resumed_at__isnull=True, scope="sender"), name="sending_pause_one_sender"
            ),
            models.UniqueConstraint(
                fields=["domain"], condition=Q(resumed_at__isnull=True, scope="domain"), name="sending_pause_one_domain"
            ),
        ]

    def __str__(self) -> str:
        return f"Sending paused for {self.target} ({self.get_cause_display()})"

    @property
    def target(self) -> str:
        return str(self.sender) if self.scope == self.Scope.SENDER else self.domain

    @property
    def is_active(self) -> bool:
        return self.resumed_at is None

    @property
    def rate(self) -> float:
        return self.events / self.sends if self.sends else 0.0


class SendingDomain(models.Model):
    """A domain our emails are sent from, and what its DNS said at the last check (SPF, DMARC, DKIM).
    Re-checked daily and on demand; the review queue warns while it fails."""

    domain = models.CharField(max_length=253, unique=True)
    dkim_selectors = models.JSONField(
        default=list, blank=True, help_text="Selectors an admin entered, tried besides the provider's known ones."
    )
    result = models.JSONField(default=dict, blank=True, help_text="{spf|dmarc|dkim: {status, summary, fix, records}}")
    passes = models.BooleanField(null=True, help_text="Empty until the first check.")
    checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    def save(self, *args, **kwargs):
        self.domain = self.domain.strip().lower().rstrip(".")
        super().save(*args, **kwargs)

    @property
    def checks(self) -> list[dict]:
        return [{"kind": kind, **self.result[kind]} for kind in ("spf", "dmarc", "dkim") if kind in self.result]

    @property
    def failing(self) -> list[dict]:
        return [c for c in self.checks if c.get("status") not in ("present", "weak")]


class MailboxConnection(models.Model):
    """A team member's own mailbox (the API's "inbox"): mail goes out through it and replies are
    read from it. The password or token is stored encrypted and never shown again.

    Disconnecting keeps the row (messages remember which mailbox they went through) and deletes
    the secret."""

    class Kind(models.TextChoices):
        IMAP_SMTP = "imap_smtp", "IMAP and SMTP"
        # IMAP and SMTP logging in with an OAuth 2.0 access token (SASL XOAUTH2) instead of a password.
        IMAP_OAUTH = "imap_oauth", "IMAP and SMTP (OAuth 2.0)"
        GOOGLE = "google", "Google (Gmail API)"
        MICROSOFT = "microsoft", "Microsoft 365 (Graph)"
        # The demo's local development mailbox (/mailbox/) playing a sender's own inbox.
        LOCAL = "local", "Local development mailbox"

    class State(models.TextChoices):
        CONNECTED = "connected", "Connected"
        NEEDS_REAUTH = "needs_reauth", "Needs re-authorization"
        ERROR = "error", "Error"
        DISCONNECTED = "disconnected", "Disconnected"

    class Security(models.TextChoices):
        SSL = "ssl", "Implicit TLS"
        STARTTLS = "starttls", "STARTTLS"
        NONE = "none", "None (local servers only)"

    # States in which the mailbox is meant to be in use: its sends wait for it rather than going
    # through another channel.
    IN_USE_STATES = (State.CONNECTED, State.NEEDS_REAUTH, State.ERROR)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mailboxes")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.IMAP_SMTP)
    email_address = models.EmailField(help_text="The mailbox's address.")
    is_default = models.BooleanField(default=True, help_text="The owner's emails go out through this mailbox.")
    state = models.CharField(max_length=14, choices=State.choices, default=State.CONNECTED, db_index=True)
    state_reason = models.TextField(blank=True)
    state_changed_at = models.DateTimeField(default=timezone.now)
    imap_host = models.CharField(max_length=255, blank=True)
    imap_port = models.PositiveIntegerField(default=993)
    imap_security = models.CharField(max_length=10, choices=Security.choices, default=Security.SSL)
    smtp_host = models.CharField(max_length=255, blank=True)
    smtp_port = models.PositiveIntegerField(default=587)
    smtp_security = models.CharField(max_length=10, choices=Security.choices, default=Security.STARTTLS)
    username = models.CharField(max_length=255, blank=True)
    secret_encrypted = models.TextField(blank=True, editable=False)
    inbox_folder = models.CharField(max_length=255, default="INBOX")
    sent_folder = models.CharField(max_length=255, blank=True, help_text="Found by its \\Sent special use.")
    server_saves_sent = models.BooleanField(
        default=False, help_text="The server files submitted mail in Sent itself (we do not append a copy)."
    )
    # The sync cursor: UIDs are only meaningful within one UIDVALIDITY of the folder.
    sync_uidvalidity = models.BigIntegerField(null=True, blank=True)
    sync_uidnext = models.BigIntegerField(null=True, blank=True, help_text="The first UID not yet read.")
    # Gmail: the last history id read; Microsoft Graph: the Inbox's delta link.
    sync_cursor = models.TextField(blank=True)
    sync_lease_until = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_sync_error = models.TextField(blank=True)
    messages_matched = models.PositiveIntegerField(default=0)
    connected_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user_id", "-is_default", "email_address"]
        constraints = [
            models.UniqueConstraint(fields=["user"], condition=Q(is_default=True), name="mailbox_one_default_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.email_address} ({self.get_kind_display()}, {self.state})"

    def clean(self) -> None:
        if self.kind in (self.Kind.IMAP_SMTP, self.Kind.IMAP_OAUTH) and self.state != self.State.DISCONNECTED:
            errors = {}
            for field, host, port in (
                ("imap_host", self.imap_host, self.imap_port),
                ("smtp_host", self.smtp_host, self.smtp_port),
            ):
                if not host:
                    errors[field] = "A host is needed."
                    continue
                refusal = smtp_host_refusal(host, port)
                if refusal:
                    errors[field] = f"{field.split('_')[0].upper()} host {refusal}"
            if errors:
                raise ValidationError(errors)

    def set_secret(self, secret: str) -> None:
        self.secret_encrypted = encrypt(secret)

    def get_secret(self) -> str:
        return decrypt(self.secret_encrypted) if self.secret_encrypted else ""

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_encrypted)

    @property
    def is_usable(self) -> bool:
        return self.state == self.State.CONNECTED


class OutboundMessageLog(models.Model):
    """Every state change of an outbox row: who (empty = the system), when, why."""

    message = models.ForeignKey(OutboundMessage, on_delete=models.CASCADE, related_name="log")
    from_state = models.CharField(max_length=10, blank=True)
    to_state = models.CharField(max_length=10)
    code = models.CharField(max_length=40, blank=True)
    note = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_state or '-'} -> {self.to_state} {self.code}".strip()


class LocalMailboxMessage(models.Model):
    """An email the demo's local backend "sent": readable in the browser at /mailbox/."""

    message_id = models.CharField(max_length=255, blank=True, db_index=True)
    from_email = models.CharField(max_length=320)
    sender_address = models.EmailField(blank=True, db_index=True, help_text="The From address, normalized.")
    to = models.JSONField(default=list)
    cc = models.JSONField(default=list, blank=True)
    bcc = models.JSONField(default=list, blank=True)
    reply_to = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=998, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    raw = models.TextField(help_text="The whole message as it would go on the wire.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.subject} -> {', '.join(self.to)}"
