"""The outbox through the API: status, codes and what the provider answered."""

from __future__ import annotations

import pytest

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
    assert item["id"] == message.pk
    assert (item["status"], item["code"], item["error_message"]) == (
        "failed",
        "provider_error",
        "550 mailbox unavailable",
    )
    assert (item["provider"], item["provider_message_id"], item["provider_response"]) == (
        "resend",
        "re_123",
        {"status": 550},
    )
    assert item["contact_id"] == message.recipient_id
    assert item["draft_id"] == message.draft_ref


def test_messages_filter_by_status_and_code(rep, make_message, api_client_for):
    make_message(sender=rep, state="sent")
    skipped = make_message(sender=rep, state="skipped", code="suppressed")
    client = api_client_for(rep, "drafts:read")
    assert [m["id"] for m in client.get("/v1/messages/?status=skipped").json()["items"]] == [skipped.pk]
    assert [m["id"] for m in client.get("/v1/messages/?code=suppressed").json()["items"]] == [skipped.pk]


def test_a_reps_token_sees_only_the_reps_messages(rep, other_rep, make_message, api_client_for):
    mine = make_message(sender=rep)
    theirs = make_message(sender=other_rep)
    client = api_client_for(rep, "drafts:read")
    assert [m["id"] for m in client.get("/v1/messages/").json()["items"]] == [mine.pk]
    assert client.get(f"/v1/messages/{theirs.pk}/").status_code == 404
    assert client.get(f"/v1/messages/{mine.pk}/").json()["id"] == mine.pk


def test_a_csm_sees_every_message(csm, rep, other_rep, make_message, api_client_for):
    make_message(sender=rep)
    make_message(sender=other_rep)
    assert len(api_client_for(csm, "drafts:read").get("/v1/messages/").json()["items"]) == 2
