"""Who must never be contacted: named lists and their entries (address, domain or recipient id)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from outreach.core.normalize import normalize_domain, normalize_email


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
