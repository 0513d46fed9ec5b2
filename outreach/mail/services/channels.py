"""Each team member's sending channel: the organization's provider or their own mailbox over SMTP."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from outreach.core.errors import ApplicationError
from outreach.mail.models import SenderConfig


def sender_config_get(*, user) -> SenderConfig | None:
    return SenderConfig.objects.filter(user=user).first()


@transaction.atomic
def sender_config_update(
    *,
    user,
    kind: str,
    smtp_host: str = "",
    smtp_port: int | None = None,
    smtp_username: str = "",
    smtp_password: str | None = None,
    smtp_use_tls: bool = True,
    smtp_use_ssl: bool = False,
) -> SenderConfig:
    """Create or change one's own configuration. An empty password keeps the stored one."""
    config = SenderConfig.objects.select_for_update().filter(user=user).first() or SenderConfig(user=user)
    config.kind = kind
    config.smtp_host = smtp_host.strip()
    config.smtp_port = smtp_port or 587
    config.smtp_username = smtp_username.strip()
    config.smtp_use_tls = smtp_use_tls
    config.smtp_use_ssl = smtp_use_ssl
    config.is_active = True
    if smtp_password:
        config.set_smtp_password(smtp_password)
    try:
        config.full_clean()
    except ValidationError as exc:
        raise ApplicationError("; ".join(exc.messages)) from exc
    config.save()
    return config
