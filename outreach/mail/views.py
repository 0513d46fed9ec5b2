"""Mail pages: one's own sending channel, the demo's local mailbox, a message's timeline, replies, and
the public unsubscribe link. Thin: parse, call, render."""

from __future__ import annotations

import hmac
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.core.validators import validate_email
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotFound, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event
from django_htmx.middleware import HtmxDetails

from outreach.core.errors import ApplicationError
from outreach.core.normalize import normalize_email
from outreach.people import selectors as people_selectors
from outreach.people.roles import is_admin, is_csm_or_admin

from . import selectors
from .forms import MailboxConnectForm, SenderConfigForm
from .link_tracking import PIXEL_GIF
from .models import EngagementEvent, LocalMailboxMessage, MailboxConnection
from .oauth_api import oauth_provider, oauth_providers_configured
from .ramp_up import ramp_schedule
from .services import brakes, domains, engagement, mailboxes, oauth_mailboxes, own_tracking, reply_triage
from .services.channels import sender_config_get, sender_config_update
from .services.sending import sender_domain


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
    context = {
        "form": form,
        "config": config,
        "profile": profile,
        "sending_pauses": selectors.sending_pauses_active_for(request.user),
        "brake_readings": brakes.brake_readings(scope="sender", target=request.user.pk),
        "sending_domain": selectors.sending_domain_for_address(profile.email) if profile else None,
        "sending_domain_name": sender_domain(profile.email) if profile else "",
        "brake_min_sends": settings.BRAKE_MIN_SENDS,
        "ramp_up": (
            ramp_schedule(
                full_limit=profile.daily_send_limit, started=profile.ramp_up_from, today=timezone.now().date()
            )
            if profile
            else []
        ),
    }
    return render(request, "mail/sender_config.html", context)


# --- Automatic brakes: who is paused, and resuming after a look -----------------------------------


@require_GET
def sending_pauses(request: HttpRequest) -> HttpResponse:
    """Every pause the person may see: those on now with the emails they hold, then the last resumed."""
    visible = selectors.sending_pauses_visible_to(request.user)
    active = list(visible.filter(resumed_at__isnull=True).order_by("created_at", "pk"))
    # A rep sees only their own held emails, also under their domain's pause.
    mine = selectors.messages_visible_to(request.user)
    rows = []
    for pause in active:
        held = selectors.held_messages_for_pause(pause, within=mine)
        rows.append((pause, list(held.order_by("pk")[:50]), held.count()))
    context = {
        "active": rows,
        "resumed": list(visible.filter(resumed_at__isnull=False).order_by("-resumed_at")[:20]),
        "can_resume": is_csm_or_admin(request.user),
        "limits": brakes.brake_limits_text(),
    }
    return render(request, "mail/sending_pauses.html", context)


@require_POST
def sending_pause_resume(request: HttpRequest, pause_id: int) -> HttpResponse:
    if not is_csm_or_admin(request.user):
        raise PermissionDenied("Only a CSM or an admin can resume sending.")
    pause = get_object_or_404(selectors.sending_pauses_visible_to(request.user), pk=pause_id)
    try:
        resumed = brakes.sending_resume(pause=pause, user=request.user, note=request.POST.get("note", ""))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Sending resumed for {resumed.target}; the held emails are queued again.")
    return redirect("sending_pauses")


def _get_mailbox_message_for_user(request: HttpRequest, mail_id: int) -> LocalMailboxMessage:
    return get_object_or_404(selectors.mailbox_messages_visible_to(request.user), pk=mail_id)


def mailbox_index(request: HttpRequest) -> HttpResponse:
    qs = selectors.mailbox_messages_visible_to(request.user).defer("raw", "body_html", "headers")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "mail/mailbox_list.html", {"page": page})


def mailbox_detail(request: HttpRequest, mail_id: int) -> HttpResponse:
    mail = _get_mailbox_message_for_user(request, mail_id)
    return render(request, "mail/mailbox_detail.html", {"mail": mail})


# --- Engagement: unsubscribe, replies, message timeline -------------------------------------------


