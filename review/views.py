"""The review queue: thin views over review.selectors and review.services (htmx partials)."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event
from django_htmx.middleware import HtmxDetails

from outreach.core.errors import ApplicationError
from outreach.core.ids import parse_id
from outreach.drafting.grounding import REASONS
from outreach.drafting.sanitize import looks_like_instruction
from outreach.mail import selectors as mail_selectors
from outreach.people.selectors import recipients_visible_to

from . import charts, selectors, services
from .forms import EditAnalyticsFilterForm
from .highlight import highlight, unsupported_claims
from .models import Draft, DraftEdit, RejectReason
from .textdiff import word_diff_html

SKIPPED_SESSION_KEY = "review_skipped"
MAX_SKIPPED = 500

can_view = permission_required("review.view_draft", raise_exception=True)
can_decide = permission_required("review.change_draft", raise_exception=True)


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _get_draft_for_user(request: HttpRequest, draft_id: int, *, detail: bool = True) -> Draft:
    """The one access check for drafts: another rep's draft is a 404, as if it did not exist.
    Without `detail` only the id is read: a decision's service locks and loads the row itself."""
    drafts = selectors.drafts_visible_to(request.user)
    drafts = selectors.with_detail(drafts) if detail else drafts.only("id")
    return get_object_or_404(drafts, pk=draft_id)


def _skipped(request: HttpRequest) -> list[int]:
    return list(request.session.get(SKIPPED_SESSION_KEY, []))


def _filters(request: HttpRequest) -> selectors.QueueFilters:
    return selectors.QueueFilters.from_params(request.POST if request.method == "POST" else request.GET)


def _detail_context(request: HttpRequest, draft: Draft | None, filters: selectors.QueueFilters) -> dict:
    if draft is None:
        return {"draft": None, "filters": filters, "filter_qs": filters.as_query()}
    cited = {str(i) for i in draft.cited_fact_ids}
    facts = [
        {
            **f,
            "cited": str(f.get("id")) in cited,
            "untrusted": f.get("trust") == "untrusted",
            # Shown with a warning; the model got it quoted as data and it supports only its words.
            "looks_like_instruction": looks_like_instruction(str(f.get("text") or "")),
        }
        for f in draft.facts_snapshot
    ]
    withheld = [
        {
            **w,
            "reason": REASONS["untrusted_source"],
            "field_label": "subject" if w.get("field") == "subject" else "body",
        }
        for w in draft.withheld or []
    ]
    profile = getattr(draft.sender, "sender", None)
    fact_texts = {str(f.get("id")): str(f.get("text") or "") for f in facts if f.get("id") is not None}
    return {
        "draft": draft,
        "filters": filters,
        "filter_qs": filters.as_query(),
        "filter_inputs": filters.as_hidden_inputs(),
        "profile": profile,
        # A sender whose domain fails SPF, DMARC or DKIM: their approved email may land in spam.
        "sending_domain": mail_selectors.sending_domain_for_address(profile.email) if profile else None,
        "subject_html": highlight(draft.subject, draft.grounding, field="subject", facts=fact_texts),
        "preview_html": highlight(draft.preview_text, draft.grounding, field="preview_text", facts=fact_texts),
        "body_html": highlight(draft.body_text, draft.grounding, field="body_text", facts=fact_texts),
        "unsupported": unsupported_claims(draft.grounding or []),
        "facts": facts,
        "withheld": withheld,
        "kept_untrusted": draft.kept_untrusted or [],
        "instruction_facts": sum(1 for f in facts if f["looks_like_instruction"]),
        "history": selectors.recipient_history(recipient_id=draft.recipient_id, exclude_draft_id=draft.pk),
        "reject_reasons": RejectReason.choices,
        # A regenerated draft shows what the new version changed (one query, regenerated drafts only).
        "latest_change": selectors.draft_latest_change(draft=draft) if draft.instruction else None,
        "cc_text": ", ".join(draft.cc),
        "bcc_text": ", ".join(draft.bcc),
        "spam_risk": (
            mail_selectors.email_spam_risk(
                recipient=draft.recipient,
                sender=draft.sender,
                subject=draft.subject,
                body_html=draft.body_html,
                body_text=draft.body_text,
            )
            if draft.body_text or draft.body_html
            else None
        ),
    }


