"""Any other provider with OAuth 2.0: a rep connects an IMAP/SMTP mailbox by authorizing at the
provider (authorization code with PKCE) instead of typing a password, and every IMAP and SMTP
login then uses the access token (SASL XOAUTH2).

Real parts: Dovecot checks each token through its oauth2 passdb, which asks the local
authorization server (tests/oauth_stubs.MailOAuthStub) by RFC 7662 introspection over HTTP; the
aiosmtpd submission server asks the same server whose token it is. Tokens are stored encrypted,
refreshed before expiry, refreshed once when a server refuses one early; a refused grant marks the
mailbox "needs re-authorization" and holds its sends (mailbox_disconnected) as Google's do."""

from __future__ import annotations

import json
import shutil
import time

import pytest
from django.db import transaction
from django.test import TestCase

from campaigns import services as campaign_services
from campaigns.models import Enrollment
from outreach.mail.models import EngagementEvent, MailboxConnection, OutboundMessage
from outreach.mail.services import mailbox_sync
from outreach.mail.services.mailboxes import mailbox_disconnect, mailbox_send_test
from outreach.mail.services.sending import outbound_message_send
from review.models import Draft
from review.services import outbound_message_from_draft
from tests.campaigns.conftest import approve as approve_campaign_draft
from tests.campaigns.conftest import make_campaign
from tests.factories import ApprovedDraftFactory, RecipientFactory
from tests.mail_servers import SmtpSubmission, dovecot_available, start_dovecot
from tests.mailboxes.test_sync import reply_to
from tests.oauth_stubs import CLIENT_ID, CLIENT_SECRET, MailOAuthStub

from .conftest import consent

pytestmark = pytest.mark.django_db

REP_ADDRESS = "rep1@team.example"
SCOPES = "mail.imap mail.smtp offline_access"
State = OutboundMessage.State


@pytest.fixture
def provider():
    stub = MailOAuthStub(address=REP_ADDRESS).start()
    yield stub
    stub.stop()


@pytest.fixture
def oauth_dovecot(provider):
    if not dovecot_available():
        pytest.fail("Dovecot is not installed: apt-get install dovecot-imapd (.ci/run does)")
    server = start_dovecot(oauth_introspection_url=f"{provider.url}{provider.introspect_path}")
    # A password for the test's own hand (APPEND, reading Sent); the app only ever uses the token.
    server.add_user(REP_ADDRESS, "the-tests-own-password")
    yield server
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)


@pytest.fixture
def oauth_submission(provider):
    server = SmtpSubmission({}, check_token=lambda user, token: provider.token_user(token) == user)
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def configured(settings, provider, oauth_dovecot, oauth_submission):
    settings.MAILBOX_OAUTH_LABEL = "Team Mail"
    settings.MAILBOX_OAUTH_CLIENT_ID = CLIENT_ID
    settings.MAILBOX_OAUTH_CLIENT_SECRET = CLIENT_SECRET
    settings.MAILBOX_OAUTH_AUTHORIZE_URL = f"{provider.url}{provider.authorize_path}"
    settings.MAILBOX_OAUTH_TOKEN_URL = f"{provider.url}{provider.token_path}"
    settings.MAILBOX_OAUTH_REVOKE_URL = f"{provider.url}{provider.revoke_path}"
    settings.MAILBOX_OAUTH_SCOPES = SCOPES
    settings.MAILBOX_OAUTH_IMAP_HOST = "127.0.0.1"
    settings.MAILBOX_OAUTH_IMAP_PORT = oauth_dovecot.port
    settings.MAILBOX_OAUTH_IMAP_SECURITY = "none"
    settings.MAILBOX_OAUTH_SMTP_HOST = "127.0.0.1"
    settings.MAILBOX_OAUTH_SMTP_PORT = oauth_submission.port
    settings.MAILBOX_OAUTH_SMTP_SECURITY = "none"


