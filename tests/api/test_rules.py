"""Campaign rules through the API: risk crossing and CSM handoff rules with public ids, in plain words."""

from __future__ import annotations

import pytest

from outreach.core.public_ids import encode
from tests.campaigns.conftest import make_campaign

pytestmark = pytest.mark.django_db


def test_rules_are_created_and_read_through_the_api(csm, api_client_for):
    campaign = make_campaign(created_by=csm)
    client = api_client_for(csm, "sequences:write")
    body = {"sequence_id": encode("seq", campaign.pk), "kind": "csm_handoff", "parameters": {"stage": "qualified"}}
    created = client.post_json("/v1/rules/", body)
    assert created.status_code == 201, created.json()
    assert created.json()["id"].startswith("rul_")
    shown = client.get(f"/v1/rules/{created.json()['id']}/").json()
    assert shown["description"].startswith("When the lifecycle stage reaches “qualified”")


def test_a_rule_with_a_bad_threshold_is_a_422_naming_the_parameters(csm, api_client_for):
    campaign = make_campaign(created_by=csm)
    client = api_client_for(csm, "sequences:write")
    body = {"sequence_id": encode("seq", campaign.pk), "kind": "risk_crossed", "parameters": {"threshold": "high"}}
    refused = client.post_json("/v1/rules/", body)
    assert (refused.status_code, refused.json()["field"]) == (422, "parameters")
