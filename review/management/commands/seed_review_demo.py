"""Demo drafts for the review queue, made through the real services. Idempotent."""

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from outreach.core.errors import ApplicationError
from outreach.drafting import OfflineProvider
from outreach.people.models import Recipient
from review.models import Draft
from review.services import draft_generate, draft_request

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
        # The campaigns app is above review; look the model up instead of importing it.
        Campaign = apps.get_model("campaigns", "Campaign")
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
        open_drafts = Draft.objects.filter(sender=sender, campaign=campaign, state__in=Draft.OPEN_STATES)
        missing = max(0, count - open_drafts.count())
        made = 0
        for recipient in Recipient.objects.filter(owner=sender).exclude(drafts__campaign=campaign).order_by("pk"):
            if made >= missing:
                break
            try:
                draft = draft_request(recipient=recipient, sender=sender, campaign=campaign)
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