def connect(client, address: str = REP_ADDRESS):
    return client.get(consent(client, "imap_oauth", login_hint=address), follow=True)


@pytest.fixture
def mailbox(rep, rep_client):
    response = connect(rep_client)
    assert "is connected through Team Mail" in response.content.decode(), response.content.decode()
    return MailboxConnection.objects.get(user=rep)


@pytest.fixture
def queued(rep):
    def _queued():
        with transaction.atomic():
            return outbound_message_from_draft(draft=ApprovedDraftFactory(sender=rep), approved_by=rep)

    return _queued


def introspected(provider) -> int:
    return len(provider.requests_to(provider.introspect_path))


def run(mailbox) -> mailbox_sync.SyncResult:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return mailbox_sync.mailbox_sync(mailbox_id=mailbox.pk)


def test_connecting_authorizes_with_pkce_and_proves_the_token_on_both_servers(rep, rep_client, provider):
    page = rep_client.get("/settings/mailboxes/").content.decode()
    assert "Connect Team Mail" in page and 'name="login_hint"' in page
    response = connect(rep_client)
    assert "rep1@team.example is connected through Team Mail" in response.content.decode()
    [asked] = provider.authorize_requests
    assert asked["code_challenge_method"] == "S256" and asked["scope"] == SCOPES
    assert asked["login_hint"] == REP_ADDRESS
    assert len(provider.pkce_verified) == 1
    mailbox = MailboxConnection.objects.get(user=rep)
    assert (mailbox.kind, mailbox.email_address, mailbox.state) == ("imap_oauth", REP_ADDRESS, "connected")
    assert (mailbox.imap_host, mailbox.sent_folder, mailbox.is_default) == ("127.0.0.1", "Sent", True)
    # Dovecot asked the authorization server about the token: the IMAP login used it, no password.
    assert introspected(provider) == 1
    [refresh_token] = provider.live_refresh_tokens
    stored = json.loads(mailbox.get_secret())
    assert stored["refresh_token"] == refresh_token
    assert refresh_token not in mailbox.secret_encrypted and stored["access_token"] not in mailbox.secret_encrypted
    page = rep_client.get("/settings/mailboxes/").content.decode()
    assert "authorization stored (encrypted)" in page and refresh_token not in page


def test_a_token_for_another_mailbox_connects_nothing(rep, rep_client, provider, oauth_submission):
    response = connect(rep_client, address="someone.else@team.example")
    assert "Could not connect someone.else@team.example" in response.content.decode()
    assert not MailboxConnection.objects.exists()


def test_connecting_needs_the_address(rep_client, provider):
    response = rep_client.post("/settings/mailboxes/oauth/imap_oauth/start/", {"login_hint": "not an address"})
    assert response.url == "/settings/mailboxes/"
    assert provider.authorize_requests == [] and not MailboxConnection.objects.exists()


def test_an_approved_email_goes_out_over_smtp_with_the_token_and_lands_in_sent(
    rep, mailbox, queued, oauth_submission, oauth_dovecot
):
    message = queued()
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == State.SENT, message.error_message
    assert message.mailbox_id == mailbox.pk
    [submitted] = oauth_submission.received
    assert submitted.login == REP_ADDRESS and submitted.message["Message-ID"] == message.message_id
    assert oauth_submission.handler.xoauth2_logins[-1] == (REP_ADDRESS, True)
    [copy] = oauth_dovecot.messages(REP_ADDRESS, "Sent")
    assert copy["Message-ID"] == message.message_id


def test_a_reply_read_with_the_token_exits_the_enrollment(rep, csm, mailbox, oauth_dovecot, provider):
    campaign = make_campaign(steps=2, delays=(0, 3), created_by=csm)
    enrollment = campaign_services.enrollment_create(campaign=campaign, recipient=RecipientFactory(owner=rep))
    campaign_services.enrollment_advance_due()
    message = approve_campaign_draft(Draft.objects.get(enrollment_ref=enrollment.pk), rep)
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    before = introspected(provider)
    oauth_dovecot.append(REP_ADDRESS, reply_to(message))
    result = run(mailbox)
    assert result.error == "" and result.outcomes == {"replied": 1}
    assert introspected(provider) == before + 1  # the sync logged in with the token
    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.EXITED_REPLY
    assert EngagementEvent.objects.filter(kind="replied").count() == 1


