"""The documented examples, replayed verbatim (outreach/integrations/documented_examples.json,
which the served schema also shows as request examples; only the placeholder ids replaced by ids
returned earlier) with a token holding exactly the documented scopes: a contact, both sequences, a
label automation and the labels the contact's notes name, the three enrollments, reading everything back, the rep's
approval and send, a cancel, and a reply that exits."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone

from campaigns import tasks as campaign_tasks
from campaigns.services import enrollment_advance_due
from outreach import integrations
from outreach.core.public_ids import decode
from outreach.integrations.models import EmittedEvent
from outreach.mail.models import EngagementEvent, OutboundMessage
from outreach.mail.services.engagement import engagement_event_process, engagement_event_record
from outreach.mail.services.sending import outbound_message_send

pytestmark = pytest.mark.django_db

# The same file the served schema takes its request examples from.
EXAMPLES = json.loads((Path(integrations.__file__).parent / "documented_examples.json").read_text())


def substitute(body: dict, ids: dict[str, str]) -> dict:
    """The example with its placeholder ids (inb_123, ctc_123, seq_123) replaced; ids that come
    from outside systems (msg_123, thr_123 in `source`) stay as written."""

    def walk(value):
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return ids.get(value, value) if isinstance(value, str) else value

    return walk(copy.deepcopy(body))


@pytest.mark.broker
def test_the_documented_flow_works_verbatim(csm, rep, api_client_for, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    carl = api_client_for(csm, *EXAMPLES["scopes"])  # the integration, acting as a CSM
    rita = api_client_for(rep, *EXAMPLES["scopes"])  # the rep whose inbox sends

    # Which inbox is Rita's: listed by the API (an id returned earlier, like every other).
    inboxes = carl.get("/v1/inboxes/").json()["items"]
    inbox = next(i["id"] for i in inboxes if i["owner"] == rep.username)
    ids = {"inb_123": inbox}

    contact = carl.post_json("/v1/contacts/", substitute(EXAMPLES["contact"], ids))
    assert contact.status_code == 201, contact.json()
    assert (contact.json()["inbox_id"], contact.json()["owner"]) == (inbox, rep.username)
    assert contact.json()["notes"] == EXAMPLES["contact"]["notes"]
    ids["ctc_123"] = contact.json()["id"]

    sequence = carl.post_json("/v1/sequences/", substitute(EXAMPLES["sequence"], ids))
    prompted = carl.post_json("/v1/sequences/", substitute(EXAMPLES["prompt_sequence"], ids))
    assert sequence.status_code == prompted.status_code == 201, (sequence.json(), prompted.json())
    assert sequence.json()["sender_inbox_id"] == inbox
    assert [e["subject"] for e in prompted.json()["emails"]] == ["Following up"]
    assert prompted.json()["emails"][0]["prompt"] == EXAMPLES["prompt_sequence"]["emails"][0]["prompt"]

    # "Labels to apply after creation: lead, proposal-open": a label automation on the prompt-assisted
    # sequence makes "proposal-open" start it without a separate enrollment call.
    automation = carl.post_json(
        "/v1/automations/", {"label": "proposal-open", "sequence_id": prompted.json()["id"], "inbox_id": inbox}
    )
    assert automation.status_code == 201, automation.json()
    with django_capture_on_commit_callbacks(execute=True):
        labelled = carl.post_json(
            "/v1/contacts/", {"emails": EXAMPLES["contact"]["emails"], "labels": ["lead", "proposal-open"]}
        )
    assert labelled.status_code == 200, labelled.json()

    template = carl.post_json(
        "/v1/sequences/enrollments/",
        substitute(EXAMPLES["template_enrollment"], {**ids, "seq_123": sequence.json()["id"]}),
    )
    ad_hoc = carl.post_json("/v1/sequences/enrollments/", substitute(EXAMPLES["ad_hoc_enrollment"], ids))
    automation_enrollment = carl.post_json(
        "/v1/sequences/enrollments/",
        substitute(EXAMPLES["automation_enrollment"], {**ids, "seq_123": prompted.json()["id"]}),
    )
    assert (template.status_code, ad_hoc.status_code) == (201, 201), (template.json(), ad_hoc.json())
    # The automation-triggered body answers with the enrollment the label already started.
    assert automation_enrollment.status_code == 200, automation_enrollment.json()
    assert automation_enrollment.json()["source"]["automation_id"] == automation.json()["id"]
    for created in (template, ad_hoc, automation_enrollment):
        body = created.json()
        assert (body["contact_id"], body["inbox_id"], body["sender"]) == (ids["ctc_123"], inbox, rep.username)
        assert (body["source"]["message_id"], body["source"]["thread_id"]) == ("msg_123", "thr_123")
    kinds = [c.json()["kind"] for c in (template, ad_hoc, automation_enrollment)]
    assert kinds == ["template", "ad_hoc", "triggered"]
    assert template.json()["source"]["subject"] == "Proposal for review"

    # The documented scopes read back everything they created.
    for path in (
        f"/v1/contacts/{ids['ctc_123']}/",
        f"/v1/sequences/{sequence.json()['id']}/",
        f"/v1/sequences/{prompted.json()['id']}/",
        f"/v1/sequences/enrollments/{template.json()['id']}/",
        f"/v1/sequences/enrollments/{ad_hoc.json()['id']}/",
        f"/v1/sequences/enrollments/{automation_enrollment.json()['id']}/",
        f"/v1/automations/{automation.json()['id']}/",
    ):
        assert carl.get(path).status_code == 200, path

    # "Cancel manually when work changes."
    cancelled = carl.patch_json(f"/v1/sequences/enrollments/{ad_hoc.json()['id']}/", EXAMPLES["cancel"])
    assert (cancelled.status_code, cancelled.json()["state"]) == (200, "cancelled")

    # Two days later the proposal follow-up is due: a draft in Rita's queue, which she approves.
    with time_machine.travel(timezone.now() + timedelta(days=2, hours=1)):
        enrollment_advance_due()
        drafts = rita.get(f"/v1/drafts/?enrollment_id={template.json()['id']}").json()["items"]
        assert [(d["subject"], d["status"]) for d in drafts] == [("Following up on the proposal", "ready")]
        approved = rita.post_json(f"/v1/drafts/{drafts[0]['id']}/approve", {"expected_version": drafts[0]["version"]})
        assert approved.status_code == 200, approved.json()
        message_id = approved.json()["message"]["id"]
        with django_capture_on_commit_callbacks(execute=True):
            outbound_message_send(message_id=decode("msg", message_id))
        result = rita.get(f"/v1/messages/{message_id}/").json()["send_result"]
        assert (result["status"], result["to_id"], result["from_id"]) == ("success", ids["ctc_123"], inbox)
        assert EmittedEvent.objects.filter(type="email_send_result", payload__email_id=message_id).exists()

        # "Replies exit automatically when exit_on_reply is true."
        message = OutboundMessage.objects.get(pk=decode("msg", message_id))
        with django_capture_on_commit_callbacks(execute=True):
            event = engagement_event_record(
                kind=EngagementEvent.Kind.REPLIED,
                provider="imap",
                occurred_at=timezone.now(),
                message=message,
                reply_text="Thanks, but this is no longer relevant for us.",
            )
            engagement_event_process(event_id=event.pk)
    states = {
        name: carl.get(f"/v1/sequences/enrollments/{created.json()['id']}/").json()["state"]
        for name, created in (("template", template), ("ad_hoc", ad_hoc), ("automation", automation_enrollment))
    }
    assert states == {"template": "exited_reply", "ad_hoc": "cancelled", "automation": "exited_reply"}

    # The exit condition is judged as well, and its reason is kept in the history.
    campaign_tasks.enrollment_evaluate_exit_condition_task(decode("enr", template.json()["id"]), event.pk)
    history = carl.get(f"/v1/sequences/enrollments/{template.json()['id']}/").json()["history"]
    judged = [h for h in history if h["kind"] == "exit_condition"]
    assert len(judged) == 1 and "reply" in judged[0]["reason"]
