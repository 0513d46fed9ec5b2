"""What to say, to whom and when: campaign intent, sequence steps, enrollments."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from outreach.core.text import clean_display_fields

from .display import event_kind_words


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        ARCHIVED = "archived", "Archived"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Manual list"
        MILESTONE = "milestone", "Milestone rule"
        API = "api", "Enrolled through the API"

    class SenderMode(models.TextChoices):
        OWNER = "owner", "Recipient's relationship owner"
        NAMED = "named", "A named team member"
        ROUND_ROBIN = "round_robin", "Round-robin across a team"

    name = models.CharField(max_length=200)
    goal = models.TextField(blank=True)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.MANUAL)
    trigger_description = models.TextField(blank=True)
    target_description = models.TextField(blank=True)
    target_filter = models.JSONField(default=dict, blank=True, help_text="Saved filter over recipients.")
    key_message = models.TextField(blank=True)
    call_to_action = models.CharField(max_length=300, blank=True)
    persona_tone = models.CharField(max_length=200, blank=True, help_text="Overrides the sender's default tone.")
    persona_role = models.TextField(blank=True)
    sender_mode = models.CharField(max_length=12, choices=SenderMode.choices, default=SenderMode.OWNER)
    named_sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    round_robin_senders = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    open_tracking = models.BooleanField(default=False)
    suppression_lists = models.ManyToManyField("outreach.SuppressionList", blank=True, related_name="campaigns")
    # One-to-one send tools' default: a failed send completes the step and the sequence goes on.
    complete_on_send_failure = models.BooleanField(default=True)
    exit_on_reply = models.BooleanField(default=True)
    # An out-of-office auto-reply with a return date holds the next step until that day.
    pause_on_out_of_office = models.BooleanField(
        default=False, help_text="Pause the sequence on an out-of-office reply until the return date it gives."
    )
    exit_condition_prompt = models.TextField(blank=True)
    entry_prompt = models.TextField(
        blank=True,
        help_text="When (and when not) to use this campaign: judged for each candidate on their facts before "
        "the first draft: send now, not now (try again at the next scan) or never.",
    )
    # Copied onto every draft of the campaign (team addresses welcome); a suppressed one is dropped
    # at send time with a note on the message.
    cc = models.JSONField(default=list, blank=True, help_text="Addresses copied on every email of the campaign.")
    bcc = models.JSONField(default=list, blank=True, help_text="Addresses blind-copied on every email.")
    # Handed down with each approved email and filled in when it is sent (outreach.mail.send_properties).
    set_properties = models.JSONField(
        default=dict, blank=True, help_text='Set on the contact after a send, e.g. {"last_renewal": "{{ send_date }}"}.'
    )
    send_window = models.JSONField(
        default=dict, blank=True, help_text='e.g. {"days": [0,1,2,3,4], "start": "09:00", "end": "17:00"}'
    )

    class TargetMode(models.TextChoices):
        FILTER = "filter", "Saved filter over recipients"
        STATIC = "static", "Static list"

    target_mode = models.CharField(max_length=10, choices=TargetMode.choices, default=TargetMode.FILTER)
    static_recipients = models.ManyToManyField("outreach.Recipient", blank=True, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="campaigns_created"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    # Shown to reviewers and in every list: stored without hidden or bidi characters.
    DISPLAY_LINES = ("name",)

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        clean_display_fields(self, self.DISPLAY_LINES)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        clean_display_fields(self, self.DISPLAY_LINES)


class SequenceStep(models.Model):
    """One email of a sequence: a fixed template with variables, or a prompt for the engine."""

    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="steps")
    enrollment = models.ForeignKey(
        "Enrollment",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="ad_hoc_steps",
        help_text="Set for ad-hoc steps given for one recipient.",
    )
    position = models.PositiveIntegerField()
    delay_days = models.PositiveIntegerField(default=0, help_text="Days after the previous send.")
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True, help_text="Fixed body with {{ variables }}.")
    prompt = models.TextField(blank=True, help_text="Instruction for the drafting engine.")
    cc = models.JSONField(default=list, blank=True, help_text="Addresses copied on this step's email.")
    bcc = models.JSONField(default=list, blank=True, help_text="Addresses blind-copied on this step's email.")

    class Meta:
        ordering = ["position"]
        constraints = [
            models.CheckConstraint(
                condition=Q(campaign__isnull=False) | Q(enrollment__isnull=False), name="step_belongs_somewhere"
            ),
        ]


class Enrollment(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        WAITING_REVIEW = "waiting_review", "Waiting for review"
        WAITING_SEND = "waiting_send", "Waiting for send"
        WAITING_DELAY = "waiting_delay", "Waiting for delay"
        COMPLETED = "completed", "Completed"
        EXITED_REPLY = "exited_reply", "Exited on reply"
        EXITED_CONDITION = "exited_condition", "Exited on condition"
        SUPPRESSED = "suppressed", "Suppressed"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    LIVE_STATES = (State.ACTIVE, State.WAITING_REVIEW, State.WAITING_SEND, State.WAITING_DELAY)
    # States in which the scan may request the next step's draft once it is due.
    DUE_STATES = (State.ACTIVE, State.WAITING_DELAY)

    class Kind(models.TextChoices):
        TEMPLATE = "template", "Campaign sequence"
        AD_HOC = "ad_hoc", "Ad hoc"
        TRIGGERED = "triggered", "Triggered by a rule"

    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="enrollments")
    recipient = models.ForeignKey("outreach.Recipient", on_delete=models.CASCADE, related_name="enrollments")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEMPLATE)
    state = models.CharField(max_length=20, choices=State.choices, default=State.ACTIVE, db_index=True)
    current_step = models.PositiveIntegerField(default=0, help_text="Position of the next step to draft.")
    next_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    exit_on_reply = models.BooleanField(default=True)
    source = models.JSONField(default=dict, blank=True, help_text="The message or event that started it.")
    occurrence_key = models.CharField(
        max_length=200, blank=True, help_text="Rule + occurrence, so a rule enrolls once."
    )
    state_reason = models.TextField(blank=True)
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="campaign_enrollments",
        help_text="Who sends this sequence; chosen at the first draft and kept for every step.",
    )
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "recipient", "occurrence_key"],
                condition=~Q(occurrence_key=""),
                name="enrollment_once_per_occurrence",
            ),
        ]
        indexes = [models.Index(fields=["state", "next_due_at"], name="enrollment_due_lookup")]

    def __str__(self) -> str:
        return f"Enrollment #{self.pk} ({self.state})"

    @property
    def is_live(self) -> bool:
        return self.state in self.LIVE_STATES

    @property
    def enrolled_because(self) -> str:
        return str((self.source or {}).get("why", ""))


class EnrollmentEvent(models.Model):
    """The history of one enrollment: every state change with who, when and why."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.from_state} -> {self.to_state}"

    # In words for the pages: "Draft requested", "Waiting for review" (never the stored codes).
    @property
    def kind_words(self) -> str:
        return event_kind_words(self.kind)

    @property
    def from_state_words(self) -> str:
        return str(dict(Enrollment.State.choices).get(self.from_state, self.from_state))

    @property
    def to_state_words(self) -> str:
        return str(dict(Enrollment.State.choices).get(self.to_state, self.to_state))