def test_the_access_token_is_refreshed_before_it_expires(mailbox, provider):
    token = json.loads(mailbox.get_secret())
    token["expires_at"] = time.time() + 60  # inside the five-minute margin
    mailbox.set_secret(json.dumps(token))
    mailbox.save()
    assert run(mailbox).error == ""
    assert provider.requests_to(provider.token_path)[-1].form["grant_type"] == "refresh_token"
    # Refreshed first: the IMAP server saw only the new token, never the old one refused.
    [introspection] = provider.requests_to(provider.introspect_path)[-1:]
    mailbox.refresh_from_db()
    fresh = json.loads(mailbox.get_secret())["access_token"]
    assert fresh != token["access_token"] and introspection.form["token"] == fresh


def test_a_token_the_server_refuses_early_is_refreshed_once_and_the_login_retried(mailbox, provider):
    provider.expire_access_tokens()  # the provider ended the token before the time it gave us
    assert run(mailbox).error == ""
    refreshes = [r for r in provider.requests_to(provider.token_path) if r.form["grant_type"] == "refresh_token"]
    assert len(refreshes) == 1
    mailbox.refresh_from_db()
    assert mailbox.state == MailboxConnection.State.CONNECTED


def test_a_revoked_grant_needs_reauthorization_and_holds_the_sends_until_reconnected(
    rep, rep_client, mailbox, provider, queued, oauth_submission, django_capture_on_commit_callbacks
):
    first, second = queued(), queued()
    provider.revoke_all()  # the rep removed the app's access at the provider
    result = run(mailbox)
    assert result.error == "login refused"
    mailbox.refresh_from_db()
    assert mailbox.state == MailboxConnection.State.NEEDS_REAUTH
    assert "Team Mail no longer accepts the saved authorization" in mailbox.state_reason
    for message in (first, second):
        message.refresh_from_db()
        assert (message.state, message.code) == (State.HELD, "mailbox_disconnected")
    assert oauth_submission.received == []
    page = rep_client.get("/settings/mailboxes/").content.decode()
    assert 'id="mailbox-banner"' in page and "Reconnect" in page

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        connect(rep_client)
    assert len(callbacks) == 2  # both released and nudged
    mailbox.refresh_from_db()
    assert mailbox.state == MailboxConnection.State.CONNECTED and MailboxConnection.objects.count() == 1
    for message in (first, second):
        outbound_message_send(message_id=message.pk)
        message.refresh_from_db()
        assert message.state == State.SENT
    assert len(oauth_submission.received) == 2


def test_a_grant_revoked_when_sending_holds_the_email(mailbox, provider, queued, oauth_submission):
    message = queued()
    provider.revoke_all()
    provider.expire_access_tokens()
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert (message.state, message.code) == (State.HELD, "mailbox_disconnected")
    mailbox.refresh_from_db()
    assert mailbox.state == MailboxConnection.State.NEEDS_REAUTH
    assert oauth_submission.received == []


def test_the_test_email_goes_out_with_the_token(rep, mailbox, oauth_submission):
    message_id = mailbox_send_test(mailbox=mailbox, user=rep)
    [submitted] = oauth_submission.received
    assert submitted.message["Message-ID"] == message_id and submitted.login == REP_ADDRESS


def test_disconnecting_revokes_the_grant_at_the_provider_and_deletes_the_tokens(rep, mailbox, provider):
    mailbox_disconnect(mailbox=mailbox, user=rep)
    assert provider.live_refresh_tokens == []
    mailbox.refresh_from_db()
    assert mailbox.state == "disconnected" and mailbox.secret_encrypted == ""
