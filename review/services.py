"""Writes on drafts: request, (the task fills them), decide."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from outreach.errors import ApplicationError
from outreach.models import Recipient
from outreach.selectors import suppression_check

from .models import Draft, DraftSkip


def _enqueue_generation(draft_id: int) -> None:
    from django_q.tasks import async_task

    async_task("review.tasks.draft_generate", draft_id, task_name=f"draft-{draft_id}", group="drafting")


@transaction.atomic
def draft_request(
    *,
    recipient: Recipient,
    sender,
    campaign=None,
    enrollment=None,
    step=None,
    reviewer=None,
    cc: list[str] | None = None,
    bcc: list[str] | None = None,
    suppression_list_ids: list[int] | None = None,
) -> Draft | None:
    """Ask for a draft. Checks suppression first: a suppressed recipient gets no draft, only a
    logged skip with the reason (returns None). Refuses a second open draft for the same
    recipient in the same campaign. The generation task is enqueued on commit."""
    if campaign is not None and not suppression_list_ids:
        suppression_list_ids = list(campaign.suppression_lists.values_list("pk", flat=True))
    hit = suppression_check(recipient=recipient, list_ids=suppression_list_ids)
    if hit is not None:
        DraftSkip.objects.create(
            recipient=recipient, campaign=campaign, enrollment=enrollment, code="suppressed", reason=hit.describe()
        )
        return None
    if (
        campaign is not None
        and Draft.objects.filter(recipient=recipient, campaign=campaign, state__in=Draft.OPEN_STATES).exists()
    ):
        raise ApplicationError(f"{recipient.email} already has an open draft in this campaign")
    draft = Draft(
        recipient=recipient,
        sender=sender,
        reviewer=reviewer,
        campaign=campaign,
        enrollment=enrollment,
        step=step,
        cc=cc or [],
        bcc=bcc or [],
    )
    try:
        with transaction.atomic():
            draft.save()
    except IntegrityError:
        # Two requests raced past the check above; the constraint keeps one.
        raise ApplicationError(f"{recipient.email} already has an open draft in this campaign") from None
    transaction.on_commit(lambda: _enqueue_generation(draft.pk))
    return draft