def _counts_context(request: HttpRequest, filters: selectors.QueueFilters) -> dict:
    counts = selectors.draft_state_counts(user=request.user, campaign_id=filters.campaign_id)
    return {
        "filters": filters,
        "filter_qs": filters.as_query(),
        "counts": counts,
        "count_labels": {state: selectors.count_label(n) for state, n in counts.items()},
        "in_flight": counts[Draft.State.QUEUED] + counts[Draft.State.DRAFTING],
    }


def _queue_context(request: HttpRequest, filters: selectors.QueueFilters) -> dict:
    return {
        **_counts_context(request, filters),
        "queue": selectors.draft_queue_page(user=request.user, filters=filters, skipped=_skipped(request)),
        "campaigns": selectors.queue_campaigns(user=request.user),
        "reject_reasons": RejectReason.choices,
    }


@can_view
@require_GET
def queue(request: HtmxHttpRequest) -> HttpResponse:
    filters = _filters(request)
    template = "review/queue.html"
    if request.htmx and request.htmx.target in ("queue-counts", "queue-list"):
        # Cross-part refreshes (after a decision, while drafting) re-render one part.
        context = _counts_context(request, filters)
        if request.htmx.target == "queue-list":
            context["queue"] = selectors.draft_queue_page(user=request.user, filters=filters, skipped=_skipped(request))
            response = render(request, template + "#queue-list", context)
            if request.htmx.trigger == "queue-filters":
                # Filtering: the counts follow out of band; the draft on screen stays (no change of context).
                counts = render(request, template + "#queue-counts", {**context, "oob": True})
                response.content += counts.content
            return response
        response = render(request, template + "#queue-counts", context)
        seen = request.GET.get("seen", "")
        if seen != str(context["counts"][filters.state]):
            trigger_client_event(response, "queueChanged")
        return response
    context = _queue_context(request, filters)
    context["shortcuts_on"] = selectors.reviewer_settings_for(request.user).single_key_shortcuts
    # Approving still works while a sender is paused (the email is held); the banner says so.
    context["sending_pauses"] = mail_selectors.sending_pauses_active_for(request.user)
    selected = parse_id(request.GET.get("draft"))
    if selected is not None:
        draft = selectors.draft_detail(draft_id=selected, user=request.user)
    else:
        # The list puts skipped drafts last, so its first draft is the next one to review.
        draft = selectors.draft_loaded(context["queue"][0].pk) if context["queue"] else None
    context.update(_detail_context(request, draft, filters))
    return render(request, template, context)


@can_view
@require_GET
def draft_detail(request: HtmxHttpRequest, draft_id: int) -> HttpResponse:
    draft = _get_draft_for_user(request, draft_id)
    filters = _filters(request)
    if not request.htmx:
        return redirect(f"{reverse('review_queue')}?draft={draft_id}&{filters.as_query()}")
    return render(request, "review/queue.html#detail", _detail_context(request, draft, filters))


@can_view
@require_GET
def draft_versions(request: HttpRequest, draft_id: int) -> HttpResponse:
    """Every version of a draft's text, newest first, each with a word diff against the one before."""
    draft = _get_draft_for_user(request, draft_id)
    filters = _filters(request)
    context = {
        "draft": draft,
        "changes": selectors.draft_version_changes(draft=draft),
        "back": f"{reverse('review_queue')}?draft={draft.pk}&{filters.as_query()}".rstrip("&"),
    }
    return render(request, "review/draft_versions.html", context)


def _next(
    request: HttpRequest,
    notice: str,
    *,
    status: int = 200,
    approved: Draft | None = None,
    refused: list[tuple[str, str]] | None = None,
) -> HttpResponse:
    """After a decision: the next draft's detail, and an event that refreshes counts and list. After an
    approval the notice carries an Undo button for as long as the email is held; after a bulk
    approval it lists the drafts that were not approved, and why."""
    filters = _filters(request)
    draft = selectors.draft_next(user=request.user, filters=filters, skipped=_skipped(request))
    context = _detail_context(request, draft, filters)
    context["notice"] = notice
    context["notice_refused"] = refused or []
    if approved is not None and settings.APPROVE_UNDO_SECONDS:
        context["undo"] = approved
        context["undo_seconds"] = settings.APPROVE_UNDO_SECONDS
    response = render(request, "review/queue.html#detail", context, status=status)
    return trigger_client_event(response, "draftDecided", {"notice": notice})


def _refused(exc: ApplicationError) -> HttpResponse:
    """A refused decision: plain text that static/js/app.js shows in place (409 for a conflict)."""
    status = 409 if isinstance(exc, services.DraftConflict) else 400
    response = HttpResponse(exc.message, status=status, content_type="text/plain; charset=utf-8")
    if status == 409:
        trigger_client_event(response, "draftDecided", {"notice": exc.message})
    return response


