"""Deployment checks of our own, run by `manage.py check --deploy`."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def webhook_secret_configured(app_configs, **kwargs):
    """Without a secret, anymail accepts any POST to the tracking and inbound webhooks, so anyone
    could forge bounces (and suppress people) or replies (and stop sequences)."""
    anymail = getattr(settings, "ANYMAIL", {})
    if anymail.get("WEBHOOK_SECRET") or anymail.get("RESEND_SIGNING_SECRET"):
        return []
    return [
        Warning(
            "No webhook secret: provider webhooks would accept forged events.",
            hint="Set ANYMAIL_WEBHOOK_SECRET (user:password basic auth) and, for Resend, RESEND_SIGNING_SECRET.",
            id="outreach.W001",
        )
    ]


@register(Tags.security, deploy=True)
def metrics_token_strong(app_configs, **kwargs):
    """/metrics shows the volume of every part of the flow: its token must not be guessable."""
    token = getattr(settings, "METRICS_TOKEN", "")
    if not token or len(token) >= 32:
        return []
    return [
        Warning(
            "METRICS_TOKEN is shorter than 32 characters.",
            hint='Use a random one: python -c "import secrets; print(secrets.token_urlsafe(32))"',
            id="outreach.W002",
        )
    ]
