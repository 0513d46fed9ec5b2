"""Pages for sending: one's own sender configuration, and the demo's local mailbox."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from .errors import ApplicationError
from .forms import SenderConfigForm
from .models import LocalMailboxMessage
from .roles import is_admin
from .sender_config import sender_config_get, sender_config_update


def sender_config_edit(request: HttpRequest) -> HttpResponse:
    config = sender_config_get(user=request.user)
    if request.method == "POST":
        form = SenderConfigForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                sender_config_update(user=request.user, **data)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, "Your sending configuration is saved.")
                return redirect("sender_config")
    else:
        initial: dict[str, object] = {"kind": "provider"}
        if config is not None:
            initial = {
                "kind": config.kind,
                "smtp_host": config.smtp_host,
                "smtp_port": config.smtp_port,
                "smtp_username": config.smtp_username,
                "smtp_use_tls": config.smtp_use_tls,
                "smtp_use_ssl": config.smtp_use_ssl,
            }
        form = SenderConfigForm(initial=initial)
    profile = getattr(request.user, "sender", None)
    return render(request, "outreach/sender_config.html", {"form": form, "config": config, "profile": profile})


def _mailbox_for_user(user):
    """Admins read every stored email; others only what was sent from their own address."""
    qs = LocalMailboxMessage.objects.all()
    if is_admin(user):
        return qs
    addresses = {user.email.lower()} if user.email else set()
    profile = getattr(user, "sender", None)
    if profile is not None:
        addresses.add(profile.email)
    return qs.filter(sender_address__in=addresses)


def _get_mailbox_message_for_user(request: HttpRequest, mail_id: int) -> LocalMailboxMessage:
    return get_object_or_404(_mailbox_for_user(request.user), pk=mail_id)


def mailbox_index(request: HttpRequest) -> HttpResponse:
    qs = _mailbox_for_user(request.user).defer("raw", "body_html", "headers")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "outreach/mailbox_list.html", {"page": page})


def mailbox_detail(request: HttpRequest, mail_id: int) -> HttpResponse:
    mail = _get_mailbox_message_for_user(request, mail_id)
    return render(request, "outreach/mailbox_detail.html", {"mail": mail})
