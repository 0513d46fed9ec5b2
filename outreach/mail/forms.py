from django import forms

from .models import MailboxConnection, SenderConfig


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
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = SenderConfig.Kind.choices


class MailboxConnectForm(forms.Form):
    """Connect an IMAP/SMTP mailbox. The password is write-only: never rendered back."""

    email_address = forms.EmailField(label="Email address")
    username = forms.CharField(required=False, label="Username", help_text="Usually the email address.")
    password = forms.CharField(
        required=False,
        label="Password or app password",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted and never shown again. Leave empty to keep the stored one when reconnecting.",
    )
    imap_host = forms.CharField(label="IMAP host")
    imap_port = forms.IntegerField(min_value=1, max_value=65535, initial=993, label="IMAP port")
    imap_security = forms.ChoiceField(choices=[], initial="ssl", label="IMAP security")
    smtp_host = forms.CharField(label="SMTP host")
    smtp_port = forms.IntegerField(min_value=1, max_value=65535, initial=587, label="SMTP port")
    smtp_security = forms.ChoiceField(choices=[], initial="starttls", label="SMTP security")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["imap_security"].choices = MailboxConnection.Security.choices
        self.fields["smtp_security"].choices = MailboxConnection.Security.choices
