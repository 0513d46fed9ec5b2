"""People: team members as senders, recipients (the API's contacts), accounts, facts, labels, CSV imports."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from outreach.core.normalize import normalize_domain, normalize_email
from outreach.core.text import clean_display_fields

# Person-facing text (shown in pages and emails, quoted to the model) is stored without characters
# that hide or reorder it (zero-width, bidi controls such as U+202E, tags): each model below cleans
# its fields in save() and clean(), so forms, the admin, the API and imports are all covered.


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
    ramp_up_from = models.DateField(
        null=True,
        blank=True,
        help_text="A new sender's warm-up: from this day the daily limit starts small and grows to the "
        "daily send limit (RAMP_UP_START_PER_DAY, growing by RAMP_UP_GROWTH_PERCENT a day). Empty: no ramp-up.",
    )
    time_zone = models.CharField(max_length=64, default="UTC")

    DISPLAY_LINES = ("display_name", "title", "company")
    DISPLAY_BLOCKS = ("signature",)

    def __str__(self) -> str:
        return f"{self.display_name} <{self.email}>"

    def save(self, *args, **kwargs):
        self.email = normalize_email(self.email)
        if self.reply_to:
            self.reply_to = normalize_email(self.reply_to)
        clean_display_fields(self, self.DISPLAY_LINES, self.DISPLAY_BLOCKS)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        clean_display_fields(self, self.DISPLAY_LINES, self.DISPLAY_BLOCKS)


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
    properties = models.JSONField(
        default=dict, blank=True, help_text="Custom account properties (a CRM's risk score, say)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name"], name="account_unique_name"),
        ]

    DISPLAY_LINES = ("name",)

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.domain = normalize_domain(self.domain) if self.domain else ""
        clean_display_fields(self, self.DISPLAY_LINES)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        # Before the uniqueness check: "Acme" and "Acme" + U+200B are one account.
        clean_display_fields(self, self.DISPLAY_LINES)


class Label(models.Model):
    name = models.CharField(max_length=100, unique=True)

    DISPLAY_LINES = ("name",)

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        clean_display_fields(self, self.DISPLAY_LINES)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        clean_display_fields(self, self.DISPLAY_LINES)


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

    DISPLAY_LINES = ("first_name", "last_name", "title")

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>" if self.full_name else self.email

    def save(self, *args, **kwargs):
        self.email = normalize_email(self.email)
        self.country = (self.country or "").strip().upper()
        clean_display_fields(self, self.DISPLAY_LINES)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self.email = normalize_email(self.email)
        self.country = self.country.strip().upper()
        clean_display_fields(self, self.DISPLAY_LINES)

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

    class Origin(models.TextChoices):
        """Where a fact came from. Only text the team wrote is trusted to carry a link, address,
        phone number, price, discount or deadline into an email; the rest is information about
        the recipient that someone outside the team wrote or could have written."""

        TEAM = "team", "Entered by the team"
        CSV_IMPORT = "csv_import", "CSV import"
        API = "api", "API"
        CRM_SYNC = "crm_sync", "CRM sync"
        RECIPIENT_EMAIL = "recipient_email", "The recipient's own email or reply"
        CAMPAIGN = "campaign", "Campaign"
        SENDER_PROFILE = "sender_profile", "Sender profile"

    TRUSTED_ORIGINS = frozenset({Origin.TEAM, Origin.CAMPAIGN, Origin.SENDER_PROFILE})

    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="facts")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    text = models.TextField()
    value = models.CharField(max_length=200, blank=True, help_text="Optional machine-readable value.")
    source = models.CharField(max_length=100, blank=True, help_text="Free text: which file, system or person.")
    origin = models.CharField(
        max_length=20,
        choices=Origin.choices,
        default=Origin.TEAM,
        help_text="Where the fact came from; decides whether it is trusted.",
    )
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

    DISPLAY_BLOCKS = ("text",)

    def __str__(self) -> str:
        return f"{self.kind}: {self.text[:60]}"

    def save(self, *args, **kwargs):
        clean_display_fields(self, blocks=self.DISPLAY_BLOCKS)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        clean_display_fields(self, blocks=self.DISPLAY_BLOCKS)

    @property
    def trusted(self) -> bool:
        return self.origin in self.TRUSTED_ORIGINS

    def as_dict(self) -> dict:
        """The plain shape the drafting engine and grounding check take."""
        return {
            "id": str(self.pk),
            "kind": self.kind,
            "text": self.text,
            "value": self.value or None,
            "observed_at": self.observed_at.date().isoformat() if self.observed_at else None,
            "origin": self.origin,
            "trust": "trusted" if self.trusted else "untrusted",
        }


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
    # When the job last moved (queued, a batch committed, nudged again): the sweep re-enqueues a
    # queued or running job that has not moved for a while (its task was lost with the broker).
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class ImportMapping(models.Model):
    """A remembered column mapping, keyed by the file's header row."""

    header_signature = models.CharField(max_length=64, unique=True)
    mapping = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)


class LabelEvent(models.Model):
    """A label added to a recipient: when, by whom and through what (the page, the API, a CSV
    import, the admin). Automations start sequences from these; a label removed and added again is
    a new event."""

    class Via(models.TextChoices):
        UI = "ui", "the recipient page"
        API = "api", "the API"
        CSV = "csv", "a CSV import"
        ADMIN = "admin", "the admin site"

    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="label_events")
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="events")
    via = models.CharField(max_length=10, choices=Via.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["label", "created_at"], name="label_event_lookup")]

    def __str__(self) -> str:
        return f"label {self.label_id} added to {self.recipient_id} via {self.via}"
