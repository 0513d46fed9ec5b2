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
