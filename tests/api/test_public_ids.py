"""Public ids: every id the API shows or accepts is an opaque prefixed string (`ctc_…`,
`seq_…`), the same for a row every time, telling nothing about row counts, and refused when it is
a number, another kind's id or made up."""

from __future__ import annotations

import re

import pytest

from outreach.core import public_ids
from tests.factories import RecipientFactory

pytestmark = pytest.mark.django_db

ID = re.compile(r"^ctc_[a-z2-7]{26}$")


def test_a_contact_is_shown_by_an_opaque_prefixed_id_that_stays_the_same(rep, api_client_for):
    first, second = RecipientFactory(owner=rep), RecipientFactory(owner=rep)
    api = api_client_for(rep, "contacts:read")
    ids = [c["id"] for c in api.get("/v1/contacts/").json()["items"]]
    assert all(ID.match(i) for i in ids), ids
    # Neither row number can be read from its id: both are the same length, neither contains it.
    assert {len(i) for i in ids} == {30}
    assert {ids[0], ids[1]} == {public_ids.encode("ctc", first.pk), public_ids.encode("ctc", second.pk)}
    assert not any(str(pk) in i[4:] for pk in (first.pk, second.pk) for i in ids if pk > 9)
    assert [c["id"] for c in api.get("/v1/contacts/").json()["items"]] == ids
    assert api.get(f"/v1/contacts/{ids[0]}/").json()["id"] == ids[0]


@pytest.mark.parametrize(
    "given",
    [
        "1",  # a row number
        "seq_" + "a" * 26,  # another kind's shape
        "ctc_" + "a" * 26,  # the right shape, made up
        "ctc_short",
    ],
)
def test_an_id_that_is_not_one_of_ours_is_a_422_naming_the_field(given, rep, api_client_for):
    RecipientFactory(owner=rep)
    response = api_client_for(rep, "contacts:read").get(f"/v1/contacts/{given}/")
    assert response.status_code == 422
    assert response.json()["field"] == "contact_id"
    assert "ctc_" in response.json()["detail"]


def test_a_sequence_id_is_not_accepted_where_a_contact_id_is_expected(rep, api_client_for):
    contact = RecipientFactory(owner=rep)
    as_sequence = public_ids.encode("seq", contact.pk)
    response = api_client_for(rep, "contacts:read").get(f"/v1/contacts/{as_sequence}/")
    assert response.status_code == 422


def test_a_number_in_a_body_is_refused_where_an_id_is_expected(csm, api_client_for):
    response = api_client_for(csm, "contacts:write").post_json(
        "/v1/contacts/", {"inbox_id": 1, "emails": [{"address": "a@example.com"}]}
    )
    assert response.status_code == 422
    assert response.json()["field"] == "inbox_id"


def test_page_cursors_are_opaque_too(rep, api_client_for):
    RecipientFactory.create_batch(3, owner=rep)
    body = api_client_for(rep, "contacts:read").get("/v1/contacts/?limit=1").json()
    assert body["next_cursor"].startswith("cur_")
    forged = api_client_for(rep, "contacts:read").get("/v1/contacts/?cursor=aWQ6MQ")  # base64 "id:1"
    assert forged.status_code == 422
    assert forged.json()["field"] == "cursor"


def test_ids_depend_on_the_configured_key(settings):
    settings.PUBLIC_ID_KEY = "one key"
    under_one = public_ids.encode("ctc", 7)
    settings.PUBLIC_ID_KEY = "another key"
    assert public_ids.encode("ctc", 7) != under_one
    assert public_ids.decode("ctc", under_one) is None
    assert public_ids.decode("ctc", public_ids.encode("ctc", 7)) == 7


def test_the_schema_describes_ids_as_prefixed_strings(client):
    schema = client.get("/v1/openapi.json").json()
    contact = schema["components"]["schemas"]["ContactOut"]["properties"]
    assert contact["id"]["type"] == "string"
    assert contact["id"]["pattern"] == "^ctc_[a-z2-7]{26}$"