class ExitConditionCheck(models.Model):
    """A reply waiting to be judged against its campaign's exit condition (an LLM call, made by a
    worker). Created with the engagement that asks for it, so a task lost with the broker is found
    and enqueued again by the sweep; claimed (queued -> running) before the call, so it is judged
    once however many tasks arrive."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Being judged"
        DONE = "done", "Judged"
        FAILED = "failed", "Could not be judged"

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="exit_checks")
    event = models.ForeignKey("outreach.EngagementEvent", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    created_at = models.DateTimeField(default=timezone.now)
    # When it last moved (created, claimed, nudged again): the sweep's clock.
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "event"], name="exit_check_once_per_reply"),
        ]
        indexes = [models.Index(fields=["state", "updated_at"], name="exit_check_sweep")]


class MilestoneRule(models.Model):
    """A rule over recipient/account data and facts that enrolls matching recipients into its campaign."""

    class Kind(models.TextChoices):
        ONBOARDING_MISSED = "onboarding_missed", "Onboarding milestone not reached N days after signup"
        RENEWAL_WITHIN = "renewal_within", "Renewal date within N days"
        USAGE_DROP = "usage_drop", "Usage dropped X % over N days"
        STAGE_CHANGED = "stage_changed", "Lifecycle stage changed to a stage"
        RISK_CROSSED = "risk_crossed", "Risk score crosses a threshold"
        CSM_HANDOFF = "csm_handoff", "Qualified and assigned a CSM: the owner sends the handoff"
        # "Label added" is a LabelAutomation: it fires on additions, not on who carries the label.

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="rules")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    parameters = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_matched = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["campaign", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.parameters}"


class RecipientStage(models.Model):
    """The lifecycle stage (and owner) the scan last saw for a recipient, so a change can be detected."""

    recipient = models.OneToOneField("outreach.Recipient", on_delete=models.CASCADE, related_name="+")
    stage = models.CharField(max_length=50, blank=True)
    previous_stage = models.CharField(max_length=50, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True, help_text="When the scan saw the latest change.")
    owner_id_seen = models.BigIntegerField(null=True, blank=True, help_text="The owner the scan last saw.")
    owner_changed_at = models.DateTimeField(null=True, blank=True, help_text="When the scan saw a new owner.")


class RuleSide(models.Model):
    """Which side of a threshold rule's line the scan last saw a recipient on, so the rule fires on
    the crossing (once per crossing), not on every scan while the value stays on the far side."""

    class Side(models.TextChoices):
        ABOVE = "above", "At or above the threshold"
        BELOW = "below", "Below the threshold"

    rule = models.ForeignKey(MilestoneRule, on_delete=models.CASCADE, related_name="sides")
    recipient = models.ForeignKey("outreach.Recipient", on_delete=models.CASCADE, related_name="+")
    side = models.CharField(max_length=5, choices=Side.choices)
    value = models.FloatField(null=True, blank=True, help_text="The value last seen.")
    crossings = models.PositiveIntegerField(default=0, help_text="How many times it crossed the way the rule fires.")
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "recipient"], name="rule_side_once")]


class CampaignEvent(models.Model):
    """Who launched, paused, resumed or archived a campaign (or enrolled newcomers), and when."""

    class Kind(models.TextChoices):
        LAUNCHED = "launched", "Launched"
        PAUSED = "paused", "Paused"
        RESUMED = "resumed", "Resumed"
        ARCHIVED = "archived", "Archived"
        ENROLLED = "enrolled", "Enrolled newcomers"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    summary = models.TextField(blank=True, help_text="What happened, in words (counts at the time).")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.actor or 'the system'}"


class LabelAutomation(models.Model):
    """ "When label X is added to a contact, enroll them in this sequence." Fires on label additions
    made after it exists (people.signals.labels_added); contacts who already carried the label were
    enrolled only if its creator asked for it, after seeing how many there were. It never changes
    the campaign's own trigger."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="automations")
    label = models.ForeignKey("outreach.Label", on_delete=models.CASCADE, related_name="+")
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The inbox its enrollments are sent from; empty: the campaign decides.",
    )
    exit_on_reply = models.BooleanField(null=True, blank=True, help_text="Empty: the campaign's setting.")
    source = models.JSONField(default=dict, blank=True, help_text="Copied into each enrollment's source.")
    active = models.BooleanField(default=True)
    existing_enrolled = models.PositiveIntegerField(
        default=0, help_text="Contacts who already carried the label, enrolled at creation on request."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["campaign", "id"]

    def __str__(self) -> str:
        return f"label {self.label} → {self.campaign}"