@csrf_exempt  # mail clients post RFC 8058 one-click requests without cookies or a CSRF token
@login_not_required
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a confirmation (link scanners must not unsubscribe anyone); POST unsubscribes
    at once and answers 200 itself: no login, cookie, token or redirect needed."""
    try:
        if request.method == "POST":
            target = engagement.unsubscribe_record(token=token)
            done = True
        else:
            target = engagement.unsubscribe_target(token=token)
            done = False
    except ApplicationError as exc:
        return render(request, "mail/unsubscribe.html", {"error": exc.message}, status=400)
    context = {"done": done, "recipient": target.recipient, "token": token}
    return render(request, "mail/unsubscribe.html", context)


# --- Our own open pixel and click redirect (mail sent through a sender's own mailbox) -----------

_NOT_TRACKED = "This link is not valid."


def _counts(request: HttpRequest) -> bool:
    """A HEAD request or a browser's prefetch is answered but never counted as an open or a click."""
    purpose = (request.headers.get("Sec-Purpose") or request.headers.get("Purpose") or "").lower()
    return request.method == "GET" and "prefetch" not in purpose


@login_not_required
@require_http_methods(["GET", "HEAD"])
def tracking_open(request: HttpRequest, token: str) -> HttpResponse:
    """The open pixel: a 1x1 GIF, never cached; a token we did not issue gets a plain 404."""
    try:
        own_tracking.tracking_open_receive(token=token, count=_counts(request))
    except own_tracking.NotTracked:
        return HttpResponseNotFound(_NOT_TRACKED, content_type="text/plain; charset=utf-8")
    response = HttpResponse(PIXEL_GIF, content_type="image/gif")
    response["Cache-Control"] = "no-store, max-age=0"
    return response


@login_not_required
@require_http_methods(["GET", "HEAD"])
def tracking_click(request: HttpRequest, token: str) -> HttpResponse:
    """The click redirect: 302 to the approved link the token names, and nowhere else."""
    try:
        result = own_tracking.tracking_click_receive(token=token, count=_counts(request))
    except own_tracking.NotTracked:
        return HttpResponseNotFound(_NOT_TRACKED, content_type="text/plain; charset=utf-8")
    response = HttpResponseRedirect(result.target)
    response["Cache-Control"] = "no-store, max-age=0"
    response["Referrer-Policy"] = "no-referrer"
    return response


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _reply_status(value: str | None) -> str:
    return value if value in selectors.REPLY_STATUSES else "open"


def _replies_response(request: HtmxHttpRequest, *, status: str, page_number: str | None) -> HttpResponse:
    """The Replies page, or (htmx) only its list with the filters and counts."""
    now = timezone.now()
    visible = selectors.replies_visible_to(request.user)
    page = Paginator(selectors.replies_in_status(visible, status=status, now=now), 50).get_page(page_number)
    context = {
        "page": page,
        "status": status,
        "counts": selectors.reply_status_counts(visible, now=now),
        "statuses": [("open", "Open"), ("snoozed", "Snoozed"), ("handled", "Handled"), ("all", "All")],
        "snooze_choices": reply_triage.snooze_choices(user=request.user, now=now),
        "now": now,
    }
    template = "mail/replies.html#replies-list" if request.htmx else "mail/replies.html"
    return render(request, template, context)


@permission_required("outreach.view_engagementevent", raise_exception=True)
def replies(request: HtmxHttpRequest) -> HttpResponse:
    return _replies_response(
        request, status=_reply_status(request.GET.get("status")), page_number=request.GET.get("page")
    )


def _get_reply_for_user(request: HtmxHttpRequest, reply_id: int) -> EngagementEvent:
    return get_object_or_404(selectors.replies_visible_to(request.user), pk=reply_id)


def _after_reply_action(request: HtmxHttpRequest, done: str) -> HttpResponse:
    """htmx: the list again, for the filter the person is on; otherwise back to it."""
    status = _reply_status(request.POST.get("status"))
    if request.htmx:
        response = _replies_response(request, status=status, page_number=request.POST.get("page"))
        trigger_client_event(response, "replyTriaged", {"message": done})
        return response
    messages.success(request, done)
    return redirect(f"{reverse('replies')}?status={status}")


def _reply_action_failed(request: HtmxHttpRequest, exc: ApplicationError) -> HttpResponse:
    if request.htmx:
        return HttpResponse(exc.message, status=422)
    messages.error(request, exc.message)
    return redirect(f"{reverse('replies')}?status={_reply_status(request.POST.get('status'))}")


@require_POST
@permission_required("outreach.view_engagementevent", raise_exception=True)
def reply_handled(request: HtmxHttpRequest, reply_id: int) -> HttpResponse:
    event = _get_reply_for_user(request, reply_id)
    reply_triage.reply_mark_handled(event=event, user=request.user)
    return _after_reply_action(request, f"Reply from {event.email or event.recipient} marked handled.")


