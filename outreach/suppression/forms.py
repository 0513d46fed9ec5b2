from django import forms

from .models import Suppression, SuppressionList


class SuppressionAddForm(forms.Form):
    suppression_list = forms.ModelChoiceField(
        queryset=SuppressionList.objects.all(), required=False, empty_label="Global"
    )
    kind = forms.ChoiceField(choices=Suppression.Kind.choices)
    value = forms.CharField(max_length=254, help_text="Address, domain (covers subdomains) or recipient id.")
    reason = forms.ChoiceField(choices=Suppression.Reason.choices, initial=Suppression.Reason.MANUAL)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    expires_at = forms.DateTimeField(
        required=False,
        help_text="Only for manual and customer-freeze entries. Leave empty for no end date.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={"invalid": "Pick a date and time with the date picker (for example 2026-12-31 17:00)."},
    )


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
    confirm_legal = forms.BooleanField(required=False)
