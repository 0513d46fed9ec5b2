"""Preview a campaign's email for one sample recipient before launch: nothing is stored or sent."""

from __future__ import annotations

from dataclasses import dataclass, replace

from outreach.drafting import DraftingError, compose
from outreach.people.models import Recipient
from outreach.suppression.selectors import suppression_check
from review.providers import configured_provider
from review.services import compose_request

from .models import Campaign, Enrollment, SequenceStep
from .services import _pick_sender, campaign_brief, step_render


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
    # The engine's input exactly as the drafting task would build it from the scan's request.
    request = compose_request(
        recipient=recipient, sender=sender, brief=replace(campaign_brief(campaign), step_prompt=step.prompt.strip())
    )
    try:
        result = compose(request, configured_provider())
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