def _expected_version(request: HttpRequest) -> int | None:
    return parse_id(request.POST.get("version"))


def _who(draft: Draft) -> str:
    return draft.recipient.full_name or draft.recipient.email


_ADDRESS_SPLIT = re.compile(r"[,;\s]+")


def _addresses(raw: str) -> list[str]:
    return [a for a in _ADDRESS_SPLIT.split(raw or "") if a]


def _decide(
    request: HttpRequest,
    draft_id: int,
    decide: Callable[[Draft, int], Draft],
    notice: Callable[[Draft], str],
) -> HttpResponse:
    """One decision on a draft the user may see, at the version they saw; then the next draft.
    `decide` returns the draft as the service locked and loaded it, which the notice names."""
    draft = _get_draft_for_user(request, draft_id, detail=False)
    version = _expected_version(request)
    if version is None:
        return HttpResponseBadRequest("Missing draft version.", content_type="text/plain")
    try:
        decided = decide(draft, version)
    except ApplicationError as exc:
        return _refused(exc)
    approved = decided if decided.state == Draft.State.APPROVED else None
    return _next(request, notice(decided), approved=approved)


@can_decide
@require_POST
def approve(request: HttpRequest, draft_id: int) -> HttpResponse:
    return _decide(
        request,
        draft_id,
        lambda draft, version: services.draft_approve(draft=draft, user=request.user, expected_version=version),
        lambda draft: f"Approved the email to {_who(draft)}; {_held()}",
    )


@can_decide
@require_POST
def edit_approve(request: HttpRequest, draft_id: int) -> HttpResponse:
    return _decide(
        request,
        draft_id,
        lambda draft, version: services.draft_approve(
            draft=draft,
            user=request.user,
            expected_version=version,
            subject=request.POST.get("subject", ""),
            body_text=request.POST.get("body_text", ""),
            cc=_addresses(request.POST.get("cc", "")),
            bcc=_addresses(request.POST.get("bcc", "")),
            # Absent (an older form) keeps the drafted preview; present and empty clears it.
            preview_text=request.POST.get("preview_text"),
        ),
        lambda draft: f"Approved your edited email to {_who(draft)}; {_held()}",
    )


def _selection(request: HttpRequest) -> list[tuple[int, int]]:
    """The drafts ticked in the list, as (id, version seen): values "id:version", in order, once each."""
    seen: dict[int, int] = {}
    for value in request.POST.getlist("draft"):
        pk_text, _, version_text = value.partition(":")
        pk, version = parse_id(pk_text), parse_id(version_text)
        if pk is not None and version is not None and pk not in seen:
            seen[pk] = version
    return list(seen.items())


@can_decide
@require_POST
def bulk_approve(request: HttpRequest) -> HttpResponse:
    """Approve the drafts ticked in the list: first a confirmation naming how many (and which will
    not be approved, and why), then each approval through the same service as a single one."""
    selection = _selection(request)[: services.BULK_APPROVE_MAX + 1]
    drafts = selectors.drafts_selected(user=request.user, ids=[pk for pk, _ in selection])
    if not request.POST.get("confirmed"):
        ready: list[Draft] = []
        refused: list[tuple[Draft, str]] = []
        for pk, version in selection:
            draft = drafts.get(pk)
            if draft is None:
                continue  # not the user's to approve: not named either
            if draft.state != Draft.State.READY or draft.version != version:
                refused.append((draft, "it changed or was decided since you ticked it."))
            elif draft.unsupported_claim_count:
                n = draft.unsupported_claim_count
                refused.append(
                    (draft, f"it has {n} unsupported claim{pluralize(n)}: open it and approve it on its own.")
                )
            else:
                ready.append(draft)
        filters = _filters(request)
        context = {
            "ready": ready,
            "refused": [(_who(d), why) for d, why in refused],
            "too_many": len(selection) > services.BULK_APPROVE_MAX,
            "max": services.BULK_APPROVE_MAX,
            "undo_seconds": settings.APPROVE_UNDO_SECONDS,
            "filters": filters,
            "filter_qs": filters.as_query(),
            "filter_inputs": filters.as_hidden_inputs(),
        }
        template = "review/_bulk_confirm.html" if request.headers.get("HX-Request") else "review/bulk_confirm.html"
        return render(request, template, context)
    chosen = [(drafts[pk], version) for pk, version in selection if pk in drafts]
    try:
        result = services.drafts_approve_selected(selected=chosen, user=request.user)
    except ApplicationError as exc:
        return _refused(exc)
    n = len(result.approved)
    notice = f"Approved {n} email{pluralize(n)}; " + (_held() if n else "nothing to send.")
    not_approved = [(_who(d), why) for d, why in result.refused]
    if not request.headers.get("HX-Request"):
        messages.success(request, notice + "".join(f" Not approved: {who}: {why}" for who, why in not_approved))
        return redirect(f"{reverse('review_queue')}?{_filters(request).as_query()}".rstrip("?"))
    return _next(request, notice, refused=not_approved)


