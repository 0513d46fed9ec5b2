"""The out-of-office pause is a sequence option in the API as on the campaign form:
`pause_on_out_of_office` (a boolean, default false) in POST /v1/sequences/ and in every sequence
answered, typed in the schema, with the documented example body
(outreach/integrations/documented_examples.json, "out_of_office_sequence") replayed verbatim."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine

from campaigns.models import Campaign, Enrollment
from campaigns.services import enrollment_advance_due
from outreach import integrations
from outreach.core.public_ids import decode
from outreach.core.public_ids import encode as pid
from outreach.mail.models import EngagementEvent, OutboundMessage
from outreach.mail.services.engagement import engagement_event_process, engagement_event_record
from outreach.mail.services.sending import outbound_message_send
from review.models import Draft
from review.services import draft_approve
from tests.factories import RecipientFactory

from .test_documented_flow import substitute

pytestmark = pytest.mark.django_db

EXAMPLES = json.loads((Path(integrations.__file__).parent / "documented_examples.json").read_text())
# A Monday morning; the contact answers that they are away until the Monday after next.
MONDAY = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
def csm_api(csm, api_client_for):
    return api_client_for(csm, "sequences:read", "sequences:write")


@pytest.fixture
def ids(rep) -> dict[str, str]:
    return {"inb_123": pid("inb", rep.sender.pk)}


def test_the_documented_out_of_office_body_creates_a_sequence_that_pauses(csm_api, ids):
    created = csm_api.post_json("/v1/sequences/", substitute(EXAMPLES["out_of_office_sequence"], ids))

    assert created.status_code == 201, created.json()
    assert created.json()["pause_on_out_of_office"] is True
    assert Campaign.objects.get(pk=decode("seq", created.json()["id"])).pause_on_out_of_office is True
    read_back = csm_api.get(f"/v1/sequences/{created.json()['id']}/").json()
    assert read_back["pause_on_out_of_office"] is True
    listed = csm_api.get("/v1/sequences/").json()["items"]
    assert [s["pause_on_out_of_office"] for s in listed] == [True]


def test_left_out_the_option_is_off(csm_api, ids):
    created = csm_api.post_json("/v1/sequences/", substitute(EXAMPLES["sequence"], ids))

    assert created.status_code == 201, created.json()
    assert created.json()["pause_on_out_of_office"] is False
    assert Campaign.objects.get().pause_on_out_of_office is False


def test_an_option_that_is_not_a_boolean_is_refused_naming_the_field(csm_api, ids):
    body = {**substitute(EXAMPLES["out_of_office_sequence"], ids), "pause_on_out_of_office": "until Monday"}

    refused = csm_api.post_json("/v1/sequences/", body)

    assert refused.status_code == 422
    assert any("pause_on_out_of_office" in (e["field"] or "") for e in refused.json()["errors"]), refused.json()
    assert not Campaign.objects.exists()


def test_the_schema_types_the_option_and_shows_the_documented_body(client):
    schema = client.get("/v1/openapi.json").json()
    components = schema["components"]["schemas"]

    option = components["SequenceIn"]["properties"]["pause_on_out_of_office"]
    assert (option["type"], option["default"]) == ("boolean", False)
    assert "return date" in option["description"]
    assert components["SequenceOut"]["properties"]["pause_on_out_of_office"]["type"] == "boolean"
    assert "pause_on_out_of_office" in components["SequenceOut"]["required"]
    body = schema["paths"]["/v1/sequences/"]["post"]["requestBody"]["content"]["application/json"]
    assert body["examples"]["out_of_office_sequence"]["value"] == EXAMPLES["out_of_office_sequence"]


def _sent_first_email(csm_api, rep, sequence_id: str) -> tuple[Enrollment, OutboundMessage]:
    """Enroll a contact, let the first step come due, approve it as the rep, and send it."""
    contact = RecipientFactory(owner=rep, first_name="Avery", time_zone="UTC")
    enrolled = csm_api.post_json(
        "/v1/sequences/enrollments/", {"sequence_id": sequence_id, "recipient": {"contact_id": pid("ctc", contact.pk)}}
    )
    assert enrolled.status_code == 201, enrolled.json()
    enrollment = Enrollment.objects.get(pk=decode("enr", enrolled.json()["id"]))
    enrollment_advance_due()
    draft = Draft.objects.get(enrollment_ref=enrollment.pk)
    draft_approve(draft=draft, user=rep, expected_version=draft.version)
    message = OutboundMessage.objects.get(recipient=contact)
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == OutboundMessage.State.SENT, message.error_message
    return enrollment, message


def _out_of_office_arrives(message: OutboundMessage) -> None:
    """The auto-reply as mailbox sync records it: the same engagement path as every reply."""
    event = engagement_event_record(
        kind=EngagementEvent.Kind.AUTO_REPLIED,
        provider="mailbox",
        occurred_at=MONDAY,
        message=message,
        reply_text="Thank you for your email. I am out of the office and back on 21 December.",
        payload={"subject": "Automatic reply: Your renewal"},
    )
    engagement_event_process(event_id=event.pk)


@pytest.mark.broker
@pytest.mark.parametrize(("option", "held"), [(True, True), (False, False)], ids=["on", "off"])
def test_an_api_sequence_with_the_option_holds_the_next_email_until_the_return_date(
    csm_api, rep, ids, option, held, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    body = {**substitute(EXAMPLES["out_of_office_sequence"], ids), "pause_on_out_of_office": option}
    with time_machine.travel(MONDAY, tick=False):
        sequence_id = csm_api.post_json("/v1/sequences/", body).json()["id"]
        with django_capture_on_commit_callbacks(execute=True):
            enrollment, message = _sent_first_email(csm_api, rep, sequence_id)
        enrollment.refresh_from_db()
        due_before = enrollment.next_due_at
        assert due_before == datetime(2026, 12, 10, 9, 0, tzinfo=UTC)  # the second email, three days on

        with django_capture_on_commit_callbacks(execute=True):
            _out_of_office_arrives(message)

        answered = csm_api.get(f"/v1/sequences/enrollments/{pid('enr', enrollment.pk)}/").json()
    kinds = [h["kind"] for h in answered["history"]]
    if held:
        assert answered["next_due_at"] == "2026-12-21T00:00:00Z"
        assert "paused_out_of_office" in kinds
        assert answered["state_reason"] == "out of office until Mon 21 Dec: next step held until then"
    else:
        enrollment.refresh_from_db()
        assert enrollment.next_due_at == due_before
        assert "paused_out_of_office" not in kinds
    # Either way an out-of-office is not a reply: the sequence goes on.
    assert answered["state"] not in ("exited_reply", "completed")