@require_POST
@permission_required("outreach.view_engagementevent", raise_exception=True)
def reply_snooze(request: HtmxHttpRequest, reply_id: int) -> HttpResponse:
    event = _get_reply_for_user(request, reply_id)
    try:
        until = reply_triage.snooze_until_parse(
            user=request.user, choice=request.POST.get("until", ""), at=request.POST.get("at", "")
        )
        reply_triage.reply_snooze(event=event, user=request.user, until=until)
    except ApplicationError as exc:
        return _reply_action_failed(request, exc)
    when = timezone.localtime(until, until.tzinfo).strftime("%a %-d %b %H:%M")
    return _after_reply_action(request, f"Reply from {event.email or event.recipient} snoozed until {when}.")


@require_POST
@permission_required("outreach.view_engagementevent", raise_exception=True)
def reply_reopen(request: HtmxHttpRequest, reply_id: int) -> HttpResponse:
    event = _get_reply_for_user(request, reply_id)
    reply_triage.reply_reopen(event=event, user=request.user)
    return _after_reply_action(request, f"Reply from {event.email or event.recipient} is open again.")


@require_POST
@permission_required("outreach.view_engagementevent", raise_exception=True)
def reply_removal_confirm(request: HtmxHttpRequest, reply_id: int) -> HttpResponse:
    event = _get_reply_for_user(request, reply_id)
    try:
        confirmed = reply_triage.reply_removal_confirm(event=event, user=request.user)
    except ApplicationError as exc:
        return _reply_action_failed(request, exc)
    return _after_reply_action(request, f"{confirmed.email} is suppressed (unsubscribed); no email will go to them.")


# --- Sending domains: SPF, DMARC, DKIM ------------------------------------------------------------


@require_GET
def sending_domains(request: HttpRequest) -> HttpResponse:
    """Admins: every domain we send from, checked or not yet."""
    if not is_admin(request.user):
        raise PermissionDenied("Only admins see every sending domain; your own is on My sending.")
    stored = {d.domain: d for d in selectors.sending_domains_visible_to(request.user)}
    names = sorted(set(stored) | set(domains.sending_domain_names()))
    context = {"rows": [(name, stored.get(name)) for name in names]}
    return render(request, "mail/sending_domains.html", context)


@require_POST
def sending_domain_check(request: HttpRequest) -> HttpResponse:
    try:
        checked = domains.sending_domain_check_now(user=request.user, name=request.POST.get("domain", ""))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        verdict = "passes" if checked.passes else "fails: " + ", ".join(c["kind"].upper() for c in checked.failing)
        messages.success(request, f"{checked.domain} checked just now: it {verdict}.")
    return redirect("sending_domains" if request.POST.get("next") == "domains" else "sender_config")


@require_POST
def sending_domain_selectors(request: HttpRequest, domain_id: int) -> HttpResponse:
    if not is_admin(request.user):
        raise PermissionDenied("Only an admin can change a domain's DKIM selectors.")
    domain = get_object_or_404(selectors.sending_domains_visible_to(request.user), pk=domain_id)
    try:
        domains.sending_domain_selectors_set(
            domain=domain, user=request.user, selectors=request.POST.get("selectors", "")
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"DKIM selectors for {domain.domain} saved and checked.")
    return redirect("sending_domains")


# --- Each team member's own mailboxes -----------------------------------------------------------


def _get_mailbox_for_user(request: HttpRequest, mailbox_id: int) -> MailboxConnection:
    return get_object_or_404(selectors.mailboxes_visible_to(request.user), pk=mailbox_id)


def _get_own_mailbox(request: HttpRequest, mailbox_id: int) -> MailboxConnection:
    """Only the owner acts on a mailbox (admins may disconnect one: see mailbox_disconnect)."""
    mailbox = _get_mailbox_for_user(request, mailbox_id)
    if mailbox.user_id != request.user.pk:
        raise PermissionDenied("Only the mailbox's owner can do this.")
    return mailbox


def mailbox_connections(request: HttpRequest) -> HttpResponse:
    """My mailboxes: connect an IMAP/SMTP account, see each one's health, test, disconnect."""
    form = MailboxConnectForm(request.POST or None, initial=_reconnect_initial(request))
    if request.method == "POST" and form.is_valid():
        try:
            mailbox = mailboxes.mailbox_connect_imap(user=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"{mailbox.email_address} is connected.")
            return redirect("mailbox_connections")
    own = [m for m in selectors.mailboxes_visible_to(request.user) if m.user_id == request.user.pk]
    providers = oauth_providers_configured()
    context = {"form": form, "mailboxes": own, "oauth_providers": providers}
    response = render(request, "mail/mailbox_connections.html", context)
    if providers:
        # "Connect Google" posts here and is redirected to the provider's consent page: browsers
        # hold the whole redirect chain of a form to `form-action`, which is 'self' everywhere
        # else. This page alone also allows the configured providers' authorization origins.
        response._csp_update = {"form-action": sorted({_origin(p.authorize_url) for p in providers})}  # type: ignore[attr-defined]
    return response


