"""The outbox through the API: status, codes and what the provider answered."""

from __future__ import annotations

import pytest

from outreach.core.public_ids import encode as pid

pytestmark = pytest.mark.django_db


def test_messages_show_status_code_and_sender_outputs(rep, make_message, api_client_for):
    message = make_message(
        sender=rep,
        state="failed",
        code="provider_error",
        error_message="550 mailbox unavailable",
        provider="resend",
        provider_message_id="re_123",
        provider_response={"status": 550},
    )
    body = api_client_for(rep, "drafts:read").get("/v1/messages/").json()
    item = body["items"][0]
    assert item["id"] == pid("msg", message.pk)
    # The one-to-one send shape: a provider's error is named after it.
    assert (item["status"], item["state"], item["code"], item["error_message"]) == (
        "failure",
        "failed",
        "resend_error",
        "550 mailbox unavailable",
    )
    assert item["send_result"]["status"] == "failure"
    assert item["send_result"]["code"] == "resend_error"
    assert (item["provider"], item["provider_message_id"], item["provider_response"]) == (
        "resend",
        "re_123",
        {"status": 550},
    )
    assert item["contact_id"] == pid("ctc", message.recipient_id)
    assert item["draft_id"] == pid("drf", message.draft_ref)


def test_messages_filter_by_status_and_code(rep, make_message, api_client_for):
    make_message(sender=rep, state="sent")
    skipped = make_message(sender=rep, state="skipped", code="suppressed")
    client = api_client_for(rep, "drafts:read")
    assert [m["id"] for m in client.get("/v1/messages/?status=skipped").json()["items"]] == [pid("msg", skipped.pk)]
    assert [m["id"] for m in client.get("/v1/messages/?code=suppressed").json()["items"]] == [pid("msg", skipped.pk)]


def test_a_reps_token_sees_only_the_reps_messages(rep, other_rep, make_message, api_client_for):
    mine = make_message(sender=rep)
    theirs = make_message(sender=other_rep)
    client = api_client_for(rep, "drafts:read")
    assert [m["id"] for m in client.get("/v1/messages/").json()["items"]] == [pid("msg", mine.pk)]
    assert client.get(f"/v1/messages/{pid('msg', theirs.pk)}/").status_code == 404
    assert client.get(f"/v1/messages/{pid('msg', mine.pk)}/").json()["id"] == pid("msg", mine.pk)


def test_a_csm_sees_every_message(csm, rep, other_rep, make_message, api_client_for):
    make_message(sender=rep)
    make_message(sender=other_rep)
    assert len(api_client_for(csm, "drafts:read").get("/v1/messages/").json()["items"]) == 2
