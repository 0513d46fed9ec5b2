"""Campaign settings in plain words, and no send window unless one was chosen."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from campaigns.display import send_window_words, target_filter_words
from campaigns.forms import CampaignForm
from campaigns.models import Campaign

from .conftest import make_campaign

pytestmark = pytest.mark.django_db


def test_send_windows_read_as_words():
    assert send_window_words({}) == "Any time: no send window was chosen."
    assert send_window_words({"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}) == (
        "Mon–Fri, 09:00–17:00 in each recipient's own time zone."
    )
    assert send_window_words({"days": [0, 2, 3, 4, 6], "start": "08:00", "end": "12:00"}).startswith(
        "Mon, Wed–Fri, Sun, 08:00–12:00"
    )


def test_target_filters_read_as_words():
    words = target_filter_words({"plan": "Growth", "title_contains": "manager", "fact_kind": "usage", "label": ""})
    assert (
        words == "account plan is Growth, and role or title contains “manager”, and has a fact of kind “Usage figure”"
    )
    assert target_filter_words({}) == "nobody chosen yet"


def test_the_form_ticks_no_send_window_for_you_and_saving_keeps_none():
    campaign = make_campaign(send_window={})
    form = CampaignForm(instance=campaign)
    assert form.initial["window_days"] == [] and form.initial["window_start"] == ""


def test_a_campaign_saved_without_a_window_has_none(csm_client, csm):
    from .test_views import campaign_payload

    payload = campaign_payload(window_days=[], window_start="", window_end="")
    csm_client.post(reverse("campaign_create"), payload)
    assert Campaign.objects.get().send_window == {}


def test_the_campaign_page_shows_filter_and_window_in_words(csm_client, csm):
    campaign = make_campaign(
        created_by=csm,
        target_filter={"plan": "Growth"},
        send_window={"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"},
    )
    html = re.sub(r"\s+", " ", csm_client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode())
    assert "Saved filter over recipients: account plan is Growth" in html
    assert "Send window: Mon–Fri, 09:00–17:00 in each recipient&#x27;s own time zone." in html
    assert "{&#x27;plan&#x27;" not in html and "days 0,1" not in html
