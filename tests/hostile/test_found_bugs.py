"""Bugs the hostile walk found, each pinned by a test of its own."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import CampaignFactory, DraftFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db


def test_a_rep_sees_the_rates_of_a_campaign_they_send_in(rep, rep_client):
    campaign = CampaignFactory()
    OutboundMessageFactory(draft=DraftFactory(sender=rep, campaign=campaign, state="approved"))
    assert rep_client.get(reverse("campaign_rates", args=[campaign.pk])).status_code == 200


def test_a_rep_gets_404_for_the_rates_of_someone_elses_campaign(other_rep, rep_client):
    campaign = CampaignFactory(name="Not yours", named_sender=other_rep)
    OutboundMessageFactory(draft=DraftFactory(sender=other_rep, campaign=campaign, state="approved"))
    assert rep_client.get(reverse("campaign_rates", args=[campaign.pk])).status_code == 404


def test_a_csm_sees_the_rates_of_every_campaign(csm_client, other_rep):
    campaign = CampaignFactory(named_sender=other_rep)
    assert csm_client.get(reverse("campaign_rates", args=[campaign.pk])).status_code == 200


def test_the_queue_filter_lists_only_campaigns_the_rep_has_drafts_in(rep, other_rep, rep_client):
    DraftFactory(sender=rep, campaign=CampaignFactory(name="Mine"))
    DraftFactory(sender=other_rep, campaign=CampaignFactory(name="Theirs"))
    page = rep_client.get(reverse("review_queue")).content.decode()
    assert ">Mine</option>" in page and "Theirs" not in page


@pytest.mark.parametrize("provider", ["brevo", "mailgun", "mailjet", "sparkpost"])
def test_webhooks_of_providers_we_do_not_configure_are_not_mounted(client, provider):
    # anymail's views for them answered every request with a 500 (provider not configured).
    assert client.post(f"/anymail/{provider}/tracking/", data="{}", content_type="application/json").status_code == 404


def test_webhooks_of_configured_providers_stay_mounted_and_refuse_a_forged_request(client, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook-user:hook-pass-123"}
    response = client.post("/anymail/postmark/tracking/", data="{}", content_type="application/json")
    assert response.status_code == 400
