"""Demo drafts for the review queue, in a demo campaign, made through the real services. Idempotent.

It lives in campaigns because it makes a campaign; the drafts go through review's request and
drafting services like any campaign's."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from campaigns.models import Campaign
from campaigns.services import campaign_draft_request
from outreach.core.errors import ApplicationError
from outreach.drafting import OfflineProvider
from outreach.people.models import Recipient
from review.models import Draft
from review.services import draft_generate

DEMO_CAMPAIGN = "Renewal check-in (demo)"
WANTED = 10


class Command(BaseCommand):
    help = "Give the demo rep (rita) about ten ready drafts to review, drafted by the offline provider."

    def add_arguments(self, parser):
        parser.add_argument("--user", default="rita")
        parser.add_argument("--count", type=int, default=WANTED)

    def handle(self, *args, user: str, count: int, **options):
        sender = get_user_model().objects.filter(username=user).first()
        if sender is None:
            self.stderr.write(f"No user {user!r}: run `manage.py seed_demo` first.")
            return
        campaign, _ = Campaign.objects.get_or_create(
            name=DEMO_CAMPAIGN,
            defaults={
                "goal": "Book a short renewal conversation before the contract renews",
                "key_message": "We would like to hear what is working for your team before your renewal",
                "call_to_action": "Would a 20-minute call next week suit you?",
                "trigger_description": "Renewal coming up",
                "status": "active",
                "created_by": sender,
            },
        )
        open_drafts = Draft.objects.filter(sender=sender, origin__campaign_ref=campaign.pk, state__in=Draft.OPEN_STATES)
        missing = max(0, count - open_drafts.count())
        made = 0
        drafted = Recipient.objects.filter(drafts__origin__campaign_ref=campaign.pk)
        for recipient in Recipient.objects.filter(owner=sender).exclude(pk__in=drafted).order_by("pk"):
            if made >= missing:
                break
            try:
                draft = campaign_draft_request(campaign=campaign, recipient=recipient, sender=sender)
            except ApplicationError:
                continue
            if draft is None:  # suppressed: a logged skip, no draft
                continue
            draft_generate(draft_id=draft.pk, provider=OfflineProvider())
            made += 1
        # Drafts left queued by an earlier run without a worker are drafted now.
        for pk in open_drafts.filter(state=Draft.State.QUEUED).values_list("pk", flat=True):
            draft_generate(draft_id=pk, provider=OfflineProvider())
        ready = open_drafts.filter(state=Draft.State.READY).count()
        self.stdout.write(self.style.SUCCESS(f"Review demo: {ready} ready drafts for {user} ({made} new)."))
