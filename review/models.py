"""The human checkpoint: a draft, its versions, and every decision taken on it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class DraftOrigin(models.Model):
    """Who asks for drafts, as review knows them: a campaign's id and name, handed down by campaigns
    with each request (campaigns sits above review, so no foreign key points up). The queue and the
    edit analytics group and filter by it; review never looks the campaign up."""

    campaign_ref = models.PositiveBigIntegerField(unique=True)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name", "campaign_ref"]

    def __str__(self) -> str:
        return self.name


class DraftBatch(models.Model):
    """Drafts written together through the Message Batches API (half price, asynchronous).

    The row is the truth, whatever happens to the worker: preparing (drafts claimed, not yet sent),
    submitted (the API has it: `provider_batch_id`), ended (every result stored on its draft or
    handed back to a single call) or failed (the API refused or lost it; its drafts went back to
    single calls). `busy_until` is a lease: the worker submitting it or storing its results."""

    class State(models.TextChoices):
        PREPARING = "preparing", "Preparing"
        SUBMITTED = "submitted", "Submitted"
        ENDED = "ended", "Ended"
        FAILED = "failed", "Failed"

    state = models.CharField(max_length=10, choices=State.choices, default=State.PREPARING, db_index=True)
    provider_batch_id = models.CharField(max_length=100, blank=True, db_index=True)
    model_name = models.CharField(max_length=100, blank=True)
    request_count = models.PositiveIntegerField(default=0)
    # The API's tallies, as of the last check.
    processing_count = models.PositiveIntegerField(default=0)
    succeeded_count = models.PositiveIntegerField(default=0)
    errored_count = models.PositiveIntegerField(default=0)
    expired_count = models.PositiveIntegerField(default=0)
    canceled_count = models.PositiveIntegerField(default=0)
    # Results stored on their drafts, and requests handed back to single calls.
    stored_count = models.PositiveIntegerField(default=0)
    fallback_count = models.PositiveIntegerField(default=0)
    failure_reason = models.TextField(blank=True)
    busy_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Batch #{self.pk} {self.provider_batch_id or '(not submitted)'} ({self.state})"


class Draft(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        DRAFTING = "drafting", "Drafting"
        READY = "ready", "Ready for review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        FAILED = "failed", "Failed"
        SUPERSEDED = "superseded", "Superseded"

    OPEN_STATES = (State.QUEUED, State.DRAFTING, State.READY, State.FAILED)

    recipient = models.ForeignKey("outreach.Recipient", on_delete=models.CASCADE, related_name="drafts")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="drafts_to_send")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="drafts_to_review",
        help_text="Assigned reviewer, when someone other than the sender reviews.",
    )
    # Who asked for it (a campaign; empty for an ad-hoc draft), and which enrollment and step, as
    # plain ids handed down by the asker: review echoes them and never looks them up.
    origin = models.ForeignKey(DraftOrigin, null=True, blank=True, on_delete=models.PROTECT, related_name="drafts")
    enrollment_ref = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    step_ref = models.PositiveBigIntegerField(null=True, blank=True)
    # What to write about (see review.briefs.Brief), and the rules its email is sent under (see
    # review.briefs.SendRules); copied onto the outbound message when it is approved.
    brief = models.JSONField(default=dict, blank=True)
    send_rules = models.JSONField(default=dict, blank=True)
    # The email a person approved: the link points down, from the draft to the outbox.
    outbound_message = models.OneToOneField(
        "outreach.OutboundMessage", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED, db_index=True)
    # Optimistic lock: every decision must name the version it saw.
    version = models.PositiveIntegerField(default=1)
    cc = models.JSONField(default=list, blank=True)
    bcc = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    preview_text = models.CharField(max_length=300, blank=True)
    body_html = models.TextField(blank=True)
    body_text = models.TextField(blank=True)
    cited_fact_ids = models.JSONField(default=list, blank=True)
    grounding = models.JSONField(default=list, blank=True, help_text="Claims with supported/unsupported and fact ids.")
    unsupported_claim_count = models.PositiveIntegerField(default=0)
    facts_snapshot = models.JSONField(default=list, blank=True, help_text="The facts as given to the engine.")
    withheld = models.JSONField(
        default=list,
        blank=True,
        help_text="Links, addresses, phone numbers, prices, discounts and deadlines only untrusted "
        "sources contain, taken out of the text with their sentence until a reviewer keeps them.",
    )
    unfiltered = models.JSONField(
        default=dict, blank=True, help_text="Subject, preview and body as written, before withholding."
    )
    edit_example_ids = models.JSONField(
        default=list, blank=True, help_text="Ids of the reviewer edits given to the engine as examples."
    )
    kept_untrusted = models.JSONField(
        default=list, blank=True, help_text="Withheld claims a reviewer chose to keep: text, by, at."
    )
    instruction = models.TextField(blank=True, help_text="Reviewer's instruction for a regeneration.")
    provider = models.CharField(max_length=30, blank=True)
    model_name = models.CharField(max_length=100, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    # Of input_tokens: read from, and written to, the prompt cache.
    cache_read_tokens = models.PositiveIntegerField(default=0)
    cache_write_tokens = models.PositiveIntegerField(default=0)
    # Drafting in a batch (state drafting): the Message Batch writing it; kept once it is written.
    batch = models.ForeignKey(DraftBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="drafts")
    cost_usd = models.DecimalField(max_digits=10, decimal_places=6, default=0)
    failure_reason = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    drafting_started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["ready_at", "id"]
        indexes = [
            models.Index(fields=["state", "sender", "ready_at"]),
            models.Index(fields=["state", "reviewer", "ready_at"]),
            # The admin's queue (every sender) in order, and counts per state for one person.
            models.Index(fields=["state", "ready_at"], name="draft_state_ready_at"),
            models.Index(fields=["sender", "state"], name="draft_sender_state"),
            models.Index(fields=["reviewer", "state"], name="draft_reviewer_state"),
        ]
        constraints = [
            # One open draft per recipient per campaign.
            models.UniqueConstraint(
                fields=["recipient", "origin"],
                condition=Q(state__in=["queued", "drafting", "ready", "failed"]) & Q(origin__isnull=False),
                name="draft_one_open_per_recipient_campaign",
            ),
        ]

    def __str__(self) -> str:
        return f"Draft #{self.pk} to {self.recipient_id} ({self.state})"

    @property
    def campaign_ref(self) -> int | None:
        return self.origin.campaign_ref if self.origin_id else None  # type: ignore[union-attr]

    @property
    def campaign_name(self) -> str:
        return self.origin.name if self.origin_id else ""  # type: ignore[union-attr]


class DraftVersion(models.Model):
    """Every text a draft has had: generated, regenerated or edited."""

    class Origin(models.TextChoices):
        GENERATED = "generated", "Generated"
        REGENERATED = "regenerated", "Regenerated"
        EDITED = "edited", "Edited by reviewer"
        KEPT = "kept", "Untrusted text kept by reviewer"

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    origin = models.CharField(max_length=12, choices=Origin.choices)
    subject = models.CharField(max_length=300)
    preview_text = models.CharField(max_length=300, blank=True, default="")
    body_html = models.TextField()
    body_text = models.TextField()
    instruction = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["draft", "number"]
        constraints = [models.UniqueConstraint(fields=["draft", "number"], name="draft_version_unique_number")]


class RejectReason(models.TextChoices):
    """Why a reviewer rejected a draft (stored in DraftDecision.reason)."""

    WRONG_FACTS = "wrong_facts", "Wrong or invented facts"
    TONE = "tone", "Wrong tone or voice"
    NOT_RELEVANT = "not_relevant", "Not relevant to this person"
    BAD_TIMING = "bad_timing", "Bad timing"
    DO_NOT_CONTACT = "do_not_contact", "Do not contact this person"
    OTHER = "other", "Other"


class DraftDecision(models.Model):
    """Who decided what on a draft, when, and why: approve, edit+approve, reject, regenerate, skip."""

    class Action(models.TextChoices):
        APPROVE = "approve", "Approved"
        EDIT_APPROVE = "edit_approve", "Edited and approved"
        REJECT = "reject", "Rejected"
        REGENERATE = "regenerate", "Regenerate requested"
        SKIP = "skip", "Skipped for now"
        RETRY = "retry", "Retry requested"
        KEEP_UNTRUSTED = "keep_untrusted", "Kept text from an untrusted source"
        UNDO_APPROVE = "undo_approve", "Approval undone"

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="decisions")
    action = models.CharField(max_length=14, choices=Action.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=40, blank=True)
    note = models.TextField(blank=True)
    via = models.CharField(max_length=10, default="web", help_text="web or api")
    created_at = models.DateTimeField(auto_now_add=True)
    # Set on an approval its approver took back (the undo_approve decision records who and when):
    # nothing was sent, so edit analytics do not count it as approved.
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]


class DraftEdit(models.Model):
    """A reviewer's change to a draft, with its edit distance: the signal for tuning prompts."""

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="edits")
    editor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    subject_before = models.CharField(max_length=300)
    subject_after = models.CharField(max_length=300)
    # The hidden preheader shown after the subject in most inboxes.
    preview_text_before = models.CharField(max_length=300, blank=True, default="")
    preview_text_after = models.CharField(max_length=300, blank=True, default="")
    body_before = models.TextField()
    body_after = models.TextField()
    char_distance = models.PositiveIntegerField()
    normalized_similarity = models.FloatField(help_text="0..1, 1 = unchanged.")
    word_distance = models.PositiveIntegerField()
    changed_parts = models.JSONField(
        default=list, help_text="Which parts changed: subject, preview_text, body, cc, bcc."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]


class DraftSkip(models.Model):
    """A draft that was not created, and why: suppressed, already open, no sender."""

    recipient = models.ForeignKey("outreach.Recipient", on_delete=models.CASCADE, related_name="draft_skips")
    # As on Draft: who asked, and the enrollment as a plain id.
    origin = models.ForeignKey(DraftOrigin, null=True, blank=True, on_delete=models.PROTECT, related_name="skips")
    enrollment_ref = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    code = models.CharField(max_length=30)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]


class ReviewerSettings(models.Model):
    """A reviewer's own choices for the review queue, kept on the server so they follow the person to
    every browser and device (a row appears on the first change; no row means the defaults)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_settings")
    single_key_shortcuts = models.BooleanField(
        default=True,
        help_text="j/k/a/e/r/g/s/u act on the queue; off for speech input or other tools that type letters "
        "(WCAG 2.1.4).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "reviewer settings"

    def __str__(self) -> str:
        return f"Review settings of {self.user_id}"
