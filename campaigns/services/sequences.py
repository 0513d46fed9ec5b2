"""Sequences as the REST API shapes them: a sequence is a Campaign (trigger=api) with its steps,
and enrollments arrive by template, ad hoc, or from an outside automation."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from campaigns import services
from campaigns.models import Campaign, Enrollment, SequenceStep
from campaigns.services import automations
from outreach.core.errors import ApplicationError
from outreach.mail.send_properties import set_properties_clean
from outreach.people.models import Recipient
from review import services as review_services


def _clean_steps(emails: list[dict]) -> list[dict]:
    if not emails:
        raise ApplicationError("Give at least one email.", extra={"field": "emails", "status": 422})
    cleaned = []
    for index, spec in enumerate(emails):
        body, prompt = (spec.get("body") or "").strip(), (spec.get("prompt") or "").strip()
        if bool(body) == bool(prompt):
            raise ApplicationError(
                "Each email has either a body (fixed text) or a prompt (for the drafting engine).",
                extra={"field": f"emails.{index}", "status": 422},
            )
        unknown = services.template_unknown_variables(" ".join([spec.get("subject") or "", body]))
        if unknown:
            raise ApplicationError(
                f"Unknown template variables: {', '.join(unknown)}.",
                extra={"field": f"emails.{index}", "status": 422},
            )
        cleaned.append(
            {
                "delay_days": int(spec.get("delay_days") or 0),
                "subject": spec.get("subject") or "",
                "body": body,
                "prompt": prompt,
                **_copies(spec, index),
            }
        )
    return cleaned


def _copies(spec: dict, index: int | None) -> dict[str, list[str]]:
    """A step's (or, index None, the whole sequence's) CC and BCC, validated: team addresses are
    fine; suppressed ones are dropped at send."""
    out: dict[str, list[str]] = {}
    for name in ("cc", "bcc"):
        try:
            out[name] = review_services.clean_addresses(list(spec.get(name) or []))
        except ApplicationError as exc:
            field = name if index is None else f"emails.{index}.{name}"
            raise ApplicationError(exc.message, extra={"field": field, "status": 422}) from exc
    return out


@transaction.atomic
def sequence_create(
    *,
    user,
    name: str,
    sender,
    emails: list[dict],
    exit_on_reply: bool = True,
    pause_on_out_of_office: bool = False,
    exit_condition_prompt: str = "",
    entry_prompt: str = "",
    cc: list[str] | None = None,
    bcc: list[str] | None = None,
    set_properties: dict[str, str] | None = None,
) -> Campaign:
    """A running campaign named by the API client, sent by one named team member."""
    steps = _clean_steps(emails)
    copies = _copies({"cc": cc, "bcc": bcc}, None)
    try:
        properties = set_properties_clean(set_properties)
    except ApplicationError as exc:
        raise ApplicationError(exc.message, extra={"field": "set_properties", "status": 422}) from exc
    try:
        campaign = services.campaign_create(
            created_by=user,
            name=name.strip(),
            trigger=Campaign.Trigger.API,
            trigger_description="Enrolled through the API",
            # A named inbox sends every enrollment; without one each enrollment chooses (its inbox_id,
            # else the contact's owner).
            sender_mode=Campaign.SenderMode.NAMED if sender is not None else Campaign.SenderMode.OWNER,
            named_sender=sender,
            exit_on_reply=exit_on_reply,
            pause_on_out_of_office=pause_on_out_of_office,
            exit_condition_prompt=exit_condition_prompt.strip(),
            entry_prompt=entry_prompt.strip(),
            status=Campaign.Status.ACTIVE,
            set_properties=properties,
            **copies,
        )
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ApplicationError("; ".join(messages), extra={"field": field, "status": 422}) from exc
    for position, spec in enumerate(steps, start=1):
        step = SequenceStep(campaign=campaign, position=position, **spec)
        step.full_clean(exclude=["enrollment"])
        step.save()
    return campaign


@transaction.atomic
def enrollment_create_from_api(
    *,
    user,
    recipient: Recipient,
    campaign: Campaign | None,
    emails: list[dict] | None = None,
    exit_on_reply: bool | None = None,
    sender=None,
    source: dict | None = None,
    occurrence_key: str = "",
    automation: str = "",
) -> Enrollment:
    """Template (a sequence), ad hoc (steps for this one recipient) or triggered (an outside
    automation, once per occurrence key). Sequences create drafts, never messages."""
    return enrollment_enroll_from_api(
        user=user,
        recipient=recipient,
        campaign=campaign,
        emails=emails,
        exit_on_reply=exit_on_reply,
        sender=sender,
        source=source,
        occurrence_key=occurrence_key,
        automation=automation,
    )[0]


@transaction.atomic
def enrollment_enroll_from_api(
    *,
    user,
    recipient: Recipient,
    campaign: Campaign | None,
    emails: list[dict] | None = None,
    exit_on_reply: bool | None = None,
    sender=None,
    source: dict | None = None,
    occurrence_key: str = "",
    automation: str = "",
) -> tuple[Enrollment, bool]:
    """As enrollment_create_from_api, returning (enrollment, created). A sequence enrollment of a
    contact who carries the label of one of the sequence's label automations is that automation's
    enrollment (the documented "automation-triggered" body): recorded as triggered by it, with the
    label event, and when the automation already enrolled the contact for that event, the existing
    enrollment is returned (created False) instead of a second one."""
    source = dict(source or {})
    if campaign is not None and not emails and not (automation or occurrence_key):
        found = automations.automation_for_enrollment(campaign=campaign, recipient=recipient)
        if found is not None:
            rule, event = found
            key = automations.automation_occurrence(rule, event)
            existing = (
                Enrollment.objects.select_for_update()
                .filter(campaign=campaign, recipient=recipient, occurrence_key=key)
                .first()
                if key
                else None
            )
            if existing is not None:
                given = {k: v for k, v in source.items() if k not in existing.source}
                if given:
                    existing.source = {**existing.source, **given}
                    existing.save(update_fields=["source", "updated_at"])
                services.record_event(
                    existing,
                    kind="automation_call",
                    reason=f"the automation-triggered call found the enrollment automation #{rule.pk} made",
                    data={"source": given},
                    actor=user,
                )
                return existing, False
            source = {**automations.automation_source(rule, event), **source}
            source["why"] = automations.automation_source(rule, event)["why"]
            enrollment = services.enrollment_create(
                recipient=recipient,
                campaign=campaign,
                kind=Enrollment.Kind.TRIGGERED,
                sender=sender or rule.sender,
                user=user,
                source=source,
                occurrence_key=key,
            )
            wanted = exit_on_reply if exit_on_reply is not None else rule.exit_on_reply
            if wanted is not None and enrollment.exit_on_reply != wanted:
                enrollment.exit_on_reply = wanted
                enrollment.save(update_fields=["exit_on_reply", "updated_at"])
            return enrollment, True
    if emails:
        kind = Enrollment.Kind.AD_HOC
        source.setdefault("why", "enrolled ad hoc through the API")
    elif automation or occurrence_key:
        kind = Enrollment.Kind.TRIGGERED
        source.setdefault("why", f"triggered by {automation or 'an automation'} through the API")
    else:
        kind = Enrollment.Kind.TEMPLATE
        source.setdefault("why", "enrolled through the API")
    if kind != Enrollment.Kind.AD_HOC and campaign is None:
        raise ApplicationError(
            "Name a sequence_id, or give the emails inline.", extra={"field": "sequence_id", "status": 422}
        )
    if kind == Enrollment.Kind.AD_HOC and campaign is None and sender is None:
        sender = recipient.owner or user
        if getattr(sender, "sender", None) is None:
            raise ApplicationError(
                "Name a sender_inbox_id: nobody with a sending identity owns this contact.",
                extra={"field": "sender_inbox_id", "status": 422},
            )
    enrollment = services.enrollment_create(
        recipient=recipient,
        campaign=campaign,
        kind=kind,
        steps=_clean_steps(emails) if emails else None,
        sender=sender,
        user=user,
        source=source,
        occurrence_key=occurrence_key,
    )
    if exit_on_reply is not None and enrollment.exit_on_reply != exit_on_reply:
        enrollment.exit_on_reply = exit_on_reply
        enrollment.save(update_fields=["exit_on_reply", "updated_at"])
    return enrollment, True
