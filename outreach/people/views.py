"""People pages: recipients and their facts, the address check, CSV import (upload → mapping and
preview → confirm → progress). Thin: parse, call, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails

from outreach.core.errors import ApplicationError
from outreach.suppression import selectors as suppression_selectors

from . import selectors
from .forms import ImportUploadForm
from .models import ImportJob, Label, LabelEvent, Recipient
from .panels import recipient_panels
from .services import imports, labels


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


can_import = permission_required("outreach.add_importjob", raise_exception=True)


def _get_importjob_for_user(request: HttpRequest, job_id: int) -> ImportJob:
    return get_object_or_404(selectors.import_jobs_visible_to(request.user), pk=job_id)


def _posted_mapping(request: HttpRequest, headers: list[str]) -> dict[str, str]:
    # Columns are posted by position: header text may hold any character.
    return {h: request.POST.get(f"col-{i}", imports.ImportField.IGNORE) for i, h in enumerate(headers)}


@can_import
def import_index(request: HttpRequest) -> HttpResponse:
    form = ImportUploadForm()
    if request.method == "POST":
        form = ImportUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["csv_file"]
            try:
                job = imports.import_job_create(file=upload, user=request.user, name=upload.name)
            except ApplicationError as exc:
                form.add_error("csv_file", exc.message)
            else:
                return redirect("import_detail", job_id=job.pk)
    jobs = selectors.import_jobs_visible_to(request.user)[:20]
    status = 400 if form.errors else 200
    return render(request, "people/import_index.html", {"form": form, "jobs": jobs}, status=status)


@can_import
def import_detail(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    job = _get_importjob_for_user(request, job_id)
    if job.status != ImportJob.Status.PREVIEW:
        template = "people/import_detail.html"
        if request.htmx:
            template += "#progress"
        in_progress = job.status in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING)
        return render(request, template, {"job": job, "in_progress": in_progress})
    try:
        preview = imports.import_preview(job=job)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("import_index")
    return render(request, "people/import_detail.html", _preview_context(job, preview))


def _preview_context(job: ImportJob, preview: imports.Preview) -> dict:
    mapped = [(i, h) for i, h in enumerate(preview.headers) if preview.mapping[h] != imports.ImportField.IGNORE]
    return {
        "job": job,
        "preview": preview,
        "fields": imports.ImportField.choices,
        "mapped": mapped,
        "rows": [(row, [row.values[i] if i < len(row.values) else "" for i, _ in mapped]) for row in preview.rows],
    }


@can_import
@require_POST
def import_mapping(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    """Save an adjusted mapping and show the preview validated with it."""
    job = _get_importjob_for_user(request, job_id)
    try:
        with imports.open_job_file(job) as opened:
            headers = opened.headers
        imports.import_job_set_mapping(job=job, mapping=_posted_mapping(request, headers))
        preview = imports.import_preview(job=job)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("import_detail", job_id=job.pk)
    if not request.htmx:
        return redirect("import_detail", job_id=job.pk)
    return render(request, "people/import_detail.html#preview", _preview_context(job, preview))


@can_import
@require_POST
def import_confirm(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _get_importjob_for_user(request, job_id)
    try:
        with imports.open_job_file(job) as opened:
            headers = opened.headers
        mapping = _posted_mapping(request, headers)
        # Keep the user's choices even when the mapping is refused, so the preview shows them.
        imports.import_job_set_mapping(job=job, mapping=mapping)
        imports.import_job_confirm(job=job, mapping=mapping)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("import_detail", job_id=job.pk)


@can_import
@require_POST
def import_resume(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _get_importjob_for_user(request, job_id)
    try:
        imports.import_job_resume(job=job)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("import_detail", job_id=job.pk)


# --- Recipients ----------------------------------------------------------------------------------


@permission_required("outreach.view_recipient", raise_exception=True)
def recipient_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    qs = selectors.recipients_visible_to(request.user)
    if query:
        qs = (
            qs.filter(email__icontains=query.lower())
            | qs.filter(last_name__icontains=query)
            | qs.filter(account__name__icontains=query)
        )
    page = Paginator(qs.order_by("email"), 50).get_page(request.GET.get("page"))
    hits = suppression_selectors.suppression_check_bulk(recipients=list(page.object_list))
    rows = [(r, hits.get(r.pk)) for r in page.object_list]
    return render(request, "people/recipient_list.html", {"page": page, "rows": rows, "query": query})


def _get_recipient_for_user(request: HttpRequest, recipient_id: int) -> Recipient:
    return get_object_or_404(selectors.recipients_visible_to(request.user), pk=recipient_id)


@permission_required("outreach.view_recipient", raise_exception=True)
def recipient_detail(request: HttpRequest, recipient_id: int) -> HttpResponse:
    recipient = _get_recipient_for_user(request, recipient_id)
    context = {
        "recipient": recipient,
        "facts": recipient.facts.all(),
        "labels": recipient.labels.all(),
        "all_labels": Label.objects.order_by("name").values_list("name", flat=True)[:500],
        "suppression": suppression_selectors.suppression_check(recipient=recipient),
        "panels": recipient_panels(request, recipient),
        "properties": properties_in_words(recipient.properties),
    }
    return render(request, "people/recipient_detail.html", context)


@require_POST
@permission_required("outreach.change_recipient", raise_exception=True)
def recipient_labels(request: HttpRequest, recipient_id: int) -> HttpResponse:
    """Add a label to a recipient (label automations hear of it) or take one off."""
    recipient = _get_recipient_for_user(request, recipient_id)
    added, removed = request.POST.get("add", "").strip(), request.POST.get("remove", "").strip()
    if added:
        events = labels.recipient_labels_add(pairs=[(recipient.pk, added)], via=LabelEvent.Via.UI, actor=request.user)
        if events:
            messages.success(request, f"Added the label “{labels.label_name_clean(added)}”.")
        else:
            messages.info(request, f"{recipient.email} already has that label.")
    elif removed and labels.recipient_label_remove(recipient=recipient, name=removed):
        messages.success(request, f"Took the label “{removed}” off.")
    return redirect("recipient_detail", recipient_id=recipient.pk)


def properties_in_words(properties: dict | None) -> list[tuple[str, str]]:
    """Custom properties as (name, value) lines, lists and addresses spelt out, never raw JSON."""
    lines = []
    for key, value in sorted((properties or {}).items()):
        if isinstance(value, list):
            items = [f"{v.get('address', '')} ({v['label']})" if isinstance(v, dict) and v.get("label") else
                     (v.get("address", "") if isinstance(v, dict) else str(v)) for v in value]  # fmt: skip
            text = ", ".join(i for i in items if i)
        elif isinstance(value, dict):
            text = ", ".join(f"{k}: {v}" for k, v in value.items())
        else:
            text = "" if value is None else str(value)
        lines.append((key, text or "—"))  # the name as target filters use it
    return lines


@permission_required("outreach.add_suppression", raise_exception=True)
def suppression_check_view(request: HttpRequest) -> HttpResponse:
    """Answer "is this address suppressed, and why?" for one address typed by an admin. It lives here,
    above suppression, because it looks the person up first (recipient-id entries, consent)."""
    address = request.GET.get("address", "").strip()
    hit = None
    if address:
        recipient = Recipient.objects.filter(email=address.lower()).first() or Recipient(email=address, pk=0)
        hit = suppression_selectors.suppression_check(recipient=recipient)
    return render(
        request, "suppression/suppression.html#check-result", {"address": address, "hit": hit, "checked": bool(address)}
    )
