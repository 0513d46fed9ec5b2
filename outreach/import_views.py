"""CSV import pages: upload → mapping and preview → confirm → progress. Thin: parse, call, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails

from . import imports, selectors
from .errors import ApplicationError
from .forms import ImportUploadForm
from .models import ImportJob


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


can_import = permission_required("outreach.add_importjob", raise_exception=True)


def _get_importjob_for_user(request: HttpRequest, job_id: int) -> ImportJob:
    return get_object_or_404(selectors.import_jobs_for_user(request.user), pk=job_id)


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
    jobs = selectors.import_jobs_for_user(request.user)[:20]
    status = 400 if form.errors else 200
    return render(request, "outreach/import_index.html", {"form": form, "jobs": jobs}, status=status)


@can_import
def import_detail(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    job = _get_importjob_for_user(request, job_id)
    if job.status != ImportJob.Status.PREVIEW:
        template = "outreach/import_detail.html"
        if request.htmx:
            template += "#progress"
        in_progress = job.status in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING)
        return render(request, template, {"job": job, "in_progress": in_progress})
    try:
        preview = imports.import_preview(job=job)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("import_index")
    return render(request, "outreach/import_detail.html", _preview_context(job, preview))


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
    return render(request, "outreach/import_detail.html#preview", _preview_context(job, preview))


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
