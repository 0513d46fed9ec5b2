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


class DraftFactory(factory.django.DjangoModelFactory):
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


class ApprovedDraftFactory(factory.django.DjangoModelFactory):
    """A draft a reviewer approved, ready for outbound_message_create (sending tests)."""

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

    # No password on the sender: hashing one per message would dominate the test time.
    draft = factory.SubFactory(
        DraftFactory, state="approved", sender=factory.SubFactory(UserFactory, role="rep", password=None)
    )
    recipient = factory.LazyAttribute(lambda m: m.draft.recipient)
    sender = factory.LazyAttribute(lambda m: m.draft.sender)
    campaign = factory.LazyAttribute(lambda m: m.draft.campaign)
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


# --- signals page: decisions and edits -----------------------------------------------------------


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
