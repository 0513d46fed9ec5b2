"""Sections that parts above people add to the recipient page (campaigns adds the person's
sequences and why each one waits). People defines the hook; a higher app registers into it from its
AppConfig.ready(), so imports still point only downward."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.utils.safestring import SafeString

from .models import Recipient

RecipientPanel = Callable[[HttpRequest, Recipient], SafeString | str]
_PANELS: list[RecipientPanel] = []


def recipient_panel_register(panel: RecipientPanel) -> None:
    """Add a section to the recipient page; registering the same function twice adds it once."""
    if panel not in _PANELS:
        _PANELS.append(panel)


def recipient_panels(request: HttpRequest, recipient: Recipient) -> list[SafeString | str]:
    """The registered sections rendered for this recipient (each checks who may see what itself)."""
    return [html for panel in _PANELS if (html := panel(request, recipient))]
