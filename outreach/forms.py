from django import forms

from .models import ApiToken, OutboundEvent, Suppression, SuppressionList


class SuppressionAddForm(forms.Form):
    suppression_list = forms.ModelChoiceField(
        queryset=SuppressionList.objects.all(), required=False, empty_label="Global"
    )
    kind = forms.ChoiceField(choices=Suppression.Kind.choices)
    value = forms.CharField(max_length=254, help_text="Address, domain (covers subdomains) or recipient id.")
    reason = forms.ChoiceField(choices=Suppression.Reason.choices, initial=Suppression.Reason.MANUAL)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    expires_at = forms.DateTimeField(required=False, help_text="Only for manual and customer-freeze entries.")


class SuppressionBulkForm(forms.Form):
    suppression_list = forms.ModelChoiceField(
        queryset=SuppressionList.objects.all(), required=False, empty_label="Global"
    )
    reason = forms.ChoiceField(choices=Suppression.Reason.choices, initial=Suppression.Reason.MANUAL)
    pasted = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 6}), label="Addresses or domains, one per line"
    )
    csv_file = forms.FileField(required=False, label="…or a CSV file")
    note = forms.CharField(required=False)

    def clean(self):
        data = super().clean()
        if not data.get("pasted") and not data.get("csv_file"):
            raise forms.ValidationError("Paste addresses or choose a CSV file.")
        return data

    def text(self) -> str:
        if self.cleaned_data.get("csv_file"):
            return self.cleaned_data["csv_file"].read().decode("utf-8-sig", errors="replace")
        return self.cleaned_data["pasted"]


class SuppressionRemoveForm(forms.Form):
    reason = forms.CharField(max_length=500)


class ImportUploadForm(forms.Form):
    csv_file = forms.FileField(
        label="CSV file",
        help_text="Exported from a CRM or a spreadsheet: one row per recipient (or per fact), a header row first.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv"}),
    )

    def clean_csv_file(self):
        from django.conf import settings

        upload = self.cleaned_data["csv_file"]
        limit = settings.IMPORT_MAX_UPLOAD_MB * 1024 * 1024
        if upload.size > limit:
            raise forms.ValidationError(f"The file is larger than {settings.IMPORT_MAX_UPLOAD_MB} MB.")
        return upload


class SenderConfigForm(forms.Form):
    """One's own sending channel. The password is write-only: never rendered back."""

    kind = forms.ChoiceField(choices=[], widget=forms.RadioSelect, label="Send my emails through")
    smtp_host = forms.CharField(required=False, label="SMTP host")
    smtp_port = forms.IntegerField(required=False, min_value=1, max_value=65535, initial=587, label="Port")
    smtp_username = forms.CharField(required=False, label="Username")
    smtp_password = forms.CharField(
        required=False,
        label="Password",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted and never shown again. Leave empty to keep the stored one.",
    )
    smtp_use_tls = forms.BooleanField(required=False, initial=True, label="STARTTLS")
    smtp_use_ssl = forms.BooleanField(required=False, label="Implicit TLS (SSL, usually port 465)")

    def __init__(self, *args, **kwargs):
        from .models import SenderConfig

        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = SenderConfig.Kind.choices


# --- API tokens and webhook subscriptions (Settings) -------------------------------------------


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What it is for, e.g. 'CRM sync'.")
    scopes = forms.MultipleChoiceField(
        choices=[(value, f"{value}: {label}") for value, label in ApiToken.Scope.choices],
        widget=forms.CheckboxSelectMultiple,
    )


class WebhookSubscriptionForm(forms.Form):
    url = forms.URLField(max_length=500, assume_scheme="https", label="Endpoint URL")
    description = forms.CharField(max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        choices=OutboundEvent.Type.choices, widget=forms.CheckboxSelectMultiple, label="Signals"
    )
