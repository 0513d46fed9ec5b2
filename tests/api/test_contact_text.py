"""A contact sent to the API with bidi and zero-width characters is stored and answered clean;
names in other scripts come back exactly as sent."""

from __future__ import annotations

import pytest

from outreach.core.public_ids import encode as pid
from outreach.people.models import Label, Recipient

pytestmark = pytest.mark.django_db

HIDDEN = "\u202e\u200b"


@pytest.fixture
def csm_api(csm, api_client_for):
    return api_client_for(csm, "contacts:read", "contacts:write")


def test_a_name_with_bidi_and_zero_width_characters_comes_back_clean(csm_api):
    Label.objects.create(name="lead")
    response = csm_api.post_json(
        "/v1/contacts/",
        {
            "full_name": f"{HIDDEN}Avery{HIDDEN} Chen\u200b",
            "title": f"VP{HIDDEN} Sales",
            "emails": [{"address": "buyer@example.com"}],
            "labels": [f"le{HIDDEN}ad"],
            "facts": [f"Asked{HIDDEN} about SSO"],
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["full_name"], body["first_name"], body["last_name"]) == ("Avery Chen", "Avery", "Chen")
    assert body["labels"] == ["lead"]
    assert [f["text"] for f in body["facts"]] == ["Asked about SSO"]
    recipient = Recipient.objects.get()
    assert (recipient.first_name, recipient.last_name, recipient.title) == ("Avery", "Chen", "VP Sales")
    assert Label.objects.count() == 1
    detail = csm_api.get(f"/v1/contacts/{pid('ctc', recipient.pk)}/").json()
    assert detail["full_name"] == "Avery Chen"


@pytest.mark.parametrize("full_name", ["محمد عبد الله", "李 小龙", "Ann 👩🏽‍💻"])
def test_a_name_in_another_script_comes_back_unchanged(csm_api, full_name):
    response = csm_api.post_json("/v1/contacts/", {"full_name": full_name, "emails": [{"address": "a@b.example"}]})
    assert response.status_code == 201, response.json()
    assert response.json()["full_name"] == full_name