def _reconnect_initial(request: HttpRequest) -> dict:
    """?reconnect=<id> (the Reconnect of one's own IMAP/SMTP mailbox): the form filled in with its
    settings, all but the password, which the person types anew."""
    mailbox_id = request.GET.get("reconnect", "")
    if not mailbox_id.isascii() or not mailbox_id.isdigit() or len(mailbox_id) > 18:
        return {}
    mailbox = (
        selectors.mailboxes_visible_to(request.user)
        .filter(pk=int(mailbox_id), kind=MailboxConnection.Kind.IMAP_SMTP)
        .first()
    )
    if mailbox is None or mailbox.user_id != request.user.pk:  # a CSM sees others' mailboxes: only one's own
        return {}
    fields = ["email_address", "username", "imap_host", "imap_port", "imap_security"]
    fields += ["smtp_host", "smtp_port", "smtp_security"]
    return {name: getattr(mailbox, name) for name in fields}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# OAuth 2.0: the state and PKCE verifier of each authorization started from this session.
OAUTH_SESSION_KEY = "mailbox_oauth"
OAUTH_PENDING_SECONDS = 600


def _oauth_redirect_uri(kind: str) -> str:
    """Fixed, not taken from the request's Host: it must equal the URI registered with the provider."""
    return f"{settings.SITE_URL}{reverse('mailbox_oauth_callback', args=[kind])}"


@require_POST
def mailbox_oauth_start(request: HttpRequest, provider: str) -> HttpResponse:
    """ "Connect Google" / "Connect Microsoft 365": off to the provider's consent screen (POST with
    the CSRF token, so no other site can start a connection in someone's name)."""
    configured = oauth_provider(provider)
    if configured is None:
        messages.error(request, "Connecting this kind of mailbox is not configured on this server.")
        return redirect("mailbox_connections")
    login_hint = request.POST.get("login_hint", "").strip()[:320]
    address = ""
    if provider == MailboxConnection.Kind.IMAP_OAUTH:
        # No mail API tells who signed in: the person says which mailbox, and the first IMAP and
        # SMTP logins with the token prove it.
        try:
            validate_email(login_hint)
        except ValidationError:
            messages.error(request, f"Enter the address of your {configured.label} mailbox to connect it.")
            return redirect("mailbox_connections")
        address = normalize_email(login_hint)
    start = oauth_mailboxes.oauth_connect_start(
        kind=provider, redirect_uri=_oauth_redirect_uri(provider), login_hint=login_hint
    )
    now = time.time()
    pending = {
        state: entry
        for state, entry in (request.session.get(OAUTH_SESSION_KEY) or {}).items()
        if entry.get("at", 0) > now - OAUTH_PENDING_SECONDS
    }
    pending[start.state] = {
        "kind": provider,
        "verifier": start.code_verifier,
        "user": request.user.pk,
        "at": now,
        "address": address,
    }
    request.session[OAUTH_SESSION_KEY] = pending
    return redirect(start.url)


