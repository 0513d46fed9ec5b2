"""Integrations: personal API tokens, idempotent replays, emitted events and their webhook deliveries."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from outreach.people.models import Recipient


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
        INBOXES_READ = "inboxes:read", "Read inboxes' threads and messages"
        INBOXES_WRITE = "inboxes:write", "Connect mailboxes and sync them now"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What this token is for, e.g. 'CRM sync'.")
    # The first characters of the secret, shown in lists so a person can tell tokens apart.
    prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the whole secret.")
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The rate limit's token bucket, kept in the database so every process counts the same
    # requests: when the bucket will be full again, in microseconds since the Unix epoch
    # (empty: full now). See api_token_rate_limit_hit.
    rate_bucket_full_at_us = models.BigIntegerField(null=True, blank=True, editable=False)

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


class EmittedEvent(models.Model):
    """One emitted event, as other systems see it: delivered by webhooks and listed by the API. (Not a
    Django signal; the type names ending in "_signal" are the documented wire names.)"""

    class Type(models.TextChoices):
        ENGAGEMENT = "engagement_signal", "Engagement signal"
        DRAFT_EDIT = "draft_edit_signal", "Draft decision / edit signal"
        SUPPRESSION = "suppression_addition", "Suppression addition"
        SENDING_PAUSED = "sending_paused", "Sending paused by the automatic brakes"
        SENDING_RESUMED = "sending_resumed", "Sending resumed by a person"
        SEND_RESULT = "email_send_result", "Email send result"

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

    def as_body(self) -> dict:
        """The JSON both webhooks and GET /v1/events/ carry."""
        return {"id": self.public_id, "type": self.type, "timestamp": self.created_at.isoformat(), "data": self.payload}


class WebhookSubscription(models.Model):
    """A URL that receives the emitted signals of the chosen types, signed with its secret."""

    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list, help_text="Subset of EmittedEvent.Type values.")
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
    event = models.ForeignKey(EmittedEvent, on_delete=models.CASCADE, related_name="deliveries")
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
