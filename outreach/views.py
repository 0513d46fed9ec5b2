"""Foundation pages: home, recipients, suppression lists. Thin: parse, call, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from . import selectors, services, tracking
from .errors import ApplicationError
from .forms import SuppressionAddForm, SuppressionBulkForm, SuppressionRemoveForm
from .models import OutboundMessage, Recipient, Suppression


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


manage_suppression = permission_required("outreach.add_suppression", raise_exception=True)


def _form_errors(form) -> str:
    return "; ".join(f"{field}: {' '.join(str(e) for e in errors)}" for field, errors in form.errors.items())


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "outreach/home.html")


def _recipients_for_user(user):
    """Reps see the people they own; CSMs and admins see everyone."""
    qs = Recipient.objects.select_related("account", "owner")
    if user.has_perm("outreach.change_recipient"):
        return qs
    return qs.filter(owner=user)


@permission_required("outreach.view_recipient", raise_exception=True)
def recipient_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    qs = _recipients_for_user(request.user)
    if query:
        qs = (
            qs.filter(email__icontains=query.lower())
            | qs.filter(last_name__icontains=query)
            | qs.filter(account__name__icontains=query)
        )
    page = Paginator(qs.order_by("email"), 50).get_page(request.GET.get("page"))
    hits = selectors.suppression_check_bulk(recipients=list(page.object_list))
    rows = [(r, hits.get(r.pk)) for r in page.object_list]
    return render(request, "outreach/recipient_list.html", {"page": page, "rows": rows, "query": query})


def _get_recipient_for_user(request: HttpRequest, recipient_id: int) -> Recipient:
    return get_object_or_404(_recipients_for_user(request.user), pk=recipient_id)


@permission_required("outreach.view_recipient", raise_exception=True)
def recipient_detail(request: HttpRequest, recipient_id: int) -> HttpResponse:
    recipient = _get_recipient_for_user(request, recipient_id)
    context = {
        "recipient": recipient,
        "facts": recipient.facts.all(),
        "labels": recipient.labels.all(),
        "suppression": selectors.suppression_check(recipient=recipient),
    }
    return render(request, "outreach/recipient_detail.html", context)


@manage_suppression
def suppression_index(request: HtmxHttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    list_id = request.GET.get("list") or None
    show_removed = request.GET.get("removed") == "1"
    entries = selectors.suppression_search(
        query=query, list_id=int(list_id) if list_id and list_id.isdigit() else None, include_removed=show_removed
    )
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "query": query,
        "lists": selectors.suppression_lists(),
        "show_removed": show_removed,
        "add_form": SuppressionAddForm(),
        "bulk_form": SuppressionBulkForm(),
        "remove_form": SuppressionRemoveForm(),
    }
    template = "outreach/suppression.html"
    if request.htmx:
        template += "#entries"
    return render(request, template, context)


@manage_suppression
@require_POST
def suppression_add_view(request: HttpRequest) -> HttpResponse:
    form = SuppressionAddForm(request.POST)
    if form.is_valid():
        try:
            entry = services.suppression_add(
                added_by=request.user, source=f"added by {request.user}", **form.cleaned_data
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Suppressed {entry.kind} {entry.value}.")
    else:
        messages.error(request, _form_errors(form))
    return redirect("suppression_index")


@manage_suppression
@require_POST
def suppression_bulk_view(request: HttpRequest) -> HttpResponse:
    form = SuppressionBulkForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("suppression_index")
    result = services.suppression_bulk_add(
        text=form.text(),
        reason=form.cleaned_data["reason"],
        suppression_list=form.cleaned_data["suppression_list"],
        note=form.cleaned_data["note"],
        added_by=request.user,
    )
    messages.success(request, f"Added {result.added}; {result.already_present} were already on the list.")
    for error in result.errors[:50]:
        messages.error(request, f"Line {error['line']}: {error['value']!r}: {error['reason']}")
    return redirect("suppression_index")


@manage_suppression
@require_POST
def suppression_remove_view(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = get_object_or_404(Suppression, pk=entry_id)
    form = SuppressionRemoveForm(request.POST)
    if form.is_valid():
        try:
            services.suppression_remove(entry=entry, removed_by=request.user, reason=form.cleaned_data["reason"])
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Removed {entry.kind} {entry.value}; the entry stays in history.")
    else:
        messages.error(request, "Say why this entry is removed.")
    return redirect("suppression_index")


@manage_suppression
def suppression_check_view(request: HttpRequest) -> HttpResponse:
    """Answer "is this address suppressed, and why?" for one address typed by an admin."""
    address = request.GET.get("address", "").strip()
    hit = None
    if address:
        recipient = Recipient.objects.filter(email=address.lower()).first() or Recipient(email=address, pk=0)
        hit = selectors.suppression_check(recipient=recipient)
    return render(
        request, "outreach/suppression.html#check-result", {"address": address, "hit": hit, "checked": bool(address)}
    )


# --- Engagement: unsubscribe, replies, message timeline, campaign rates ------------------------


@csrf_exempt  # mail clients post RFC 8058 one-click requests without cookies or a CSRF token
@login_not_required
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a confirmation (link scanners must not unsubscribe anyone); POST unsubscribes
    at once and answers 200 itself: no login, cookie, token or redirect needed."""
    try:
        if request.method == "POST":
            target = tracking.unsubscribe_record(token=token)
            done = True
        else:
            target = tracking.unsubscribe_target(token=token)
            done = False
    except ApplicationError as exc:
        return render(request, "outreach/unsubscribe.html", {"error": exc.message}, status=400)
    context = {"done": done, "recipient": target.recipient, "token": token}
    return render(request, "outreach/unsubscribe.html", context)


def _get_message_for_user(request: HttpRequest, message_id: int) -> OutboundMessage:
    qs = selectors.messages_for_user(request.user).select_related(
        "recipient", "sender", "campaign", "approved_by", "draft"
    )
    return get_object_or_404(qs, pk=message_id)


@permission_required("outreach.view_outboundmessage", raise_exception=True)
def message_timeline(request: HttpRequest, message_id: int) -> HttpResponse:
    message = _get_message_for_user(request, message_id)
    context = {"message": message, "timeline": selectors.message_timeline(message=message)}
    return render(request, "outreach/message_timeline.html", context)


@permission_required("outreach.view_engagementevent", raise_exception=True)
def replies(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.replies_for_user(user=request.user), 50).get_page(request.GET.get("page"))
    return render(request, "outreach/replies.html", {"page": page})
