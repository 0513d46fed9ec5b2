"""The drafting provider the settings ask for (the engine itself reads no settings). Here because review
runs the drafting task; campaigns asks the same provider to judge exit conditions."""

from __future__ import annotations

from django.conf import settings

from outreach.drafting import Provider, provider_for


def configured_provider() -> Provider:
    """DRAFTING_PROVIDER ("offline" or "anthropic") with the ANTHROPIC_* settings."""
    return provider_for(
        name=getattr(settings, "DRAFTING_PROVIDER", "offline"),
        api_key=getattr(settings, "ANTHROPIC_API_KEY", ""),
        model=getattr(settings, "ANTHROPIC_MODEL", ""),
        base_url=getattr(settings, "ANTHROPIC_BASE_URL", None) or None,
        timeout=float(getattr(settings, "ANTHROPIC_TIMEOUT_SECONDS", 60)),
        max_retries=int(getattr(settings, "ANTHROPIC_MAX_RETRIES", 2)),
    )
