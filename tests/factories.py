"""Test data builders (factory-boy). Shared by every test module."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from outreach.models import Account, Fact, Recipient, SenderProfile, Suppression, SuppressionList

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
