"""Who sends, to whom, what we know about them, and who must never be contacted."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .normalize import normalize_domain, normalize_email


class SenderProfile(models.Model):
    """A team member as a sender: the identity and voice their emails go out with."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sender")
    display_name = models.CharField(max_length=200)
    email = models.EmailField(help_text="Sending address (From).")
    reply_to = models.EmailField(blank=True, help_text="Where replies go; defaults to the sending address.")
    title = models.CharField(max_length=200, blank=True)
    company = models.CharField(max_length=200, blank=True)
    signature = models.TextField(blank=True)
    persona_tone = models.CharField(max_length=200, blank=True, default="warm, direct, plain-spoken")
    persona_role = models.TextField(blank=True, help_text="How this person describes their role to customers.")
    daily_send_limit = models.PositiveIntegerField(default=200)
    time_zone = models.CharField(max_length=64, default="UTC")

    def __str__(self) -> str:
        return f"{self.display_name} <{self.email}>"

    def save(self, *args, **kwargs):
        self.email = normalize_email(self.email)
        if self.reply_to:
            self.reply_to = normalize_email(self.reply_to)
        super().save(*args, **kwargs)


class Account(models.Model):
    class State(models.TextChoices):
        PROSPECT = "prospect", "Prospect"
        TRIAL = "trial", "Trial"
        ONBOARDING = "onboarding", "Onboarding"
        ACTIVE = "active", "Active"
        AT_RISK = "at_risk", "At risk"
        CHURNED = "churned", "Churned"

    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=253, blank=True, db_index=True)
    plan = models.CharField(max_length=100, blank=True)
    renewal_date = models.DateField(null=True, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name"], name="account_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.domain = normalize_domain(self.domain) if self.domain else ""
        super().save(*args, **kwargs)


class Label(models.Model):
    name = models.CharField(max_length=100, unique=True)

    def __str__(self) -> str:
        return self.name


class Recipient(models.Model):
    email = models.EmailField(unique=True, help_text="Stored normalized (lower-case, trimmed).")
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    title = models.CharField("role / title", max_length=200, blank=True)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="recipients")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_recipients",
        help_text="Relationship owner: the team member who sends to this person by default.",
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2 code.")
    consent_recorded_at = models.DateTimeField(
        null=True, blank=True, help_text="When consent to contact was recorded (needed in regulated countries)."
    )
    consent_open_tracking = models.BooleanField(default=False)
    lifecycle_stage = models.CharField(max_length=50, blank=True)
    labels = models.ManyToManyField(Label, blank=True, related_name="recipients")
    properties = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>" if self.full_name else self.email

    def save(self, *args, **kwargs):
        self.email = normalize_email(self.email)
        self.country = (self.country or "").strip().upper()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self.email = normalize_email(self.email)
        self.country = self.country.strip().upper()

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def domain(self) -> str:
        return self.email.rsplit("@", 1)[-1]


