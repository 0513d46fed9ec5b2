"""Campaign pages: thin views that parse, call a service or selector, and render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event
from django_htmx.middleware import HtmxDetails

from outreach.core.errors import ApplicationError
from outreach.core.ids import parse_id
from outreach.mail.selectors import engagement_rates_for_campaign
from outreach.people.models import Label, Recipient
from outreach.people.roles import is_csm_or_admin
from outreach.people.selectors import recipients_visible_to

from . import selectors, services
from .audit import recipient_audit
from .display import rule_words, send_window_words, target_filter_words
from .forms import CampaignForm, RuleForm, StepForm, TargetForm
from .models import Campaign, Enrollment, LabelAutomation, MilestoneRule, SequenceStep
from .preview import campaign_preview_draft
from .services import automations, milestones
from .waiting import campaign_waiting_summary, enrollments_waiting

view_campaigns = permission_required("campaigns.view_campaign", raise_exception=True)


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _errors(form) -> str:
    return "; ".join(str(e) for errors in form.errors.values() for e in errors)


def _get_campaign_for_user(request: HttpRequest, campaign_id: int, *, edit: bool = False) -> Campaign:
    """404 for campaigns this user may not see; 403 when they may see but not change it."""
    campaign = get_object_or_404(selectors.campaigns_visible_to(request.user), pk=campaign_id)
    if edit and not request.user.has_perm("campaigns.change_campaign"):
        raise PermissionDenied("You may view this campaign but not change it.")
    return campaign


def _get_enrollment_for_user(request: HttpRequest, enrollment_id: int) -> Enrollment:
    return get_object_or_404(selectors.enrollments_visible_to(request.user), pk=enrollment_id)


@view_campaigns
def campaign_list(request: HttpRequest) -> HttpResponse:
    campaigns = selectors.campaigns_visible_to(request.user)
    status = request.GET.get("status", "")
    if status in Campaign.Status.values:
        campaigns = campaigns.filter(status=status)
    page = Paginator(campaigns, 50).get_page(request.GET.get("page"))
    context = {"page": page, "status": status, "statuses": Campaign.Status.choices}
    return render(request, "campaigns/campaign_list.html", context)


def _campaign_form_response(request: HtmxHttpRequest, form: CampaignForm, campaign: Campaign | None) -> HttpResponse:
    template = "campaigns/campaign_form.html"
    if request.htmx and request.POST.get("_validate"):
        # Inline validation fills the error slots only (out of band): the inputs are not replaced,
        # so nothing typed while the check was on its way is lost.
        form.is_valid()
        return render(request, template + "#form-errors", {"form": form, "campaign": campaign, "oob": True})
    if request.htmx:
        template += "#campaign-form"
    return render(request, template, {"form": form, "campaign": campaign})


@permission_required("campaigns.add_campaign", raise_exception=True)
def campaign_create(request: HtmxHttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST or None)
    # Inline validation: htmx posts the form on change with _validate; nothing is saved then.
    if request.method == "POST" and form.is_valid() and not request.POST.get("_validate"):
        try:
            campaign = services.campaign_create(created_by=request.user, **form.service_fields())
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Created {campaign.name}. Add its sequence steps and target group next.")
            return redirect("campaign_detail", campaign_id=campaign.pk)
    return _campaign_form_response(request, form, None)


def campaign_edit(request: HtmxHttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _get_campaign_for_user(request, campaign_id, edit=True)
    form = CampaignForm(request.POST or None, instance=campaign)
    if request.method == "POST" and form.is_valid() and not request.POST.get("_validate"):
        try:
            services.campaign_update(campaign=Campaign.objects.get(pk=campaign.pk), **form.service_fields())
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Saved.")
            return redirect("campaign_detail", campaign_id=campaign.pk)
    return _campaign_form_response(request, form, campaign)


def _steps_context(campaign: Campaign) -> dict:
    return {
        "campaign": campaign,
        "steps": list(campaign.steps.filter(enrollment__isnull=True).order_by("position")),
        "step_form": StepForm(),
        "variables": services.TEMPLATE_VARIABLES,
    }


@view_campaigns
def campaign_detail(request: HtmxHttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _get_campaign_for_user(request, campaign_id)
    if request.htmx and request.GET.get("part") == "progress":  # polled while drafts are written
        progress = selectors.campaign_drafting_progress(campaign=campaign)
        context = {"campaign": campaign, "progress": progress}
        return render(request, "campaigns/campaign_detail.html#progress", context)
    if request.htmx and request.GET.get("part") == "preview-steps":  # the steps changed: refresh the picker
        steps = list(campaign.steps.filter(enrollment__isnull=True).order_by("position"))
        context = {"campaign": campaign, "steps": steps}
        return render(request, "campaigns/campaign_detail.html#preview-steps", context)
    can_edit = request.user.has_perm("campaigns.change_campaign")
    user = request.user
    enrollments = Paginator(selectors.campaign_enrollments(campaign=campaign, user=user), 25).get_page(
        request.GET.get("page")
    )
    rows = list(enrollments)
    reasons = enrollments_waiting(enrollments=rows)
    live = selectors.campaign_live_enrollments(campaign=campaign, user=user)
    # The preview's sample: only people this user may see (a rep: the people they own).
    sample_qs = selectors.campaign_target_recipients(campaign=campaign).select_related("account")
    sample = list(sample_qs.filter(pk__in=recipients_visible_to(user).values("pk"))[:25])
    context = {
        **_steps_context(campaign),
        "can_edit": can_edit,
        "funnel": selectors.campaign_funnel(campaign=campaign),
        "target_changes": selectors.campaign_target_changes(campaign=campaign),
        "window_words": send_window_words(campaign.send_window),
        "filter_words": target_filter_words(campaign.target_filter),
        "progress": selectors.campaign_drafting_progress(campaign=campaign),
        "campaign_events": list(campaign.events.select_related("actor")[:20]),
        "state_counts": selectors.campaign_enrollment_counts(campaign=campaign),
        "skips": selectors.campaign_skips(campaign=campaign, limit=50, user=user),
        "page": enrollments,
        "rows": [(e, reasons.get(e.pk)) for e in rows],
        "waiting_summary": campaign_waiting_summary(campaign=campaign, reasons=enrollments_waiting(enrollments=live)),
        "rules": [(rule, rule_words(rule.kind, rule.parameters)) for rule in campaign.rules.all()],
        "rule_form": RuleForm(),
        "automations": selectors.campaign_automations(campaign=campaign),
        "sample": sample,
        "suppression_lists": list(campaign.suppression_lists.all()),
        "set_properties": sorted((campaign.set_properties or {}).items()),
    }
    template = "campaigns/campaign_detail.html"
    if request.htmx and request.GET.get("part") == "enrollments":
        template += "#enrollments"
    return render(request, template, context)


def _steps_response(request: HtmxHttpRequest, campaign: Campaign, form: StepForm | None = None) -> HttpResponse:
    context = _steps_context(campaign)
    if form is not None:
        context["step_form"] = form
    if request.htmx:
        response = render(request, "campaigns/campaign_detail.html#steps", context)
        return trigger_client_event(response, "stepsChanged")
    return redirect("campaign_detail", campaign_id=campaign.pk)


@require_POST
def step_add(request: HtmxHttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _get_campaign_for_user(request, campaign_id, edit=True)
    form = StepForm(request.POST)
    if not form.is_valid():
        if not request.htmx:
            messages.error(request, _errors(form))
        return _steps_response(request, campaign, form)
    services.step_add(campaign=campaign, **form.cleaned_data)
    return _steps_response(request, campaign)


def _get_step(campaign: Campaign, step_id: int | None) -> SequenceStep:
    return get_object_or_404(SequenceStep, pk=step_id, campaign=campaign, enrollment__isnull=True)


@require_POST
def step_edit(request: HtmxHttpRequest, campaign_id: int, step_id: int) -> HttpResponse:
    campaign = _get_campaign_for_user(request, campaign_id, edit=True)
    step = _get_step(campaign, step_id)
    form = StepForm(request.POST, instance=step)
    if form.is_valid():
        step = services.step_update(step=step, **form.cleaned_data)
        if request.htmx:
            return render(
                request, "campaigns/campaign_detail.html#step", {"step": step, "campaign": campaign, "saved": True}
            )
        return redirect("campaign_detail", campaign_id=campaign.pk)
    if request.htmx:
        return render(
            request, "campaigns/campaign_detail.html#step", {"step": step, "campaign": campaign, "form": form}
        )
    messages.error(request, _errors(form))
    return redirect("campaign_detail", campaign_id=campaign.pk)


@require_POST
def step_delete(request: HtmxHttpRequest, campaign_id: int, step_id: int) -> HttpResponse:
    campaign = _get_campaign_for_user(request, campaign_id, edit=True)
    try:
        services.step_delete(step=_get_step(campaign, step_id))
    except ApplicationError as exc:
        raise PermissionDenied(exc.message) from exc
    return _steps_response(request, campaign)


@require_POST
def step_move(request: HtmxHttpRequest, campaign_id: int, step_id: int) -> HttpResponse:
    campaign = _get_campaign_for_user(request, campaign_id, edit=True)
    try:
        services.step_move(step=_get_step(campaign, step_id), up=request.POST.get("direction") == "up")
    except ApplicationError as exc:
        raise PermissionDenied(exc.message) from exc
    return _steps_response(request, campaign)


def campaign_target(request: HtmxHttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _get_campaign_for_user(request, campaign_id, edit=True)
    if request.method == "POST":
        form = TargetForm(request.POST)
        if form.is_valid():
            services.campaign_update(
                campaign=campaign,
                target_mode=form.cleaned_data["target_mode"],
                target_filter=form.target_filter(),
                static_recipients=form.static_ids,
            )
            changes = selectors.campaign_target_changes(campaign=campaign)
            if changes and (changes.new or changes.gone):
                messages.info(request, "Target group saved. Nobody was enrolled or stopped yet: choose below.")
            else:
                messages.success(request, "Target group saved.")
            return redirect("campaign_detail", campaign_id=campaign.pk)
    elif "target_mode" in request.GET:
        form = TargetForm(request.GET)
        form.is_valid()
    else:
        form = TargetForm(
            initial={
                **campaign.target_filter,
                "target_mode": campaign.target_mode,
                "static_emails": "\n".join(campaign.static_recipients.values_list("email", flat=True)),
            }
        )
    target_filter = form.target_filter() if form.is_bound and hasattr(form, "cleaned_data") else campaign.target_filter
    mode = (form.cleaned_data.get("target_mode") if form.is_bound and hasattr(form, "cleaned_data") else None) or (
        campaign.target_mode
    )
    if mode == Campaign.TargetMode.STATIC:
        ids = getattr(form, "static_ids", None)
        matches = Recipient.objects.filter(
            pk__in=ids if ids is not None else campaign.static_recipients.values("pk")
        ).select_related("account")
    else:
        matches = selectors.recipients_matching(target_filter=target_filter).select_related("account")
    context = {
        "campaign": campaign,
        "form": form,
        "count": matches.count(),
        "matches": list(matches.order_by("email")[:20]),
        "mode": mode,
    }
    template = "campaigns/campaign_target.html"
    if request.htmx:
        template += "#matches"
    return render(request, template, context)


@view_campaigns
def campaign_preview(request: HtmxHttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _get_campaign_for_user(request, campaign_id)
    # Both ids come from the query string: someone else's recipient, or not an id at all, is a 404.
    recipient = get_object_or_404(recipients_visible_to(request.user), pk=parse_id(request.GET.get("recipient")))
    step = None
    if request.GET.get("step"):
        step = _get_step(campaign, parse_id(request.GET["step"]))
    preview = campaign_preview_draft(campaign=campaign, recipient=recipient, step=step)
    template = "campaigns/campaign_detail.html#preview" if request.htmx else "campaigns/campaign_preview.html"
    return render(request, template, {"campaign": campaign, "preview": preview, "recipient": recipient})


TRANSITIONS = {
    "launch": services.campaign_launch,
    "pause": services.campaign_pause,
    "resume": services.campaign_resume,
    "archive": services.campaign_archive,
}


@require_POST
def campaign_transition(request: HttpRequest, campaign_id: int, action: str) -> HttpResponse:
    campaign = _get_campaign_for_user(request, campaign_id, edit=True)
    service = TRANSITIONS.get(action)
    if service is None:
        raise PermissionDenied("Unknown action.")
    try:
        result = service(campaign=campaign, user=request.user)  # type: ignore[operator]
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        done = {"launch": "Launched", "pause": "Paused", "resume": "Resumed", "archive": "Archived"}[action]
        manual = campaign.trigger == Campaign.Trigger.MANUAL
        extra = f" {result.describe()}" if isinstance(result, services.EnrollResult) and manual else ""
        extra = f" {result} live enrollments cancelled." if action == "archive" else extra
        messages.success(request, f"{done} {campaign.name}.{extra}")
    return redirect("campaign_detail", campaign_id=campaign.pk)


@require_POST
def campaign_enroll(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Enroll the people who joined the target group of an active campaign (asked, never silent)."""
    campaign = _get_campaign_for_user(request, campaign_id, edit=True)
    try:
        result = services.campaign_enroll_target(campaign=campaign, user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Enrolled newcomers. {result.describe()}")
    return redirect("campaign_detail", campaign_id=campaign.pk)


@require_POST
def campaign_stop_unmatched(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _get_campaign_for_user(request, campaign_id, edit=True)
    stopped = services.campaign_stop_unmatched(campaign=campaign, user=request.user)
    messages.success(
        request, f"Stopped {stopped} sequence{'s' if stopped != 1 else ''} of people no longer in the target group."
    )
    return redirect("campaign_detail", campaign_id=campaign.pk)


@require_POST
def campaign_scan(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Run this campaign's milestone rules now, then request every draft that is due."""
    campaign = _get_campaign_for_user(request, campaign_id, edit=True)
    if campaign.status != Campaign.Status.ACTIVE:
        messages.error(request, "Launch or resume the campaign first: the scan only runs for active campaigns.")
        return redirect("campaign_detail", campaign_id=campaign.pk)
    enrolled = milestones.milestone_scan(campaign=campaign, user=request.user)
    advanced = services.enrollment_advance_due()
    messages.success(
        request,
        f"Scan done: {sum(enrolled.values())} newly enrolled, {advanced.drafted} drafts requested, "
        f"{advanced.suppressed} suppressed, {advanced.busy} waiting for another email to finish.",
    )
    return redirect("campaign_detail", campaign_id=campaign.pk)


@require_POST
def rule_add(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _get_campaign_for_user(request, campaign_id, edit=True)
    form = RuleForm(request.POST)
    if form.is_valid():
        try:
            milestones.milestone_rule_create(
                campaign=campaign, kind=form.cleaned_data["kind"], parameters=form.parameters()
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Rule added.")
    else:
        messages.error(request, _errors(form))
    return redirect(reverse("campaign_detail", args=[campaign.pk]) + "#rules")


@require_POST
def rule_toggle(request: HttpRequest, campaign_id: int, rule_id: int) -> HttpResponse:
    campaign = _get_campaign_for_user(request, campaign_id, edit=True)
    rule = get_object_or_404(MilestoneRule, pk=rule_id, campaign=campaign)
    milestones.milestone_rule_set_active(rule=rule, active=not rule.active)
    return redirect(reverse("campaign_detail", args=[campaign.pk]) + "#rules")


def _count(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


def automation_new(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Create a label automation. The page shows how many contacts already carry the chosen label
    before anything is created; they are enrolled only if the creator ticks that, and only if the
    number is still the one shown."""
    campaign = _get_campaign_for_user(request, campaign_id, edit=True)
    if campaign.status == Campaign.Status.ARCHIVED:
        raise PermissionDenied("An archived campaign cannot get automations.")
    labels = list(Label.objects.order_by("name").values_list("name", flat=True))
    data = request.POST if request.method == "POST" else request.GET
    label = data.get("label", "").strip()
    if label and label not in labels:
        label = ""
    error = ""
    if request.method == "POST" and label:
        enroll_existing = data.get("existing") == "enroll"
        try:
            created = automations.label_automation_create(
                campaign=campaign,
                label_name=label,
                user=request.user,
                enroll_existing=enroll_existing,
                existing_count=_count(data.get("existing_count", "")) if enroll_existing else None,
            )
        except ApplicationError as exc:
            error = exc.message
        else:
            done = f"From now on, adding the label “{label}” to a contact enrolls them in {campaign.name}."
            if enroll_existing:
                done += f" {created.enrolled_existing} of the {created.existing} who already carry it enrolled now."
            messages.success(request, done)
            return redirect(reverse("campaign_detail", args=[campaign.pk]) + "#automations")
    existing = automations.label_automation_existing_count(campaign=campaign, label_name=label) if label else None
    context = {"campaign": campaign, "labels": labels, "label": label, "existing": existing, "error": error}
    return render(request, "campaigns/automation_new.html", context, status=409 if error else 200)


@require_POST
def automation_toggle(request: HttpRequest, campaign_id: int, automation_id: int) -> HttpResponse:
    campaign = _get_campaign_for_user(request, campaign_id, edit=True)
    automation = get_object_or_404(LabelAutomation, pk=automation_id, campaign=campaign)
    automations.label_automation_set_active(automation=automation, active=not automation.active)
    return redirect(reverse("campaign_detail", args=[campaign.pk]) + "#automations")


@view_campaigns
def enrollment_detail(request: HttpRequest, enrollment_id: int) -> HttpResponse:
    enrollment = _get_enrollment_for_user(request, enrollment_id)
    steps = selectors.enrollment_steps(enrollment=enrollment)
    position = {step.pk: step.position for step in steps}
    drafts = selectors.drafts_of_enrollments(enrollment_ids=[enrollment.pk])[enrollment.pk]
    context = {
        "enrollment": enrollment,
        "waiting": enrollments_waiting(enrollments=[enrollment]).get(enrollment.pk),
        "events": selectors.enrollment_history(enrollment=enrollment),
        "exit_checks": selectors.enrollment_exit_checks_pending(enrollment=enrollment),
        "drafts": [(draft, position.get(draft.step_ref or 0)) for draft in drafts],
        "steps": steps,
        "can_edit": request.user.has_perm("campaigns.change_enrollment"),
    }
    return render(request, "campaigns/enrollment_detail.html", context)


def recipient_sequences_panel(request: HttpRequest, recipient: Recipient) -> str:
    """The recipient page's "Sequences" section: each enrollment of this person and why it waits.
    The page has already checked that the user may see the recipient."""
    if not request.user.has_perm("campaigns.view_campaign"):
        return ""
    enrollments = selectors.recipient_enrollments(recipient=recipient, user=request.user)
    if not enrollments:
        return ""
    reasons = enrollments_waiting(enrollments=enrollments)
    rows = [(e, reasons.get(e.pk)) for e in enrollments]
    return render_to_string("campaigns/_recipient_sequences.html", {"rows": rows}, request=request)


@require_POST
def enrollment_cancel(request: HttpRequest, enrollment_id: int) -> HttpResponse:
    enrollment = _get_enrollment_for_user(request, enrollment_id)
    if not request.user.has_perm("campaigns.change_enrollment"):
        raise PermissionDenied
    try:
        services.enrollment_cancel(enrollment=enrollment, user=request.user, reason=request.POST.get("reason", ""))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Cancelled the sequence for {enrollment.recipient.email}.")
    return redirect("enrollment_detail", enrollment_id=enrollment.pk)


# --- Audit: why did, or didn't, this person get this email? (CSMs and admins) ------------------


def _require_audit_access(request: HttpRequest) -> None:
    # The audit shows every rep's drafts and decisions about a person, so reps may not open it.
    if not is_csm_or_admin(request.user):
        raise PermissionDenied("The audit is for CSMs and admins.")


@require_GET
def audit_index(request: HttpRequest) -> HttpResponse:
    """Find a recipient by email (or part of it) and open their audit."""
    _require_audit_access(request)
    query = request.GET.get("q", "").strip()
    found: list[Recipient] = []
    if query:
        visible = recipients_visible_to(request.user)
        exact = visible.filter(email=query.lower()).values_list("pk", flat=True).first()
        if exact is not None:
            return redirect("recipient_audit", recipient_id=exact)
        found = list(visible.filter(email__icontains=query).order_by("email")[:50])
    return render(request, "campaigns/audit_index.html", {"query": query, "found": found})


@require_GET
def recipient_audit_page(request: HttpRequest, recipient_id: int) -> HttpResponse:
    _require_audit_access(request)
    recipient = get_object_or_404(recipients_visible_to(request.user), pk=recipient_id)
    return render(request, "campaigns/recipient_audit.html", {"audit": recipient_audit(recipient=recipient)})


@permission_required("campaigns.view_campaign", raise_exception=True)
@require_GET
def campaign_rates(request: HtmxHttpRequest, campaign_id: int) -> HttpResponse:
    """The engagement rates chart: a fragment of the campaign page, or a page of its own."""
    campaign = get_object_or_404(selectors.campaigns_visible_to(request.user), pk=campaign_id)
    template = "campaigns/campaign_rates.html" + ("#rates" if request.htmx else "")
    context = {"campaign": campaign, "rates": engagement_rates_for_campaign(campaign_id=campaign.pk)}
    return render(request, template, context)
