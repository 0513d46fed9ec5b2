"""Test data builders (factory-boy). Shared by every test module."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from outreach.people.models import Account, Fact, Recipient, SenderProfile
from outreach.suppression.models import Suppression, SuppressionList

DEFAULT_PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@team.example")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        """UserFactory(role="rep"|"csm"|"admin") puts the user in that group (admins are staff)."""
        if extracted:
            self.groups.add(Group.objects.get(name=extracted))
            if extracted == "admin":
                self.is_staff = True
        if create:
            self.save()

    @factory.post_generation
    def sender(self, create, extracted, **kwargs):
        if create and extracted is not False:
            SenderProfile.objects.get_or_create(
                user=self,
                defaults={
                    "display_name": f"{self.first_name} {self.last_name}",
                    "email": self.email,
                    "title": "Account Executive",
                    "company": "Team Co",
                },
            )


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Account {n}")
    domain = factory.Sequence(lambda n: f"account{n}.example")
    plan = "Growth"
    state = Account.State.ACTIVE


class RecipientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Recipient

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    account = factory.SubFactory(AccountFactory)
    email = factory.Sequence(lambda n: f"person{n}@customer{n}.example")
    title = "Operations Manager"
    country = "US"


class FactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Fact

    recipient = factory.SubFactory(RecipientFactory)
    kind = Fact.Kind.USAGE
    text = "Logged in 14 times in October"
    source = "product analytics"
    observed_at = factory.LazyFunction(timezone.now)


class SuppressionListFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SuppressionList
        django_get_or_create = ("name",)

    name = "Global"
    is_global = True


class SuppressionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Suppression

    suppression_list = factory.SubFactory(SuppressionListFactory)
    kind = Suppression.Kind.ADDRESS
    value = factory.Sequence(lambda n: f"blocked{n}@example.com")
    reason = Suppression.Reason.MANUAL


# --- review (drafts) ----------------------------------------------------------------------------


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "campaigns.Campaign"

    name = factory.Sequence(lambda n: f"Campaign {n}")
    goal = "Book renewal conversations"
    key_message = "The forecasting module is included in your renewal"
    call_to_action = "Would a 20-minute call next week help?"
    trigger_description = "Renewal due soon"
    status = "active"


def draft_origin_for(campaign):
    """Review's record of a campaign, as campaigns hands it down with a draft request."""
    if campaign is None:
        return None
    from review.models import DraftOrigin

    origin, _ = DraftOrigin.objects.update_or_create(campaign_ref=campaign.pk, defaults={"name": campaign.name})
    return origin


def _campaign_brief(campaign) -> dict:
    if campaign is None:
        return {}
    from campaigns.services import campaign_brief

    return campaign_brief(campaign).as_dict()


def _campaign_rules(campaign) -> dict:
    from campaigns.services import campaign_send_rules

    return campaign_send_rules(campaign).as_dict()


def from_campaign(campaign, *, enrollment=None, step=None) -> dict:
    """What campaigns hands down with a draft request (origin, brief, rules), for tests that ask
    review for a campaign's draft directly: `draft_request(..., **from_campaign(campaign))`."""
    from campaigns.services import campaign_brief, campaign_send_rules
    from review.briefs import Origin

    return {
        "origin": Origin(
            campaign_ref=campaign.pk,
            campaign_name=campaign.name,
            enrollment_ref=enrollment.pk if enrollment else None,
            step_ref=step.pk if step else None,
        ),
        "brief": campaign_brief(campaign),
        "rules": campaign_send_rules(campaign),
    }


class _FromCampaign(factory.django.DjangoModelFactory):
    """`campaign=`, `enrollment=` and `step=` stand for what campaigns hands down with a request."""

    class Meta:
        abstract = True

    class Params:
        campaign = None
        enrollment = None
        step = None

    origin = factory.LazyAttribute(lambda d: draft_origin_for(d.campaign))
    enrollment_ref = factory.LazyAttribute(lambda d: d.enrollment.pk if d.enrollment else None)
    step_ref = factory.LazyAttribute(lambda d: d.step.pk if d.step else None)
    brief = factory.LazyAttribute(lambda d: _campaign_brief(d.campaign))
    send_rules = factory.LazyAttribute(lambda d: _campaign_rules(d.campaign))


class DraftFactory(_FromCampaign):
    """A ready draft with text and a grounding result, as the drafting task leaves it."""

    class Meta:
        model = "review.Draft"

    recipient = factory.SubFactory(RecipientFactory)
    sender = factory.SubFactory(UserFactory, role="rep")
    state = "ready"
    subject = "Your October usage"
    preview_text = "A short note"
    body_text = "Hi Liu,\n\nYou logged in 14 times in October.\n\nBest,\nRita"
    body_html = "<p>Hi Liu,</p><p>You logged in 14 times in October.</p><p>Best,<br>Rita</p>"
    grounding = factory.LazyFunction(
        lambda: [
            {"text": "14", "start": 23, "end": 25, "supported": True, "fact_ids": ["1"], "field": "body_text"},
            {"text": "October", "start": 35, "end": 42, "supported": False, "fact_ids": [], "field": "body_text"},
        ]
    )
    unsupported_claim_count = 1
    facts_snapshot = factory.LazyFunction(lambda: [{"id": "1", "kind": "usage", "text": "Logged in 14 times"}])
    cited_fact_ids = factory.LazyFunction(lambda: ["1"])
    provider = "offline"
    model_name = "offline-template-v1"
    ready_at = factory.LazyFunction(timezone.now)