def _held() -> str:
    seconds = settings.APPROVE_UNDO_SECONDS
    return f"it is held for {seconds} s so you can undo, then sent." if seconds else "it is queued for sending."


@can_decide
@require_POST
def undo_approve(request: HttpRequest, draft_id: int) -> HttpResponse:
    """Undo your approval while the email is held: the draft comes back, ready for review."""
    draft = _get_draft_for_user(request, draft_id, detail=False)
    version = _expected_version(request)
    if version is None:
        return HttpResponseBadRequest("Missing draft version.", content_type="text/plain")
    try:
        draft = services.draft_undo_approve(draft=draft, user=request.user, expected_version=version)
    except ApplicationError as exc:
        return _refused(exc)
    filters = _filters(request)
    context = _detail_context(request, _get_draft_for_user(request, draft.pk), filters)
    context["notice"] = f"Approval undone: nothing was sent to {_who(draft)}. The draft is back for review."
    response = render(request, "review/queue.html#detail", context)
    return trigger_client_event(response, "draftDecided", {"notice": context["notice"]})


@can_decide
@require_POST
def reject(request: HttpRequest, draft_id: int) -> HttpResponse:
    reason = request.POST.get("reason", "")
    extra = " and suppressed them" if reason == RejectReason.DO_NOT_CONTACT else ""
    return _decide(
        request,
        draft_id,
        lambda draft, version: services.draft_reject(
            draft=draft, user=request.user, expected_version=version, reason=reason, note=request.POST.get("note", "")
        ),
        lambda draft: f"Rejected the draft to {_who(draft)}{extra}.",
    )


@can_decide
@require_POST
def regenerate(request: HttpRequest, draft_id: int) -> HttpResponse:
    return _decide(
        request,
        draft_id,
        lambda draft, version: services.draft_regenerate(
            draft=draft, user=request.user, expected_version=version, instruction=request.POST.get("instruction", "")
        ),
        lambda draft: f"Writing a new version for {_who(draft)}; it returns to the queue when ready.",
    )


@can_decide
@require_POST
def keep_untrusted(request: HttpRequest, draft_id: int) -> HttpResponse:
    """Put one withheld claim back into the email: an explicit, recorded choice. The same draft
    stays open, at its new version, so the reviewer reads the sentence before approving."""
    draft = _get_draft_for_user(request, draft_id, detail=False)
    version = _expected_version(request)
    if version is None:
        return HttpResponseBadRequest("Missing draft version.", content_type="text/plain")
    text = request.POST.get("text", "")
    try:
        services.draft_keep_untrusted(draft=draft, user=request.user, expected_version=version, text=text)
    except ApplicationError as exc:
        return _refused(exc)
    filters = _filters(request)
    context = _detail_context(request, selectors.draft_detail(draft_id=draft_id, user=request.user), filters)
    context["notice"] = f"Kept “{text}”: it is back in the email, still marked as from an untrusted source."
    return render(request, "review/queue.html#detail", context)


@can_decide
@require_POST
def retry(request: HttpRequest, draft_id: int) -> HttpResponse:
    draft = _get_draft_for_user(request, draft_id, detail=False)
    try:
        draft = services.draft_retry(draft=draft, user=request.user, expected_version=_expected_version(request))
    except ApplicationError as exc:
        return _refused(exc)
    return _next(request, f"Drafting again for {_who(draft)}.")


@can_decide
@require_POST
def skip(request: HttpRequest, draft_id: int) -> HttpResponse:
    draft = _get_draft_for_user(request, draft_id)
    services.draft_skip(draft=draft, user=request.user)
    skipped = [pk for pk in _skipped(request) if pk != draft.pk] + [draft.pk]
    request.session[SKIPPED_SESSION_KEY] = skipped[-MAX_SKIPPED:]
    return _next(request, f"Skipped {_who(draft)} for now.")


