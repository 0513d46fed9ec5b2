"""CC and BCC on a campaign: validated on the form and in the API (team addresses are fine), copied
onto every draft and so onto every message, and a suppressed copy address dropped at send time with
a note on the message while the recipient still gets the email."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from campaigns import services
from campaigns.models import Campaign
from outreach.core.public_ids import encode as pid
from outreach.integrations.services.tokens import api_token_create
from outreach.mail.models import OutboundMessage
from outreach.mail.services.sending import outbound_message_send
from outreach.suppression.services import suppression_add
from review.models import Draft
from tests.factories import RecipientFactory, UserFactory

from .conftest import approve, make_campaign
from .test_views import campaign_payload


def test_the_form_saves_validated_copies_including_team_addresses(csm_client):
    response = csm_client.post(
        reverse("campaign_create"),
        campaign_payload(cc="Rita@Team.example, boss@customer.example; rita@team.example", bcc="crm@team.example"),
    )

    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert campaign.cc == ["rita@team.example", "boss@customer.example"]
    assert campaign.bcc == ["crm@team.example"]
    edit = csm_client.get(reverse("campaign_edit", args=[campaign.pk])).content.decode()
    assert 'value="rita@team.example, boss@customer.example"' in edit
    detail = csm_client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    assert "CC rita@team.example, boss@customer.example; BCC crm@team.example" in detail


def test_an_invalid_copy_address_is_refused_and_kept_as_typed(csm_client):
    response = csm_client.post(reverse("campaign_create"), campaign_payload(cc="boss@customer.example, not-an-address"))

    assert response.status_code == 200 and not Campaign.objects.exists()
    html = response.content.decode()
    assert "&#x27;not-an-address&#x27; is not a valid email address" in html
    assert 'value="boss@customer.example, not-an-address"' in html


def test_every_draft_carries_the_campaigns_copies_then_the_steps_own(csm):
    campaign = make_campaign(created_by=csm, cc=["boss@customer.example"], bcc=["crm@team.example"])
    step = campaign.steps.get(position=1)
    step.cc, step.bcc = ["legal@customer.example", "boss@customer.example"], ["boss@customer.example"]
    step.save()
    recipient = RecipientFactory(owner=csm, email="buyer@customer.example")
    services.enrollment_create(campaign=campaign, recipient=recipient)

    services.enrollment_advance_due()

    draft = Draft.objects.get(recipient=recipient)
    assert draft.cc == ["boss@customer.example", "legal@customer.example"]
    assert draft.bcc == ["crm@team.example"]  # CC wins over BCC: each address once


def test_the_recipient_is_never_copied_on_their_own_email(csm):
    campaign = make_campaign(created_by=csm, cc=["buyer@customer.example"], bcc=["BUYER@customer.example"])
    recipient = RecipientFactory(owner=csm, email="buyer@customer.example")
    services.enrollment_create(campaign=campaign, recipient=recipient)

    services.enrollment_advance_due()

    draft = Draft.objects.get(recipient=recipient)
    assert (draft.cc, draft.bcc) == ([], [])


def test_a_suppressed_campaign_copy_is_dropped_at_send_with_a_note(csm, mailoutbox, django_capture_on_commit_callbacks):
    campaign = make_campaign(created_by=csm, cc=["boss@customer.example"], bcc=["crm@team.example"])
    recipient = RecipientFactory(owner=csm, email="buyer@customer.example")
    services.enrollment_create(campaign=campaign, recipient=recipient)
    services.enrollment_advance_due()
    message = approve(Draft.objects.get(recipient=recipient), csm)
    assert (message.cc, message.bcc) == (["boss@customer.example"], ["crm@team.example"])
    suppression_add(kind="address", value="boss@customer.example", reason="unsubscribed")

    with django_capture_on_commit_callbacks(execute=True):
        outbound_message_send(message_id=message.pk)

    message.refresh_from_db()
    assert message.state == OutboundMessage.State.SENT
    assert (message.cc, message.bcc) == ([], ["crm@team.example"])
    assert "CC boss@customer.example dropped: Unsubscribed" in " ".join(row.note for row in message.log.all())
    assert len(mailoutbox) == 1 and mailoutbox[0].cc == [] and mailoutbox[0].bcc == ["crm@team.example"]


def _api(user, scopes=("sequences:write",)) -> Client:
    secret = api_token_create(user=user, name="t", scopes=list(scopes)).secret
    return Client(headers={"Authorization": f"Bearer {secret}"})


def test_the_sequences_api_takes_validated_copies_for_every_email(csm):
    body = {
        "name": "Proposal follow-up",
        "cc": ["Rita@team.example"],
        "bcc": ["crm@team.example"],
        "emails": [{"delay_days": 2, "subject": "Following up", "body": "Checking in.", "cc": ["legal@x.example"]}],
    }

    response = _api(csm).post("/v1/sequences/", body, content_type="application/json")

    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["cc"], data["bcc"]) == (["rita@team.example"], ["crm@team.example"])
    assert data["emails"][0]["cc"] == ["legal@x.example"]
    campaign = Campaign.objects.get(name="Proposal follow-up")
    assert data["id"] == pid("seq", campaign.pk) and campaign.cc == ["rita@team.example"]


def test_the_sequences_api_names_an_invalid_copy_address(csm):
    body = {"name": "Bad copies", "bcc": ["nope"], "emails": [{"subject": "Hi", "body": "Hello"}]}

    response = _api(csm).post("/v1/sequences/", body, content_type="application/json")

    assert response.status_code == 422
    assert "bcc" in str(response.json()) and not Campaign.objects.filter(name="Bad copies").exists()


def test_a_rep_cannot_see_copies_of_a_sequence_they_do_not_send_in(csm):
    make_campaign(created_by=csm, cc=["boss@customer.example"])
    rep = UserFactory(username="outsider", role="rep")
    response = _api(rep).get("/v1/sequences/")
    assert response.status_code == 200 and response.json()["items"] == []