class Fact(models.Model):
    """A typed, dated, sourced statement about a recipient: the only thing a draft may cite."""

    class Kind(models.TextChoices):
        PROFILE = "profile", "Profile"
        ACTIVITY = "activity", "Recent activity"
        MILESTONE_REACHED = "milestone_reached", "Milestone reached"
        MILESTONE_MISSED = "milestone_missed", "Milestone missed"
        USAGE = "usage", "Usage figure"
        SUPPORT_TICKET = "support_ticket", "Support ticket"
        ACCOUNT = "account", "Account state"
        CONTENT = "content", "Content engagement"
        NOTE = "note", "Note"

    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="facts")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    text = models.TextField()
    value = models.CharField(max_length=200, blank=True, help_text="Optional machine-readable value.")
    source = models.CharField(max_length=100, blank=True)
    observed_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-observed_at"]
        indexes = [models.Index(fields=["recipient", "kind", "observed_at"])]
        constraints = [
            # Re-importing the same fact updates it instead of adding a copy.
            models.UniqueConstraint(
                fields=["recipient", "kind", "text", "observed_at"], name="fact_unique_per_observation"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.text[:60]}"

    def as_dict(self) -> dict:
        """The plain shape the drafting engine and grounding check take."""
        return {
            "id": str(self.pk),
            "kind": self.kind,
            "text": self.text,
            "value": self.value or None,
            "observed_at": self.observed_at.date().isoformat() if self.observed_at else None,
        }


class SuppressionList(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    is_global = models.BooleanField(default=False, help_text="Respected by every campaign.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_global", "name"]

    def __str__(self) -> str:
        return self.name


class Suppression(models.Model):
    """One entry on a list: an address, a whole domain (and its subdomains) or a recipient.

    Entries are never deleted: removal sets removed_at/removed_by/removal_reason so the history
    of who suppressed or released whom, and why, stays answerable.
    """

    class Kind(models.TextChoices):
        ADDRESS = "address", "Address"
        DOMAIN = "domain", "Domain"
        RECIPIENT = "recipient", "Recipient"

    class Reason(models.TextChoices):
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        HARD_BOUNCE = "hard_bounce", "Hard bounce"
        COMPLAINT = "complaint", "Spam complaint"
        MANUAL = "manual", "Manual"
        LEGAL_REQUEST = "legal_request", "Legal request"
        DO_NOT_CONTACT = "do_not_contact", "Do not contact"
        CUSTOMER_FREEZE = "customer_freeze", "Customer freeze"
        NO_CONSENT = "no_consent", "No consent in a regulated jurisdiction"

    # Reasons that may lapse; the others are permanent.
    SOFT_REASONS = frozenset({Reason.MANUAL, Reason.CUSTOMER_FREEZE})

    suppression_list = models.ForeignKey(SuppressionList, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = models.CharField(max_length=254, help_text="Normalized address, domain, or recipient id.")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    note = models.TextField(blank=True)
    source = models.CharField(
        max_length=200, blank=True, help_text="Where this came from: a person, a webhook event, an import."
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    removal_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The bulk check looks up many values of one kind among entries not removed.
            models.Index(
                fields=["kind", "value"], condition=Q(removed_at__isnull=True), name="suppression_active_lookup"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["suppression_list", "kind", "value"],
                condition=Q(removed_at__isnull=True),
                name="suppression_one_active_entry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value} ({self.reason})"

    def clean(self) -> None:
        if self.expires_at and self.reason not in self.SOFT_REASONS:
            raise ValidationError({"expires_at": "Only manual and customer-freeze entries may expire."})
        if self.kind == self.Kind.ADDRESS:
            self.value = normalize_email(self.value)
        elif self.kind == self.Kind.DOMAIN:
            self.value = normalize_domain(self.value)
        elif self.kind == self.Kind.RECIPIENT and not str(self.value).isdigit():
            raise ValidationError({"value": "A recipient entry needs a recipient id."})

    @property
    def is_active(self) -> bool:
        return self.removed_at is None and (self.expires_at is None or self.expires_at > timezone.now())


class ImportJob(models.Model):
    """A CSV import: the uploaded file, the column mapping, progress and per-line errors."""

    class Status(models.TextChoices):
        PREVIEW = "preview", "Awaiting confirmation"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    file = models.FileField(upload_to="imports/")
    original_name = models.CharField(max_length=255)
    mapping = models.JSONField(default=dict, help_text="CSV header -> field name.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PREVIEW)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[{line, reason}], capped.")
    failure_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class ImportMapping(models.Model):
    """A remembered column mapping, keyed by the file's header row."""

    header_signature = models.CharField(max_length=64, unique=True)
    mapping = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)


class OutboundMessage(models.Model):
    """The outbox: one email to send, created only by approving a draft. Its row is the truth."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        UNKNOWN = "unknown", "Unknown: a person must decide"

    class Code(models.TextChoices):
        DUPLICATE_EMAIL = "duplicate_email", "Duplicate email"
        SUPPRESSED = "suppressed", "Suppressed"
        OPTED_OUT = "user_marketing_email_opt_out", "Recipient opted out"
        DAILY_LIMIT = "daily_limit_reached", "Daily limit reached"
        PROVIDER_ERROR = "provider_error", "Provider error"
        INVALID_ADDRESS = "invalid_address", "Invalid address"
        CONTENT_CHANGED = "content_changed", "Body does not match the approved text"

    draft = models.OneToOneField("review.Draft", on_delete=models.PROTECT, related_name="outbound_message")
    recipient = models.ForeignKey(Recipient, on_delete=models.PROTECT, related_name="outbound_messages")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="outbound_messages")
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    enrollment = models.ForeignKey(
        "campaigns.Enrollment", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    step = models.ForeignKey(
        "campaigns.SequenceStep", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    from_email = models.CharField(max_length=320)
    reply_to = models.EmailField(blank=True)
    to_email = models.EmailField()
    cc = models.JSONField(default=list, blank=True)
    bcc = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=300)
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

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "not_before"]), models.Index(fields=["sender", "sent_at"])]

    def __str__(self) -> str:
        return f"Message #{self.pk} to {self.to_email} ({self.state})"

    # success | failure | skipped, as one-to-one send tools report an outcome.
    _STATUS_BY_STATE: dict[str, str] = {
        State.SENT: "success",
        State.FAILED: "failure",
        State.SKIPPED: "skipped",
        State.UNKNOWN: "unknown",
        State.QUEUED: "pending",
        State.SENDING: "pending",
    }

    def as_send_result(self) -> dict:
        """The outcome in the shape one-to-one send tools report it."""
        return {
            "status": self._STATUS_BY_STATE[self.state],
            "code": self.code or None,
            "error_message": self.error_message or None,
            "to_id": self.recipient_id,
            "from_id": self.sender_id,
            "email_id": self.pk,
            "sender_config_id": self.sender_config_id,
            "options": {
                "from": self.from_email,
                "reply_to": self.reply_to,
                "to": [self.to_email],
                "cc": list(self.cc),
                "bcc": list(self.bcc),
                "subject": self.subject,
                "message_id": self.message_id,
                "in_reply_to": self.in_reply_to or None,
                "campaign_id": self.campaign_id,
                "step_id": self.step_id,
                "not_before": self.not_before.isoformat() if self.not_before else None,
            },
            "response": self.provider_response or None,
        }


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

    def set_smtp_password(self, password: str) -> None:
        from .crypto import encrypt

        self.smtp_password_encrypted = encrypt(password)

    def get_smtp_password(self) -> str:
        from .crypto import decrypt

        return decrypt(self.smtp_password_encrypted)

    @property
    def has_smtp_password(self) -> bool:
        return bool(self.smtp_password_encrypted)


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


# --- API tokens and emitted signals (REST API, outbound webhooks) ------------------------------


class ApiToken(models.Model):
    """A personal API token: acts as its user, limited to its scopes. Only a hash is stored."""

    class Scope(models.TextChoices):
        CONTACTS_READ = "contacts:read", "Read contacts"
        CONTACTS_WRITE = "contacts:write", "Create and update contacts"
        SEQUENCES_READ = "sequences:read", "Read sequences and enrollments"
        SEQUENCES_WRITE = "sequences:write", "Create sequences, enroll and cancel"
        EMAIL_SEND = "email:send", "Approve drafts (sends them)"
        SUPPRESSIONS_WRITE = "suppressions:write", "Add and remove suppressions"
        DRAFTS_READ = "drafts:read", "Read drafts and sent messages"
        EVENTS_READ = "events:read", "Read emitted events"
        WEBHOOKS_WRITE = "webhooks:write", "Manage webhook subscriptions"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What this token is for, e.g. 'CRM sync'.")
    # The first characters of the secret, shown in lists so a person can tell tokens apart.
    prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the whole secret.")
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Fixed-window rate limit, kept in the database so every process counts the same requests.
    rate_window_start = models.DateTimeField(null=True, blank=True)
    rate_window_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ApiIdempotencyKey(models.Model):
    """A creating request's response, kept for 24 hours so a retry with the same key replays it."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="idempotency_keys")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    # Text, not JSON: PostgreSQL's jsonb reorders keys, and a replay must be byte for byte the same.
    response_body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "key"], name="idempotency_key_unique_per_token")]


class OutboundEvent(models.Model):
    """One emitted signal, as other systems see it: delivered by webhooks and listed by the API."""

    class Type(models.TextChoices):
        ENGAGEMENT = "engagement_signal", "Engagement signal"
        DRAFT_EDIT = "draft_edit_signal", "Draft decision / edit signal"
        SUPPRESSION = "suppression_addition", "Suppression addition"

    public_id = models.CharField(max_length=40, unique=True, help_text="evt_…; the webhook-id header.")
    type = models.CharField(max_length=30, choices=Type.choices, db_index=True)
    payload = models.JSONField(default=dict)
    # Who may see it through the API: the recipient's owner and the sender (CSMs and admins: all).
    recipient = models.ForeignKey(Recipient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.public_id} {self.type}"


class WebhookSubscription(models.Model):
    """A URL that receives the emitted signals of the chosen types, signed with its secret."""

    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list, help_text="Subset of OutboundEvent.Type values.")
    secret = models.CharField(max_length=80, help_text="whsec_…: Standard Webhooks signing secret.")
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event to one subscriber: its attempts, their responses, and when to try again."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRYING = "retrying", "Retrying"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed (gave up)"

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(OutboundEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, help_text="The first characters of the last response.")
    error = models.TextField(blank=True)
    attempt_log = models.JSONField(default=list, blank=True, help_text="[{at, code, error, ms, replay}]")
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event"], name="webhook_delivery_once_per_event")
        ]