class ApprovedDraftFactory(_FromCampaign):
    """A draft a reviewer approved, ready for outbound_message_from_draft (sending tests)."""

    class Meta:
        model = "review.Draft"

    recipient = factory.SubFactory(RecipientFactory)
    sender = factory.SubFactory(UserFactory, role="rep")
    state = "approved"
    subject = "Your October usage"
    body_text = "Hi there,\n\nYou logged in 14 times in October. Want a quick tour of reports?\n\nRita"
    body_html = factory.LazyAttribute(lambda d: "<p>" + d.body_text.replace("\n\n", "</p><p>") + "</p>")
    decided_at = factory.LazyFunction(timezone.now)


# --- Sent messages (engagement tests; others may reuse) -------------------------------------


class OutboundMessageFactory(factory.django.DjangoModelFactory):
    """A message as the outbox holds it after a successful send (state sent)."""

    class Meta:
        model = "outreach.OutboundMessage"

    # The draft it was approved from (a parameter: the message keeps only its id). No password on
    # the sender: hashing one per message would dominate the test time.
    recipient = factory.LazyAttribute(lambda m: m.draft.recipient)
    sender = factory.LazyAttribute(lambda m: m.draft.sender)
    draft_ref = factory.LazyAttribute(lambda m: m.draft.pk)
    campaign_ref = factory.LazyAttribute(lambda m: m.draft.campaign_ref)
    enrollment_ref = factory.LazyAttribute(lambda m: m.draft.enrollment_ref)
    step_ref = factory.LazyAttribute(lambda m: m.draft.step_ref)
    open_tracking = factory.LazyAttribute(lambda m: bool((m.draft.send_rules or {}).get("open_tracking")))
    approved_by = factory.LazyAttribute(lambda m: m.draft.sender)
    from_email = factory.LazyAttribute(lambda m: m.sender.email)
    reply_to = factory.LazyAttribute(lambda m: m.sender.email)
    to_email = factory.LazyAttribute(lambda m: m.recipient.email)
    subject = factory.LazyAttribute(lambda m: m.draft.subject)
    body_text = factory.LazyAttribute(lambda m: m.draft.body_text)
    body_html = factory.LazyAttribute(lambda m: m.draft.body_html)
    content_hash = "0" * 64
    message_id = factory.Sequence(lambda n: f"<msg{n}.test@team.example>")
    idempotency_key = factory.Sequence(lambda n: f"idem-{n:08d}")
    state = "sent"
    provider = "resend"
    provider_message_id = factory.Sequence(lambda n: f"re_{n:06d}")
    sent_at = factory.LazyFunction(timezone.now)

    class Params:
        campaign = None
        enrollment = None
        step = None
        draft = factory.SubFactory(
            DraftFactory,
            state="approved",
            sender=factory.SubFactory(UserFactory, role="rep", password=None),
            campaign=factory.SelfAttribute("..campaign"),
            enrollment=factory.SelfAttribute("..enrollment"),
            step=factory.SelfAttribute("..step"),
        )

    @factory.post_generation
    def link_draft(self, create, extracted, **kwargs):
        """The draft points down at its message, as approval leaves it."""
        if create:
            from review.models import Draft

            Draft.objects.filter(pk=self.draft_ref).update(outbound_message=self)


# --- edit analytics: decisions and edits ----------------------------------------------------------


class DraftDecisionFactory(factory.django.DjangoModelFactory):
    """DraftDecisionFactory(created_at=...) backdates the decision (auto_now_add ignores it otherwise)."""

    class Meta:
        model = "review.DraftDecision"

    draft = factory.SubFactory(DraftFactory)
    action = "approve"
    user = factory.LazyAttribute(lambda d: d.draft.sender)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        created_at = kwargs.pop("created_at", None)
        obj = super()._create(model_class, *args, **kwargs)
        if created_at is not None:
            model_class.objects.filter(pk=obj.pk).update(created_at=created_at)
            obj.created_at = created_at
        return obj


class DraftEditFactory(factory.django.DjangoModelFactory):
    """An edit with given figures (not computed): DraftEditFactory(normalized_similarity=0.8, created_at=...)."""

    class Meta:
        model = "review.DraftEdit"

    draft = factory.SubFactory(DraftFactory)
    editor = factory.LazyAttribute(lambda e: e.draft.sender)
    subject_before = factory.LazyAttribute(lambda e: e.draft.subject)
    subject_after = factory.LazyAttribute(lambda e: e.draft.subject)
    body_before = factory.LazyAttribute(lambda e: e.draft.body_text)
    body_after = factory.LazyAttribute(lambda e: e.draft.body_text + "\nThanks")
    char_distance = 7
    normalized_similarity = 0.9
    word_distance = 1
    changed_parts = factory.LazyFunction(lambda: ["body"])

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        created_at = kwargs.pop("created_at", None)
        obj = super()._create(model_class, *args, **kwargs)
        if created_at is not None:
            model_class.objects.filter(pk=obj.pk).update(created_at=created_at)
            obj.created_at = created_at
        return obj
