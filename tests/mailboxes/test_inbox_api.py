"""The inbox API against a real Dovecot and an SMTP submission server that requires AUTH:
POST /v1/inboxes/ connects the token's own IMAP/SMTP mailbox (both logins checked, the password
never returned), POST /v1/inboxes/{id}/sync reads it now, and the reply it finds is in the thread."""

from __future__ import annotations

import pytest
from django.test import Client, TestCase

from outreach.core.public_ids import encode as pid
from outreach.integrations.services.tokens import api_token_create
from outreach.mail.models import MailboxConnection, OutboundMessage
from outreach.mail.services.sending import outbound_message_send
from tests.factories import ApprovedDraftFactory
from tests.mailboxes.conftest import REP_PASSWORD, connect_fields
from tests.mailboxes.test_sync import reply_to

pytestmark = pytest.mark.django_db


def api_for(user, *scopes) -> Client:
    secret = api_token_create(user=user, name="automation", scopes=list(scopes)).secret
    return Client(headers={"Authorization": f"Bearer {secret}"})


def connect_body(dovecot, submission, **overrides) -> dict:
    fields = connect_fields(dovecot, submission)
    fields["email"] = fields.pop("email_address")
    return {**fields, **overrides}


def test_it_connects_the_tokens_own_mailbox_after_both_logins_work(rep, dovecot, submission, rep_account):
    api = api_for(rep, "inboxes:write")
    response = api.post("/v1/inboxes/", connect_body(dovecot, submission), content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    mailbox = MailboxConnection.objects.get(user=rep)
    assert body["id"] == pid("mbx", mailbox.pk)
    assert body["inbox_id"] == pid("inb", rep.sender.pk)
    assert (body["email"], body["state"], body["kind"], body["is_default"]) == (
        "rep1@team.example",
        "connected",
        "imap_smtp",
        True,
    )
    assert REP_PASSWORD not in response.content.decode()
    assert "password" not in body
    assert mailbox.get_secret() == REP_PASSWORD and REP_PASSWORD not in mailbox.secret_encrypted


def test_a_refused_login_saves_nothing_and_says_why(rep, dovecot, submission, rep_account):
    api = api_for(rep, "inboxes:write")
    response = api.post(
        "/v1/inboxes/", connect_body(dovecot, submission, password="wrong"), content_type="application/json"
    )
    assert response.status_code == 422
    assert "refused the username or password" in response.json()["detail"]
    assert "wrong" not in response.content.decode()
    assert not MailboxConnection.objects.exists()


def test_a_missing_field_is_a_422_naming_it(rep):
    api = api_for(rep, "inboxes:write")
    response = api.post("/v1/inboxes/", {"email": "rep1@team.example"}, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["field"] in {"password", "imap_host", "smtp_host"}


def test_sync_now_reads_the_reply_and_the_thread_shows_it(rep, dovecot, submission, rep_account, approve):
    api = api_for(rep, "inboxes:write")
    assert (
        api.post("/v1/inboxes/", connect_body(dovecot, submission), content_type="application/json").status_code == 201
    )
    message = approve(ApprovedDraftFactory(sender=rep))
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == OutboundMessage.State.SENT and message.mailbox is not None
    dovecot.append("rep1@team.example", reply_to(message, text="Tuesday at ten?"))
    inbox = pid("inb", rep.sender.pk)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = api.post(f"/v1/inboxes/{inbox}/sync")
    assert response.status_code == 200, response.content
    [result] = response.json()["mailboxes"]
    assert result["mailbox_id"] == pid("mbx", message.mailbox_id)
    assert (result["changed"], result["read"], result["outcomes"], result["error"]) == (True, 1, {"replied": 1}, "")
    # A second pass finds nothing new.
    again = api.post(f"/v1/inboxes/{inbox}/sync").json()["mailboxes"][0]
    assert (again["changed"], again["outcomes"]) == (False, {})
    items = api.get(f"/v1/inboxes/{inbox}/threads/{pid('thr', message.pk)}/messages/").json()["items"]
    assert [(m["direction"], m["kind"]) for m in items] == [("out", "email"), ("in", "replied")]
    assert items[1]["text"] == "Tuesday at ten?"


def test_only_the_inbox_owner_or_a_csm_syncs_it(rep, other_rep, dovecot, submission, rep_account):
    api_for(rep, "inboxes:write").post(
        "/v1/inboxes/", connect_body(dovecot, submission), content_type="application/json"
    )
    response = api_for(other_rep, "inboxes:write").post(f"/v1/inboxes/{pid('inb', rep.sender.pk)}/sync")
    assert response.status_code == 404


def test_reading_needs_no_write_scope_but_connecting_does(rep, dovecot, submission, rep_account):
    reader = api_for(rep, "inboxes:read")
    response = reader.post("/v1/inboxes/", connect_body(dovecot, submission), content_type="application/json")
    assert response.status_code == 403
    assert reader.get(f"/v1/inboxes/{pid('inb', rep.sender.pk)}/threads/").status_code == 200
