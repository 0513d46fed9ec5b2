"""Review pages. Thin: parse, call a service or selector, render."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import replace
from urllib.parse import urlencode

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET
from django_htmx.middleware import HtmxDetails

from . import charts, selectors
from .forms import SignalsFilterForm
from .models import DraftEdit
from .textdiff import word_diff_html


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


# ---------------------------------------------------------------------------------------------
# Edit-distance signals: the signals page, the diff of one edit, the CSV export (CSMs and admins)
# ---------------------------------------------------------------------------------------------

view_signals = permission_required("review.view_draftedit", raise_exception=True)


def _signals_filter(request: HttpRequest) -> tuple[SignalsFilterForm, selectors.SignalsFilter]:
    """The filter from the query string; no dates given at all means the last twelve weeks."""
    params = request.GET.copy()
    default = selectors.SignalsFilter.default()
    if "start" not in params and "end" not in params:
        params["start"], params["end"] = default.start.isoformat(), default.end.isoformat()  # type: ignore[union-attr]
    form = SignalsFilterForm(params, campaigns=selectors.signal_campaigns())
    if not form.is_valid():
        return form, default
    data = form.cleaned_data
    return form, selectors.SignalsFilter(start=data["start"], end=data["end"], campaign_id=data["campaign"])


def _filter_query(flt: selectors.SignalsFilter) -> str:
    params = {
        "start": flt.start.isoformat() if flt.start else "",
        "end": flt.end.isoformat() if flt.end else "",
        "campaign": flt.campaign_id or "",
    }
    return urlencode(params)


def _get_draftedit_for_user(request: HttpRequest, edit_id: int) -> DraftEdit:
    return get_object_or_404(selectors.draft_edits_visible_to(request.user), pk=edit_id)


@view_signals
@require_GET
def signals(request: HtmxHttpRequest) -> HttpResponse:
    form, flt = _signals_filter(request)
    data = selectors.edit_signals(flt=flt)
    today = timezone.localdate()
    # Quick ranges keep the chosen campaign.
    ranges = [
        (
            label,
            _filter_query(
                replace(selectors.SignalsFilter.default(today=today, weeks=weeks), campaign_id=flt.campaign_id)
            ),
        )
        for label, weeks in (("Last 4 weeks", 4), ("Last 12 weeks", 12), ("Last 52 weeks", 52))
    ]
    context = {
        "form": form,
        "signals": data,
        "charts": charts.signals_charts(data),
        "query": _filter_query(flt),
        "ranges": ranges,
    }
    template = "review/signals.html"
    if request.htmx:
        template += "#signals-body"
    return render(request, template, context)


@view_signals
@require_GET
def signals_edit_detail(request: HttpRequest, edit_id: int) -> HttpResponse:
    edit = _get_draftedit_for_user(request, edit_id)
    context = {
        "edit": edit,
        "subject_diff": word_diff_html(edit.subject_before, edit.subject_after),
        "body_diff": word_diff_html(edit.body_before, edit.body_after),
        "decisions": edit.draft.decisions.select_related("user"),
    }
    return render(request, "review/signals_edit.html", context)


# Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value):
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose write() hands the line back, so csv.writer can feed a stream."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(rows: Iterable[tuple]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(selectors.EXPORT_COLUMNS)
    for row in rows:
        yield writer.writerow([_csv_cell(value) for value in row])


@view_signals
@require_GET
def signals_export(request: HttpRequest) -> StreamingHttpResponse:
    """Every decision in the filter as CSV, one row each, streamed so big tables never sit in memory."""
    _form, flt = _signals_filter(request)
    response = StreamingHttpResponse(
        _csv_lines(selectors.decision_export_rows(flt=flt)), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localdate().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="draft-decisions-{stamp}.csv"'
    return response
