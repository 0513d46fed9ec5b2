"""Suppression pages (admins): the lists and their entries, add, bulk add, remove. Thin: parse, call, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails

from outreach.core.errors import ApplicationError
from outreach.core.ids import parse_id

from . import selectors, services
from .forms import SuppressionAddForm, SuppressionBulkForm, SuppressionRemoveForm


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


manage_suppression = permission_required("outreach.add_suppression", raise_exception=True)


def _form_errors(form) -> str:
    return "; ".join(f"{field}: {' '.join(str(e) for e in errors)}" for field, errors in form.errors.items())


@manage_suppression
def suppression_index(request: HtmxHttpRequest, *, add_form: SuppressionAddForm | None = None) -> HttpResponse:
    query = request.GET.get("q", "")
    show_removed = request.GET.get("removed") == "1"
    entries = selectors.suppression_search(
        user=request.user, query=query, list_id=parse_id(request.GET.get("list")), include_removed=show_removed
    )
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "query": query,
        "lists": selectors.suppression_lists(),
        "show_removed": show_removed,
        "add_form": add_form or SuppressionAddForm(),
        "legal_reasons": services.LEGAL_REASONS,
        "bulk_form": SuppressionBulkForm(),
        "remove_form": SuppressionRemoveForm(),
    }
    template = "suppression/suppression.html"
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
            return redirect("suppression_index")
    # Keep what was typed: the page again, with the form bound and each error beside its field.
    response = suppression_index(request, add_form=form)  # type: ignore[arg-type]  # the middleware set .htmx
    response.status_code = 400
    return response


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
    entry = get_object_or_404(selectors.suppressions_visible_to(request.user), pk=entry_id)
    form = SuppressionRemoveForm(request.POST)
    if form.is_valid():
        try:
            services.suppression_remove(
                entry=entry,
                removed_by=request.user,
                reason=form.cleaned_data["reason"],
                confirmed_legal=form.cleaned_data["confirm_legal"],
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Removed {entry.kind} {entry.value}; the entry stays in history.")
    else:
        messages.error(request, "Say why this entry is removed.")
    return redirect("suppression_index")
