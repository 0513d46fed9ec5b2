"""Forms for campaign intent, sequence steps, the target group and milestone rules."""

from __future__ import annotations

import re

from django import forms
from django.contrib.auth import get_user_model

from outreach.core.errors import ApplicationError
from outreach.mail.send_properties import VARIABLES as SEND_VARIABLES
from outreach.mail.send_properties import set_properties_clean
from outreach.people.models import Account, Fact, Label, Recipient
from outreach.suppression.models import SuppressionList
from review import services as review_services

from .models import Campaign, MilestoneRule, SequenceStep
from .services import TEMPLATE_VARIABLES, template_unknown_variables
from .services.milestones import RULE_PARAMETERS

WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]
TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _senders():
    return get_user_model().objects.filter(sender__isnull=False, is_active=True).order_by("username")


ADDRESS_SPLIT = re.compile(r"[\s,;]+")
MAX_COPIES = 20


def _addresses_field(label: str) -> forms.CharField:
    return forms.CharField(
        required=False,
        label=label,
        help_text="Addresses separated by commas; team addresses are fine. A suppressed one is left off at send.",
    )


def clean_address_list(value: str) -> list[str]:
    """ "a@x.example, b@y.example" -> normalized, de-duplicated, each one a valid address."""
    try:
        addresses = review_services.clean_addresses([a for a in ADDRESS_SPLIT.split(value or "") if a])
    except ApplicationError as exc:
        raise forms.ValidationError(exc.message) from exc
    if len(addresses) > MAX_COPIES:
        raise forms.ValidationError(f"At most {MAX_COPIES} addresses.")
    return addresses


def parse_set_properties(text: str) -> dict[str, str]:
    """ "last_renewal_outreach = {{ send_date }}" per line -> {key: value template}, validated."""
    pairs: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise forms.ValidationError(f"Line {number}: write name = value, e.g. last_renewal = {{{{ send_date }}}}.")
        pairs[key.strip()] = value.strip()
    try:
        return set_properties_clean(pairs)
    except ApplicationError as exc:
        raise forms.ValidationError(exc.message) from exc


