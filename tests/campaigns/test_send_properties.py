"""Properties set on the contact after a successful send, configured per campaign (name -> value
template such as `last_renewal_outreach = {{ send_date }}`): handed down with the approved email,
filled in only when the send succeeds, shown on the contact page and usable in target filters
("not contacted in the last 30 days")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns import selectors, services
from campaigns.display import target_filter_words
from campaigns.models import Campaign
from outreach.core.errors import ApplicationError
from outreach.integrations.services.tokens import api_token_create
from outreach.mail.models import OutboundMessage
from outreach.mail.send_properties import set_properties_clean, set_properties_render
from outreach.mail.services.sending import outbound_message_send
from outreach.suppression.services import suppression_add
from review.models import Draft
from tests.factories import RecipientFactory

from .conftest import approve, make_campaign
from .test_views import campaign_payload

RULE = {"last_renewal_outreach": "{{ send_date }}", "renewal_note": "Q3 renewals: {{ subject }}"}


def _approved(csm, *, email="buyer@customer.example", **campaign_fields) -> OutboundMessage:
    campaign = make_campaign(created_by=csm, set_properties=RULE, **campaign_fields)
    recipient = RecipientFactory(owner=csm, email=email, properties={"plan_note": "keep me"})
    services.enrollment_create(campaign=campaign, recipient=recipient)
    services.enrollment_advance_due()
    return approve(Draft.objects.get(recipient=recipient), csm)


def _send(message, capture) -> OutboundMessage:
    with capture(execute=True):
        outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    return message


# --- the rule itself --------------------------------------------------------------------------


def test_names_values_and_variables_are_checked():
    assert set_properties_clean({" last_renewal ": " {{send_date}} "}) == {"last_renewal": "{{send_date}}"}
    for bad, words in [
        ({"last outreach": "x"}, "a property name is a letter"),
        ({"emails": "x"}, "set by the system itself"),
        ({"last_outreach_at": "x"}, "set by the system itself"),
        ({"renewal": ""}, "needs a value"),
        ({"renewal": "{{ send_day }}"}, "unknown variable(s) send_day"),
        ({f"k{i}": "v" for i in range(11)}, "At most 10"),
    ]:
        with pytest.raises(ApplicationError, match=words.replace("(", r"\(").replace(")", r"\)")):
            set_properties_clean(bad)


def test_values_are_filled_in_with_the_send_as_plain_text():
    sent = datetime(2026, 12, 7, 20, 15, tzinfo=UTC)
    values = set_properties_render(
        {"last": "{{ send_date }}", "at": "{{send_time}}", "what": "{{ subject }} by {{ sender_email }} {{ x }}"},
        sent_at=sent,
        subject="Renewal {{ not_a_variable }}",
        sender_email="rita@team.example",
    )
    assert values == {
        "last": "2026-12-07",
        "at": "2026-12-07T20:15:00+00:00",
        "what": "Renewal {{ not_a_variable }} by rita@team.example ",
    }


# --- the form ---------------------------------------------------------------------------------


def test_the_form_takes_one_property_per_line(csm_client):
    text = "last_renewal_outreach = {{ send_date }}\n\nrenewal_note = Q3 renewals: {{ subject }}"
    response = csm_client.post(reverse("campaign_create"), campaign_payload(set_properties=text))

    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert campaign.set_properties == RULE
    edit = csm_client.get(reverse("campaign_edit", args=[campaign.pk])).content.decode()
    assert "last_renewal_outreach = {{ send_date }}\nrenewal_note = Q3 renewals: {{ subject }}</textarea>" in edit
    detail = csm_client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    assert "<code>last_renewal_outreach</code> = {{ send_date }}" in detail


def test_a_bad_line_is_refused_and_kept_as_typed(csm_client):
    response = csm_client.post(
        reverse("campaign_create"), campaign_payload(set_properties="last_renewal {{ send_date }}")
    )

    assert response.status_code == 200 and not Campaign.objects.exists()
    html = response.content.decode()
    assert "Line 1: write name = value" in html and "last_renewal {{ send_date }}</textarea>" in html


# --- after the send ---------------------------------------------------------------------------


def test_a_successful_send_sets_the_campaigns_properties_on_the_contact(csm, django_capture_on_commit_callbacks):
    message = _approved(csm)
    assert message.set_properties == RULE  # handed down at approval, like the send window

    message = _send(message, django_capture_on_commit_callbacks)

    assert message.state == OutboundMessage.State.SENT
    properties = message.recipient.__class__.objects.get(pk=message.recipient_id).properties
    assert properties["last_renewal_outreach"] == message.sent_at.date().isoformat()
    assert properties["renewal_note"] == f"Q3 renewals: {message.subject}"
    assert properties["plan_note"] == "keep me" and properties["last_outreach_message"] == message.pk


def test_the_email_keeps_the_rule_it_was_approved_with(csm, django_capture_on_commit_callbacks):
    message = _approved(csm)
    campaign = Campaign.objects.get(pk=message.campaign_ref)
    services.campaign_update(campaign=campaign, set_properties={"other": "{{ send_date }}"})

    message = _send(message, django_capture_on_commit_callbacks)

    properties = message.recipient.__class__.objects.get(pk=message.recipient_id).properties
    assert "last_renewal_outreach" in properties and "other" not in properties


def test_nothing_is_set_when_the_email_is_not_sent(csm, django_capture_on_commit_callbacks):
    message = _approved(csm)
    suppression_add(kind="address", value="buyer@customer.example", reason="unsubscribed")

    message = _send(message, django_capture_on_commit_callbacks)

    assert message.state == OutboundMessage.State.SKIPPED
    properties = message.recipient.__class__.objects.get(pk=message.recipient_id).properties
    assert properties == {"plan_note": "keep me"}


def test_the_contact_page_shows_the_properties_in_words(csm, csm_client, django_capture_on_commit_callbacks):
    message = _send(_approved(csm), django_capture_on_commit_callbacks)

    html = csm_client.get(reverse("recipient_detail", args=[message.recipient_id])).content.decode()

    assert f"<dt><code>last_renewal_outreach</code></dt><dd>{message.sent_at.date().isoformat()}</dd>" in html
    assert "{&#x27;" not in html


# --- target filters ---------------------------------------------------------------------------


def test_not_contacted_in_the_last_30_days_is_a_target_filter(csm):
    now = timezone.now()
    long_ago = RecipientFactory(
        email="old@x.example", properties={"last_outreach_at": (now - timedelta(days=40)).isoformat()}
    )
    lately = RecipientFactory(
        email="new@x.example", properties={"last_outreach_at": (now - timedelta(days=10)).isoformat()}
    )
    never = RecipientFactory(email="never@x.example", properties={})
    dated = RecipientFactory(
        email="date@x.example", properties={"last_outreach_at": (now - timedelta(days=31)).date().isoformat()}
    )
    target = {"property_key": "last_outreach_at", "property_older_than_days": 30}

    matched = set(selectors.recipients_matching(target_filter=target, now=now))

    assert matched == {long_ago, never, dated} and lately not in matched
    assert target_filter_words(target) == "custom property “last_outreach_at” is at least 30 days ago or not set"


def test_the_target_page_saves_the_age_filter(csm_client, csm):
    campaign = make_campaign(created_by=csm, status=Campaign.Status.DRAFT)
    data = {"target_mode": "filter", "property_key": "last_renewal_outreach", "property_older_than_days": "30"}

    response = csm_client.post(reverse("campaign_target", args=[campaign.pk]), data)

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.target_filter == {"property_key": "last_renewal_outreach", "property_older_than_days": 30}
    refused = csm_client.post(reverse("campaign_target", args=[campaign.pk]), {**data, "property_value": "x"})
    assert "Either an exact value or an age, not both." in refused.content.decode()


# --- the API ----------------------------------------------------------------------------------


def _api(user) -> Client:
    secret = api_token_create(user=user, name="t", scopes=["sequences:write"]).secret
    return Client(headers={"Authorization": f"Bearer {secret}"})


def test_the_sequences_api_takes_the_properties_to_set(csm):
    body = {"name": "Renewals", "set_properties": RULE, "emails": [{"subject": "Hi", "body": "Hello"}]}

    response = _api(csm).post("/v1/sequences/", body, content_type="application/json")

    assert response.status_code == 201, response.json()
    assert response.json()["set_properties"] == RULE
    assert Campaign.objects.get(name="Renewals").set_properties == RULE


def test_the_sequences_api_refuses_a_system_property(csm):
    body = {"name": "Bad", "set_properties": {"last_outreach_at": "x"}, "emails": [{"subject": "Hi", "body": "Yo"}]}

    response = _api(csm).post("/v1/sequences/", body, content_type="application/json")

    assert response.status_code == 422 and response.json()["field"] == "set_properties"
    assert not Campaign.objects.filter(name="Bad").exists()
