# Copy what review and the outbox knew through foreign keys into campaigns into the plain values
# they keep now (see outreach.0006 and review.0003): every row survives, and each draft and message
# keeps the campaign rules it had. Campaigns holds this migration because only it knows all three.

from django.db import migrations

BATCH = 2000


def _rules(campaign) -> dict:
    if campaign is None:
        return {"send_window": {}, "suppression_list_ids": [], "open_tracking": False, "complete_on_send_failure": False}
    return {
        "send_window": dict(campaign.send_window or {}),
        "suppression_list_ids": sorted(lst.pk for lst in campaign.suppression_lists.all()),
        "open_tracking": campaign.open_tracking,
        "complete_on_send_failure": campaign.complete_on_send_failure,
    }


def _source_message(source):
    if not isinstance(source, dict):
        return None
    text = source.get("body_text") or source.get("text") or source.get("body") or ""
    if not (text or source.get("subject")):
        return None
    return {
        "direction": "outbound" if source.get("direction") == "outbound" else "inbound",
        "subject": str(source.get("subject") or ""),
        "body_text": str(text),
        "sent_at": str(source.get("sent_at") or source.get("occurred_at") or ""),
    }


def _brief(campaign, step, source) -> dict:
    brief = {}
    if campaign is not None:
        brief = {
            "campaign": campaign.name,
            "goal": campaign.goal,
            "key_message": campaign.key_message,
            "call_to_action": campaign.call_to_action,
            "why_now": campaign.trigger_description,
            "persona_tone": campaign.persona_tone,
            "persona_role": campaign.persona_role,
        }
    if step is not None:
        brief["step_prompt"] = (step.prompt or "").strip()
    message = _source_message(source)
    if message is not None:
        brief["source_message"] = message
    return {key: value for key, value in brief.items() if value not in ("", None)}


def _batched(queryset):
    batch = []
    for row in queryset.iterator(chunk_size=BATCH):
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def forward(apps, schema_editor):
    Campaign = apps.get_model("campaigns", "Campaign")
    Enrollment = apps.get_model("campaigns", "Enrollment")
    SequenceStep = apps.get_model("campaigns", "SequenceStep")
    Draft = apps.get_model("review", "Draft")
    DraftSkip = apps.get_model("review", "DraftSkip")
    DraftOrigin = apps.get_model("review", "DraftOrigin")
    OutboundMessage = apps.get_model("outreach", "OutboundMessage")

    campaigns = {c.pk: c for c in Campaign.objects.prefetch_related("suppression_lists")}
    origins: dict[int, object] = {}

    def origin_for(campaign_id):
        if campaign_id is None:
            return None
        if campaign_id not in origins:
            campaign = campaigns.get(campaign_id)
            origins[campaign_id], _ = DraftOrigin.objects.get_or_create(
                campaign_ref=campaign_id, defaults={"name": campaign.name if campaign else f"Campaign {campaign_id}"}
            )
        return origins[campaign_id]

    message_of_draft = dict(OutboundMessage.objects.values_list("draft_id", "pk"))
    for drafts in _batched(Draft.objects.order_by("pk")):
        step_ids = {d.step_id for d in drafts if d.step_id}
        steps = {s.pk: s for s in SequenceStep.objects.filter(pk__in=step_ids)}
        enrollment_ids = {d.enrollment_id for d in drafts if d.enrollment_id}
        sources = dict(Enrollment.objects.filter(pk__in=enrollment_ids).values_list("pk", "source"))
        for draft in drafts:
            campaign = campaigns.get(draft.campaign_id)
            draft.origin = origin_for(draft.campaign_id)
            draft.enrollment_ref = draft.enrollment_id
            draft.step_ref = draft.step_id
            draft.brief = _brief(campaign, steps.get(draft.step_id), sources.get(draft.enrollment_id))
            draft.send_rules = _rules(campaign)
            draft.outbound_message_id = message_of_draft.get(draft.pk)
        Draft.objects.bulk_update(
            drafts, ["origin", "enrollment_ref", "step_ref", "brief", "send_rules", "outbound_message"]
        )

    for skips in _batched(DraftSkip.objects.order_by("pk")):
        for skip in skips:
            skip.origin = origin_for(skip.campaign_id)
            skip.enrollment_ref = skip.enrollment_id
        DraftSkip.objects.bulk_update(skips, ["origin", "enrollment_ref"])

    fields = [
        "draft_ref",
        "campaign_ref",
        "enrollment_ref",
        "step_ref",
        "send_window",
        "suppression_list_ids",
        "open_tracking",
        "complete_on_send_failure",
    ]
    for messages in _batched(OutboundMessage.objects.order_by("pk")):
        for message in messages:
            message.draft_ref = message.draft_id
            message.campaign_ref = message.campaign_id
            message.enrollment_ref = message.enrollment_id
            message.step_ref = message.step_id
            for name, value in _rules(campaigns.get(message.campaign_id)).items():
                setattr(message, name, value)
        OutboundMessage.objects.bulk_update(messages, fields)


def backward(apps, schema_editor):
    """The plain values back into foreign keys, where the rows they name still exist."""
    Campaign = apps.get_model("campaigns", "Campaign")
    Enrollment = apps.get_model("campaigns", "Enrollment")
    SequenceStep = apps.get_model("campaigns", "SequenceStep")
    Draft = apps.get_model("review", "Draft")
    DraftSkip = apps.get_model("review", "DraftSkip")
    OutboundMessage = apps.get_model("outreach", "OutboundMessage")
    campaign_ids = set(Campaign.objects.values_list("pk", flat=True))
    enrollment_ids = set(Enrollment.objects.values_list("pk", flat=True))
    step_ids = set(SequenceStep.objects.values_list("pk", flat=True))
    draft_ids = set(Draft.objects.values_list("pk", flat=True))

    def known(value, ids):
        return value if value in ids else None

    for drafts in _batched(Draft.objects.select_related("origin").order_by("pk")):
        for draft in drafts:
            draft.campaign_id = known(draft.origin.campaign_ref if draft.origin else None, campaign_ids)
            draft.enrollment_id = known(draft.enrollment_ref, enrollment_ids)
            draft.step_id = known(draft.step_ref, step_ids)
        Draft.objects.bulk_update(drafts, ["campaign", "enrollment", "step"])
    for skips in _batched(DraftSkip.objects.select_related("origin").order_by("pk")):
        for skip in skips:
            skip.campaign_id = known(skip.origin.campaign_ref if skip.origin else None, campaign_ids)
            skip.enrollment_id = known(skip.enrollment_ref, enrollment_ids)
        DraftSkip.objects.bulk_update(skips, ["campaign", "enrollment"])
    for messages in _batched(OutboundMessage.objects.order_by("pk")):
        for message in messages:
            message.draft_id = known(message.draft_ref, draft_ids)
            message.campaign_id = known(message.campaign_ref, campaign_ids)
            message.enrollment_id = known(message.enrollment_ref, enrollment_ids)
            message.step_id = known(message.step_ref, step_ids)
        OutboundMessage.objects.bulk_update(messages, ["draft", "campaign", "enrollment", "step"])


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0003_enrollment_history_rules_sender"),
        ("outreach", "0006_outbound_message_plain_refs_and_rules"),
        ("review", "0003_draft_origin_refs_brief"),
    ]

    operations = [migrations.RunPython(forward, backward)]
