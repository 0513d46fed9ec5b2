from django import forms

from .models import ApiToken, EmittedEvent


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
        choices=EmittedEvent.Type.choices, widget=forms.CheckboxSelectMultiple, label="Signals"
    )