@can_view
@require_http_methods(["GET", "POST"])
def reviewer_settings(request: HtmxHttpRequest) -> HttpResponse:
    """The reviewer's own queue settings, kept on the server: single-key shortcuts on or off. The
    queue's keyboard help changes the same setting in place (htmx)."""
    if request.method == "POST":
        on = request.POST.get("single_key_shortcuts") in ("on", "1", "true")
        services.reviewer_settings_update(user=request.user, single_key_shortcuts=on)
        text = f"Single-key shortcuts are {'on' if on else 'off'}, in every browser you use."
        if request.htmx:
            response = HttpResponse(text, content_type="text/plain; charset=utf-8")
            return trigger_client_event(response, "shortcutsChanged", {"on": on, "notice": text})
        messages.success(request, text)
        return redirect("reviewer_settings")
    context = {"reviewer_settings": selectors.reviewer_settings_for(request.user)}
    return render(request, "review/settings.html", context)


@permission_required("outreach.view_outboundmessage", raise_exception=True)
@require_GET
def message_timeline(request: HttpRequest, message_id: int) -> HttpResponse:
    """One email's story, from draft to what came back. Here, above mail, because it tells both."""
    message = get_object_or_404(
        mail_selectors.messages_visible_to(request.user).select_related("recipient", "sender__sender", "approved_by"),
        pk=message_id,
    )
    draft, timeline = selectors.message_story(message=message)
    result = message.as_send_result()
    context = {
        "message": message,
        "draft": draft,
        "timeline": timeline,
        "send_result": result,
        "tracking_note": mail_selectors.message_tracking_note(message=message),
        "provider_answer": json.dumps(result["create_email_response"], indent=2, sort_keys=True)
        if result["create_email_response"]
        else "",
    }
    return render(request, "review/message_timeline.html", context)


@can_view
@require_GET
def progress(request: HttpRequest) -> HttpResponse:
    """Counts per state and cost per draft for a campaign: polled with htmx while drafting."""
    filters = _filters(request)
    context = {
        "progress": selectors.drafting_progress(user=request.user, campaign_id=filters.campaign_id),
        "filters": filters,
        "filter_qs": filters.as_query(),
    }
    return render(request, "review/progress.html", context)


@permission_required("review.add_draft", raise_exception=True)
@require_POST
def request_drafts(request: HttpRequest) -> HttpResponse:
    """Ad-hoc drafts for the chosen recipients, sent by the user. (A campaign's drafts come from its
    sequence steps, requested by campaigns.)"""
    ids = [pk for pk in map(parse_id, request.POST.getlist("recipient")) if pk is not None]
    recipients_list = list(recipients_visible_to(request.user).filter(pk__in=ids))
    if not recipients_list:
        return HttpResponseBadRequest("Choose at least one of your recipients.", content_type="text/plain")
    try:
        result = services.draft_request_bulk(recipients=recipients_list, sender_for=lambda r: request.user)
    except ApplicationError as exc:
        return _refused(exc)
    message = (
        f"Drafting {len(result.created)} email(s); {result.suppressed} suppressed, "
        f"{result.already_open} already had an open draft."
    )
    response = HttpResponse(message, content_type="text/plain; charset=utf-8")
    if request.headers.get("HX-Request"):
        return trigger_client_event(response, "draftsRequested", {"notice": message})
    messages.success(request, message)
    return redirect("review_queue")


# ---------------------------------------------------------------------------------------------
# Edit analytics: the page, the diff of one edit, the CSV export (CSMs and admins)
# ---------------------------------------------------------------------------------------------

view_edit_analytics = permission_required("review.view_draftedit", raise_exception=True)


def _analytics_filter(request: HttpRequest) -> tuple[EditAnalyticsFilterForm, selectors.EditAnalyticsFilter]:
    """The filter from the query string; no dates given at all means the last twelve weeks."""
    params = request.GET.copy()
    default = selectors.EditAnalyticsFilter.default()
    if "start" not in params and "end" not in params:
        params["start"], params["end"] = default.start.isoformat(), default.end.isoformat()  # type: ignore[union-attr]
    form = EditAnalyticsFilterForm(params, campaigns=selectors.analytics_campaigns())
    if not form.is_valid():
        return form, default
    data = form.cleaned_data
    return form, selectors.EditAnalyticsFilter(start=data["start"], end=data["end"], campaign_id=data["campaign"])