@require_GET
def mailbox_oauth_callback(request: HttpRequest, provider: str) -> HttpResponse:
    """The provider sends the person back here with a code and our state: accepted only for an
    authorization this session started, once, within ten minutes, for the same person."""
    state = request.GET.get("state", "")
    pending = dict(request.session.get(OAUTH_SESSION_KEY) or {})
    entry = None
    for key in list(pending):
        if state and hmac.compare_digest(key.encode(), state.encode()):
            entry = pending.pop(key)
    request.session[OAUTH_SESSION_KEY] = pending
    configured = oauth_provider(provider)
    if (
        configured is None
        or entry is None
        or entry.get("kind") != provider
        or entry.get("user") != request.user.pk
        or entry.get("at", 0) <= time.time() - OAUTH_PENDING_SECONDS
    ):
        messages.error(
            request, "This authorization was not started from this page, or it took too long: connect again."
        )
        return redirect("mailbox_connections")
    if request.GET.get("error") or not request.GET.get("code"):
        reason = request.GET.get("error", "no code")[:100]
        messages.error(request, f"{configured.label} did not authorize the connection ({reason}).")
        return redirect("mailbox_connections")
    try:
        mailbox = oauth_mailboxes.oauth_connect_finish(
            user=request.user,
            kind=provider,
            code=request.GET["code"],
            redirect_uri=_oauth_redirect_uri(provider),
            code_verifier=entry["verifier"],
            address=entry.get("address", ""),
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{mailbox.email_address} is connected through {configured.label}.")
    return redirect("mailbox_connections")


@require_POST
def mailbox_test(request: HttpRequest, mailbox_id: int) -> HttpResponse:
    mailbox = _get_own_mailbox(request, mailbox_id)
    try:
        mailboxes.mailbox_send_test(mailbox=mailbox, user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"A test email went to {mailbox.email_address}.")
    return redirect("mailbox_connections")


@require_POST
def mailbox_default(request: HttpRequest, mailbox_id: int) -> HttpResponse:
    mailbox = _get_own_mailbox(request, mailbox_id)
    try:
        mailboxes.mailbox_make_default(mailbox=mailbox)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Your emails now go out through {mailbox.email_address}.")
    return redirect("mailbox_connections")


@require_POST
def mailbox_disconnect(request: HttpRequest, mailbox_id: int) -> HttpResponse:
    mailbox = _get_mailbox_for_user(request, mailbox_id)
    if mailbox.user_id != request.user.pk and not is_admin(request.user):
        raise PermissionDenied("Only the mailbox's owner or an admin can disconnect it.")
    mailboxes.mailbox_disconnect(mailbox=mailbox, user=request.user)
    messages.success(request, f"{mailbox.email_address} is disconnected; its password is deleted.")
    return redirect("mailbox_admin" if mailbox.user_id != request.user.pk else "mailbox_connections")


def mailbox_admin(request: HttpRequest) -> HttpResponse:
    """Every mailbox the viewer may see, with its health (CSMs and admins)."""
    if not is_csm_or_admin(request.user):
        raise PermissionDenied("Mailbox health is for CSMs and admins.")
    rows = selectors.mailboxes_visible_to(request.user).order_by("state", "user__username", "email_address")
    return render(request, "mail/mailbox_admin.html", {"mailboxes": list(rows)})


# --- Threads: every email in and out, oldest first ----------------------------------------------


@permission_required("outreach.view_outboundmessage", raise_exception=True)
@require_GET
def thread_detail(request: HttpRequest, thread_id: int) -> HttpResponse:
    """One thread: the first email, its follow-ups and what came back, oldest first. Any email's
    id leads to its thread (the Replies page links each reply by the email it answers)."""
    root = selectors.thread_id_of(user=request.user, message_id=thread_id)
    if root is None:
        raise Http404("No such thread.")
    if root != thread_id:
        return redirect(reverse("thread_detail", args=[root]) + f"#out-{thread_id}")
    entries = selectors.thread_entries(user=request.user, thread_id=thread_id)
    first = next(e.message for e in entries if e.direction == "out" and e.message.pk == thread_id)
    context = {"entries": entries, "first": first, "recipient": first.recipient}
    return render(request, "mail/thread.html", context)


@permission_required("outreach.view_outboundmessage", raise_exception=True)
@require_GET
def contact_threads(request: HttpRequest, recipient_id: int) -> HttpResponse:
    """Every email in and out with one contact, across threads, oldest first."""
    recipient = get_object_or_404(people_selectors.recipients_visible_to(request.user), pk=recipient_id)
    entries = selectors.contact_conversation(user=request.user, recipient=recipient)
    return render(request, "mail/contact_threads.html", {"recipient": recipient, "entries": entries})


@permission_required("outreach.view_outboundmessage", raise_exception=True)
@require_GET
def mailbox_threads(request: HttpRequest, mailbox_id: int) -> HttpResponse:
    """The threads of a mailbox's owner, latest activity first: replies land in the owner's
    mailbox (Reply-To) whichever channel the first email went out through."""
    mailbox = _get_mailbox_for_user(request, mailbox_id)
    threads = selectors.threads_of(
        selectors.messages_visible_to(request.user).filter(sender_id=mailbox.user_id)
    ).order_by("-last_activity_at", "-pk")
    page = Paginator(threads, 50).get_page(request.GET.get("page"))
    return render(request, "mail/mailbox_threads.html", {"mailbox": mailbox, "page": page})


def recipient_emails_panel(request: HttpRequest, recipient) -> str:
    """The recipient page's link to every email in and out with this person (no query)."""
    if not request.user.has_perm("outreach.view_outboundmessage"):
        return ""
    return render_to_string("mail/_recipient_emails_panel.html", {"recipient": recipient}, request=request)
