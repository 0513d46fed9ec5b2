"""The access walks' shared ground: every URL pattern of the project, and the victim's world —
one object of every kind, owned by someone else, each carrying SECRET in its visible text."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.http import QueryDict
from django.urls import URLPattern, URLResolver, get_resolver

from campaigns.models import Enrollment, EnrollmentEvent, LabelAutomation, MilestoneRule, SequenceStep
from outreach.integrations.models import ApiToken, EmittedEvent, WebhookDelivery
from outreach.integrations.services.tokens import api_token_create
from outreach.integrations.services.webhooks import webhook_subscription_create
from outreach.mail.models import EngagementEvent, LocalMailboxMessage, MailboxConnection, SendingDomain, SendingPause
from outreach.people.models import ImportJob, Label
from tests.factories import (
    CampaignFactory,
    DraftEditFactory,
    DraftFactory,
    OutboundMessageFactory,
    RecipientFactory,
    SuppressionFactory,
)

SECRET = "victim-secret-7f3a"  # in every victim object's visible text; must never reach the rep


@dataclass(frozen=True)
class Route:
    route: str  # "review/drafts/<int:draft_id>/"
    name: str
    pattern: URLPattern


def _walk(patterns, prefix: str = "") -> Iterator[Route]:
    for p in patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, route)
        else:
            yield Route(route, p.name or "", p)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns))


@pytest.fixture
def victim_world(db, other_rep, csm):
    recipient = RecipientFactory(owner=other_rep, email=f"{SECRET}@victim.example", last_name=SECRET)
    campaign = CampaignFactory(name=f"Campaign {SECRET}", created_by=csm, named_sender=other_rep)
    step = SequenceStep.objects.create(campaign=campaign, position=0, subject=SECRET, body=f"Hi {SECRET}")
    rule = MilestoneRule.objects.create(
        campaign=campaign, kind=MilestoneRule.Kind.STAGE_CHANGED, parameters={"stage": "x"}
    )
    automation = LabelAutomation.objects.create(campaign=campaign, label=Label.objects.create(name=SECRET))
    draft = DraftFactory(sender=other_rep, recipient=recipient, campaign=campaign, subject=SECRET)
    message = OutboundMessageFactory(
        draft=DraftFactory(sender=other_rep, recipient=recipient, campaign=campaign, state="approved", subject=SECRET),
        subject=SECRET,
    )
    enrollment = Enrollment.objects.create(campaign=campaign, recipient=recipient, sender=other_rep)
    EnrollmentEvent.objects.create(enrollment=enrollment, kind="enrolled", to_state="active", reason=SECRET)
    edit = DraftEditFactory(draft=DraftFactory(sender=other_rep, recipient=recipient, state="approved"))
    reply = EngagementEvent.objects.create(
        message=message, recipient=recipient, kind="replied", occurred_at=message.sent_at, reply_text=SECRET,
        reply_class="unsubscribe_request",  # so "confirm removal" would act, were the rep let through
    )  # fmt: skip
    mail = LocalMailboxMessage.objects.create(
        from_email=other_rep.email, sender_address=other_rep.email, to=[recipient.email], subject=SECRET
    )
    job = ImportJob.objects.create(created_by=csm, original_name=f"{SECRET}.csv", file="imports/x.csv")
    entry = SuppressionFactory(value=f"{SECRET}.example", kind="domain")
    token = api_token_create(user=other_rep, name=SECRET, scopes=list(ApiToken.Scope.values)).token
    subscription = webhook_subscription_create(
        url="https://hooks.victim.example/in", event_types=["engagement_signal"], created_by=csm, description=SECRET
    )
    event = EmittedEvent.objects.create(
        public_id="evt_victim", type=EmittedEvent.Type.ENGAGEMENT, payload={"s": SECRET}, recipient=recipient,
        sender=other_rep,
    )  # fmt: skip
    delivery = WebhookDelivery.objects.create(subscription=subscription, event=event)
    pause = SendingPause.objects.create(
        scope=SendingPause.Scope.SENDER, sender=other_rep, cause=SendingPause.Cause.BOUNCES, events=9, sends=100,
        threshold=0.05, reason=SECRET,
    )  # fmt: skip
    domain = SendingDomain.objects.create(domain=f"{SECRET}.example", result={"spf": {"summary": SECRET}})
    mailbox = MailboxConnection.objects.create(
        user=other_rep, email_address=f"{SECRET}@victim.example", state="needs_reauth", state_reason=SECRET
    )
    return {
        "recipient_id": recipient.pk,
        "draft_id": draft.pk,
        "message_id": message.pk,
        "campaign_id": campaign.pk,
        "step_id": step.pk,
        "rule_id": rule.pk,
        "automation_id": automation.pk,
        "enrollment_id": enrollment.pk,
        "edit_id": edit.pk,
        "mail_id": mail.pk,
        "job_id": job.pk,
        "entry_id": entry.pk,
        "token_id": token.pk,
        "subscription_id": subscription.pk,
        "delivery_id": delivery.pk,
        "pause_id": pause.pk,
        "domain_id": domain.pk,
        "mailbox_id": mailbox.pk,
        "thread_id": message.pk,
        "inbox_id": other_rep.sender.pk,
        "reply_id": reply.pk,
        # the API's names
        "contact_id": recipient.pk,
        "sequence_id": campaign.pk,
        # str parameters
        "token": "eyJyIjoxfQ:tampered-signature",
        "action": "pause",
        "provider": "google",
    }


def url_for(route: Route, ids: dict) -> str:
    """Fill each path parameter with the victim's object of that kind (never a guess)."""
    url = "/" + route.route

    def fill(match: re.Match) -> str:
        name = match.group(2)
        assert name in ids, f"{route.route}: no victim object for <{name}>: add one to victim_world"
        return str(ids[name])

    url = re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: fill(m) if m.group(2) else m.group(0), url)
    return url.replace("^", "").replace("$", "")


EVERY_KEY = "*"  # what query_keys_read() records when a view goes through the whole query string


@contextlib.contextmanager
def query_keys_read() -> Iterator[set[str]]:
    """The query-string keys that views ask for while inside: by name (`get`, `[]`, `getlist`, `in`),
    or EVERY_KEY when one iterates the query string (`items()`, `copy()`, a loop...)."""
    keys: set[str] = set()
    by_name = ("__getitem__", "get", "getlist", "__contains__")
    whole = ("__iter__", "keys", "items", "lists", "values", "dict")
    saved = {name: QueryDict.__dict__.get(name) for name in by_name + whole}

    def recording(name: str):
        original = getattr(QueryDict, name)

        def record(self, *args, **kwargs):
            keys.add(str(args[0]) if name in by_name and args else EVERY_KEY)
            return original(self, *args, **kwargs)

        return record

    for name in saved:
        setattr(QueryDict, name, recording(name))
    try:
        yield keys
    finally:
        for name, method in saved.items():
            if method is None:
                delattr(QueryDict, name)
            else:
                setattr(QueryDict, name, method)