def _filter_query(flt: selectors.EditAnalyticsFilter) -> str:
    params = {
        "start": flt.start.isoformat() if flt.start else "",
        "end": flt.end.isoformat() if flt.end else "",
        "campaign": flt.campaign_id or "",
    }
    return urlencode(params)


def _get_draftedit_for_user(request: HttpRequest, edit_id: int) -> DraftEdit:
    return get_object_or_404(selectors.draft_edits_visible_to(request.user), pk=edit_id)


@view_edit_analytics
@require_GET
def edit_analytics_page(request: HtmxHttpRequest) -> HttpResponse:
    form, flt = _analytics_filter(request)
    data = selectors.edit_analytics(flt=flt)
    today = timezone.localdate()
    # Quick ranges keep the chosen campaign.
    ranges = [
        (
            label,
            _filter_query(
                replace(selectors.EditAnalyticsFilter.default(today=today, weeks=weeks), campaign_id=flt.campaign_id)
            ),
        )
        for label, weeks in (("Last 4 weeks", 4), ("Last 12 weeks", 12), ("Last 52 weeks", 52))
    ]
    context = {
        "form": form,
        "analytics": data,
        "charts": charts.analytics_charts(data),
        "query": _filter_query(flt),
        "ranges": ranges,
        "learning_tables": [(data.learning_by_campaign, "Campaign"), (data.learning_by_sender, "Sender")],
    }
    template = "review/edit_analytics.html"
    if request.htmx:
        template += "#analytics-body"
    return render(request, template, context)


@view_edit_analytics
@require_GET
def edit_analytics_edit(request: HttpRequest, edit_id: int) -> HttpResponse:
    edit = _get_draftedit_for_user(request, edit_id)
    context = {
        "edit": edit,
        "subject_diff": word_diff_html(edit.subject_before, edit.subject_after),
        "body_diff": word_diff_html(edit.body_before, edit.body_after),
        "preview_diff": word_diff_html(edit.preview_text_before, edit.preview_text_after)
        if "preview_text" in edit.changed_parts
        else "",
        "decisions": edit.draft.decisions.select_related("user"),
    }
    return render(request, "review/edit_analytics_edit.html", context)


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


@view_edit_analytics
@require_GET
def edit_analytics_export(request: HttpRequest) -> StreamingHttpResponse:
    """Every decision in the filter as CSV, one row each, streamed so big tables never sit in memory."""
    _form, flt = _analytics_filter(request)
    response = StreamingHttpResponse(
        _csv_lines(selectors.decision_export_rows(flt=flt)), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localdate().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="draft-decisions-{stamp}.csv"'
    return response


@view_edit_analytics
@require_GET
def deliverability_page(request: HttpRequest) -> HttpResponse:
    """Bounces and complaints per sender and per sending domain, over the automatic brakes' windows."""
    from django.conf import settings

    bounce_limit = settings.BRAKE_BOUNCE_PERCENT / 100
    complaint_limit = settings.BRAKE_COMPLAINT_PERCENT / 100
    sections = []
    for by, what in (("sender", "sender"), ("domain", "sending domain")):
        rows = mail_selectors.deliverability_rates(by=by)
        labels = [row.label for row in rows]
        sections.append(
            {
                "by": by,
                "what": what,
                "rows": rows,
                "bounce_chart": charts.deliverability_chart(
                    id=f"chart-bounces-{by}",
                    title=f"Hard bounced rate per {what}",
                    labels=labels,
                    rates=[row.bounce_rate for row in rows],
                    limit=bounce_limit,
                    window=settings.BRAKE_BOUNCE_WINDOW,
                    what=what,
                ),
                "complaint_chart": charts.deliverability_chart(
                    id=f"chart-complaints-{by}",
                    title=f"Complained rate per {what}",
                    labels=labels,
                    rates=[row.complaint_rate for row in rows],
                    limit=complaint_limit,
                    window=settings.BRAKE_COMPLAINT_WINDOW,
                    what=what,
                ),
            }
        )
    context = {
        "sections": sections,
        "bounce_window": settings.BRAKE_BOUNCE_WINDOW,
        "complaint_window": settings.BRAKE_COMPLAINT_WINDOW,
        "bounce_limit": charts.fine_percent(bounce_limit),
        "complaint_limit": charts.fine_percent(complaint_limit),
    }
    return render(request, "review/deliverability.html", context)
