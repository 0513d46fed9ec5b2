"""Preview a campaign's email for one sample recipient before launch: nothing is stored or sent."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from outreach.drafting import DraftingError, DraftRequest, Intent, Persona, compose
from outreach.people.models import Recipient
from outreach.suppression.selectors import suppression_check

from .models import Campaign, Enrollment, SequenceStep
from .services import _pick_sender, step_render


@dataclass(frozen=True)
class Preview:
    subject: str
    body_text: str
    body_html: str
    sender: str
    source: str  # "template" or the provider/model that wrote it
    unsupported: int = 0
    error: str = ""
    warning: str = ""


def recipient_facts(recipient: Recipient) -> list[dict]:
    """The recipient's facts as the engine takes them, with who they are first."""
    basics = [
        ("first_name", recipient.first_name),
        ("last_name", recipient.last_name),
        ("title", recipient.title),
        ("company", recipient.account.name if recipient.account else ""),
    ]
    facts = [{"id": f"recipient:{k}", "kind": k, "text": v, "value": v} for k, v in basics if v]
    return facts + [f.as_dict() for f in recipient.facts.all()[:50]]


def persona_for(*, campaign: Campaign, sender) -> Persona:
    profile = getattr(sender, "sender", None)
    if profile is None:
        return Persona(name=sender.get_full_name() or sender.username)
    return Persona(
        name=profile.display_name,
        role=campaign.persona_role or profile.persona_role or profile.title,
        company=profile.company,
        tone=campaign.persona_tone or profile.persona_tone,
        signature=profile.signature,
    )


def campaign_preview_draft(*, campaign: Campaign, recipient: Recipient, step: SequenceStep | None = None) -> Preview:
    """What the first (or given) step would say to this recipient, written the way the scan would:
    a fixed step rendered, a prompt step composed by the configured drafting provider."""
    step = step or campaign.steps.filter(enrollment__isnull=True).order_by("position").first()
    if step is None:
        return Preview("", "", "", "", "", error="Add a sequence step first.")
    # An unsaved enrollment only to pick the sender the scan would pick; never saved.
    sender = _pick_sender(Enrollment(campaign=campaign, recipient=recipient))
    if sender is None:
        return Preview(
            "", "", "", "", "", error="No sender: this recipient has no owner and the campaign names nobody."
        )
    profile = getattr(sender, "sender", None)
    sender_name = f"{profile.display_name} <{profile.email}>" if profile else str(sender)
    hit = suppression_check(recipient=recipient, list_ids=list(campaign.suppression_lists.values_list("pk", flat=True)))
    warning = f"This recipient is suppressed ({hit.describe()}): the scan would skip them." if hit else ""
    if step.body.strip() or not step.prompt.strip():
        subject, body_text, body_html = step_render(step=step, recipient=recipient, sender=sender)
        return Preview(subject, body_text, body_html, sender_name, "fixed template", warning=warning)
    # The same shape the drafting task builds: the step's prompt joins the campaign goal.
    goal = f"{campaign.goal}\nThis email: {step.prompt.strip()}" if campaign.goal else step.prompt.strip()
    request = DraftRequest(
        intent=Intent(
            goal=goal,
            key_message=campaign.key_message,
            call_to_action=campaign.call_to_action,
            trigger_reason=campaign.trigger_description,
        ),
        persona=persona_for(campaign=campaign, sender=sender),
        facts=recipient_facts(recipient),
        today=timezone.localdate(),
    )
    try:
        result = compose(request)
    except DraftingError as exc:
        return Preview("", "", "", sender_name, "", error=f"The drafting engine failed: {exc.reason}")
    return Preview(
        result.subject,
        result.body_text,
        result.body_html,
        sender_name,
        f"{result.provider} · {result.model}",
        unsupported=result.unsupported_count,
        warning=warning,
    )