class CampaignForm(forms.ModelForm):
    cc = _addresses_field("CC on every email")
    bcc = _addresses_field("BCC on every email")
    set_properties = forms.CharField(
        required=False,
        label="After a successful send, set on the contact",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "last_renewal_outreach = {{ send_date }}"}),
        help_text="One per line: name = value. Variables: "
        + ", ".join(f"{{{{ {name} }}}} ({words})" for name, words in SEND_VARIABLES.items())
        + ". Target filters can then pick people by it (e.g. not contacted in the last 30 days).",
    )
    window_days = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS, coerce=int, required=False, widget=forms.CheckboxSelectMultiple, label="Send on"
    )
    # A time picker in the browser; the server still checks HH:MM (a browser without one sends text).
    window_start = forms.CharField(
        required=False, max_length=5, label="Send from", widget=forms.TextInput(attrs={"type": "time"})
    )
    window_end = forms.CharField(
        required=False, max_length=5, label="Send until", widget=forms.TextInput(attrs={"type": "time"})
    )

    class Meta:
        model = Campaign
        fields = [
            "name",
            "goal",
            "trigger",
            "trigger_description",
            "target_description",
            "key_message",
            "call_to_action",
            "persona_tone",
            "persona_role",
            "sender_mode",
            "named_sender",
            "round_robin_senders",
            "open_tracking",
            "suppression_lists",
            "complete_on_send_failure",
            "exit_on_reply",
            "pause_on_out_of_office",
            "exit_condition_prompt",
            "entry_prompt",
            "cc",
            "bcc",
            "set_properties",
        ]
        widgets = {
            "goal": forms.Textarea(attrs={"rows": 2}),
            "trigger_description": forms.Textarea(attrs={"rows": 2}),
            "target_description": forms.Textarea(attrs={"rows": 2}),
            "key_message": forms.Textarea(attrs={"rows": 3}),
            "persona_role": forms.Textarea(attrs={"rows": 2}),
            "exit_condition_prompt": forms.Textarea(
                attrs={"rows": 2, "placeholder": "e.g. Exit if they say they are not the right person"}
            ),
            "entry_prompt": forms.Textarea(
                attrs={
                    "rows": 2,
                    "placeholder": 'e.g. Only send when a fact says "renewal"; never if one says "churned".',
                }
            ),
            "round_robin_senders": forms.CheckboxSelectMultiple,
            "suppression_lists": forms.CheckboxSelectMultiple,
        }
        labels = {
            "named_sender": "Named sender (when a named team member sends)",
            "round_robin_senders": "Team for round-robin",
            "suppression_lists": "Extra suppression lists (the global list always applies)",
            "persona_tone": "Persona tone (blank: each sender's own)",
            "exit_condition_prompt": "Exit condition (the LLM checks each reply against it)",
            "complete_on_send_failure": "Continue the sequence when a send fails",
            "pause_on_out_of_office": "Pause the sequence on an out-of-office until the return date",
            "entry_prompt": "Entry prompt (judged for each candidate before the first draft: send now, not now or never)",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("named_sender", "round_robin_senders"):
            field = self.fields[name]
            field.queryset = _senders()  # type: ignore[attr-defined]
            field.label_from_instance = lambda u: u.get_full_name() or u.username  # type: ignore[attr-defined]
        named = self.fields["named_sender"]
        named.empty_label = "Nobody named yet"  # type: ignore[attr-defined]
        lists = self.fields["suppression_lists"]
        lists.queryset = SuppressionList.objects.filter(is_global=False).order_by("name")  # type: ignore[attr-defined]
        lists.label_from_instance = lambda lst: (  # type: ignore[attr-defined]
            f"{lst.name}: {lst.description}" if lst.description else lst.name
        )
        for name in ("cc", "bcc"):  # shown as the comma-separated text they are typed as
            self.initial[name] = ", ".join(getattr(self.instance, name) or []) if self.instance.pk else ""
        saved = (self.instance.set_properties or {}) if self.instance.pk else {}
        self.initial["set_properties"] = "\n".join(f"{key} = {value}" for key, value in sorted(saved.items()))
        window = (self.instance.send_window or {}) if self.instance.pk else {}
        # No send window unless one was chosen: nothing is ticked or filled in for you.
        self.initial.setdefault("window_days", window.get("days", []))
        self.initial.setdefault("window_start", window.get("start", ""))
        self.initial.setdefault("window_end", window.get("end", ""))

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the campaign a name.")
        return name

    def clean_cc(self) -> list[str]:
        return clean_address_list(self.cleaned_data.get("cc") or "")

    def clean_bcc(self) -> list[str]:
        return clean_address_list(self.cleaned_data.get("bcc") or "")

    def clean_set_properties(self) -> dict[str, str]:
        return parse_set_properties(self.cleaned_data.get("set_properties") or "")

    def clean(self):
        data = super().clean()
        mode = data.get("sender_mode")
        if mode == Campaign.SenderMode.NAMED and not data.get("named_sender"):
            self.add_error("named_sender", "Pick who sends when the campaign names a sender.")
        if mode == Campaign.SenderMode.ROUND_ROBIN and len(data.get("round_robin_senders") or []) < 2:
            self.add_error("round_robin_senders", "Round-robin needs at least two team members.")
        start, end = data.get("window_start", ""), data.get("window_end", "")
        for name, value in (("window_start", start), ("window_end", end)):
            if value and not TIME_RE.match(value):
                self.add_error(name, "Use HH:MM, for example 09:00.")
        if start and end and TIME_RE.match(start) and TIME_RE.match(end) and start >= end:
            self.add_error("window_end", "The window must end after it starts.")
        return data

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        window = {
            "days": sorted(data.pop("window_days", []) or []),
            "start": data.pop("window_start", "") or "",
            "end": data.pop("window_end", "") or "",
        }
        data["send_window"] = window if any(window.values()) else {}  # nothing chosen: no window
        return data


class StepForm(forms.ModelForm):
    class Meta:
        model = SequenceStep
        fields = ["delay_days", "subject", "body", "prompt"]
        widgets = {
            "body": forms.Textarea(attrs={"rows": 5}),
            "prompt": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {"delay_days": "Days after the previous send", "prompt": "…or a prompt for the drafting engine"}

    def clean(self):
        data = super().clean()
        fixed = bool((data.get("subject") or "").strip() or (data.get("body") or "").strip())
        prompt = bool((data.get("prompt") or "").strip())
        if fixed and prompt:
            raise forms.ValidationError("Write either a fixed subject and body, or a prompt, not both.")
        if not fixed and not prompt:
            raise forms.ValidationError("Write a fixed subject and body, or a prompt for the drafting engine.")
        if fixed and not ((data.get("subject") or "").strip() and (data.get("body") or "").strip()):
            raise forms.ValidationError("A fixed step needs both a subject and a body.")
        for name in ("subject", "body"):
            unknown = template_unknown_variables(data.get(name) or "")
            if unknown:
                self.add_error(
                    name,
                    f"Unknown variable(s): {', '.join(unknown)}. Available: {', '.join(TEMPLATE_VARIABLES)}.",
                )
        return data


class TargetForm(forms.Form):
    target_mode = forms.ChoiceField(choices=Campaign.TargetMode.choices, widget=forms.RadioSelect, label="Target")
    plan = forms.CharField(required=False, label="Account plan")
    account_state = forms.ChoiceField(required=False, choices=[("", "any")] + list(Account.State.choices))
    title_contains = forms.CharField(required=False, label="Role / title contains")
    label = forms.ChoiceField(required=False)
    property_key = forms.CharField(required=False, label="Custom property")
    property_value = forms.CharField(required=False, label="…equals")
    property_older_than_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        label="…or is a date at least N days ago (or not set)",
        help_text="e.g. last_outreach_at and 30: not contacted in the last 30 days.",
    )
    fact_kind = forms.ChoiceField(
        required=False, choices=[("", "any")] + list(Fact.Kind.choices), label="Has a fact of kind"
    )
    fact_max_age_days = forms.IntegerField(required=False, min_value=1, max_value=3650, label="…at most N days old")
    country = forms.CharField(required=False, max_length=2, label="Country (ISO code)")
    static_emails = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Static list: email addresses (CSV column, commas or one per line)",
    )
    picked = forms.ModelMultipleChoiceField(
        queryset=Recipient.objects.all(), required=False, widget=forms.MultipleHiddenInput
    )

    FILTER_FIELDS = (
        "plan",
        "account_state",
        "title_contains",
        "label",
        "property_key",
        "property_value",
        "property_older_than_days",
        "fact_kind",
        "fact_max_age_days",
        "country",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["label"].choices = [("", "any")] + [(n, n) for n in Label.objects.values_list("name", flat=True)]

    def clean_property_key(self) -> str:
        key = self.cleaned_data["property_key"].strip()
        if key and not re.fullmatch(r"[A-Za-z0-9_]+", key):
            raise forms.ValidationError("Letters, digits and underscores only.")
        return key

    def clean(self):
        data = super().clean()
        if data.get("fact_max_age_days") and not data.get("fact_kind"):
            self.add_error("fact_max_age_days", "Pick a fact kind for the age to apply to.")
        if data.get("property_value") and not data.get("property_key"):
            self.add_error("property_value", "Name the property first.")
        if data.get("property_older_than_days") and not data.get("property_key"):
            self.add_error("property_older_than_days", "Name the property first.")
        if data.get("property_older_than_days") and data.get("property_value"):
            self.add_error("property_older_than_days", "Either an exact value or an age, not both.")
        self.unknown_emails: list[str] = []
        self.static_ids: list[int] = [r.pk for r in data.get("picked") or []]
        emails = [e.strip().strip('"').lower() for e in re.split(r"[\s,;]+", data.get("static_emails") or "")]
        emails = [e for e in emails if e and "@" in e]
        if emails:
            found = dict(Recipient.objects.filter(email__in=emails).values_list("email", "pk"))
            self.unknown_emails = [e for e in emails if e not in found]
            self.static_ids += [pk for pk in found.values() if pk not in self.static_ids]
            if self.unknown_emails:
                self.add_error(
                    "static_emails",
                    f"Not recipients yet: {', '.join(self.unknown_emails[:10])}"
                    + (f" and {len(self.unknown_emails) - 10} more" if len(self.unknown_emails) > 10 else ""),
                )
        return data

    def target_filter(self) -> dict:
        return {k: self.cleaned_data.get(k) for k in self.FILTER_FIELDS if self.cleaned_data.get(k) not in (None, "")}


class RuleForm(forms.Form):
    kind = forms.ChoiceField(choices=MilestoneRule.Kind.choices)
    days = forms.IntegerField(required=False, min_value=1, max_value=3650, help_text="N days")
    percent = forms.IntegerField(required=False, min_value=1, max_value=100, help_text="X % (usage drop)")
    milestone_text = forms.CharField(required=False, help_text="Milestone text (onboarding)")
    fact_text = forms.CharField(required=False, help_text="Usage fact text contains (usage drop)")
    stage = forms.CharField(required=False, help_text="Lifecycle stage (stage change, CSM handoff)")
    property = forms.CharField(required=False, max_length=64, help_text="Numeric property, e.g. risk_score (risk)")
    of = forms.ChoiceField(
        required=False,
        choices=[("account", "the account's property"), ("contact", "the contact's property")],
        label="Whose property",
    )
    threshold = forms.FloatField(required=False, help_text="Threshold (risk)")
    direction = forms.ChoiceField(
        required=False,
        choices=[("above", "rises to or above the threshold"), ("below", "falls below the threshold")],
        label="Fires when it",
    )

    def parameters(self) -> dict:
        allowed = RULE_PARAMETERS[self.cleaned_data["kind"]]
        return {k: v for k, v in self.cleaned_data.items() if k in allowed and v not in (None, "")}
