"""The model the settings ask for (DRAFTING_PROVIDER with the ANTHROPIC_* settings). The engine
itself reads no settings; this is the one place that does, for drafting (review), exit conditions
(campaigns) and reply classes (mail)."""

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
