"""Forms of the review app."""

from __future__ import annotations

from django import forms

# ---------------------------------------------------------------------------------------------
# Edit analytics: the filter of the edit analytics page and its CSV export
# ---------------------------------------------------------------------------------------------


class EditAnalyticsFilterForm(forms.Form):
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    campaign = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Campaign")

    def __init__(self, *args, campaigns=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].choices = [("", "All campaigns"), *((c.pk, c.name) for c in campaigns)]

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("The start date is after the end date.")
        return data
