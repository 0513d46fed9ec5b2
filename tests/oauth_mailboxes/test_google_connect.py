"""Connecting a Google mailbox: authorization code with PKCE and offline access, the state checked
once for the session and person that started it, tokens encrypted and never shown, refreshed
before expiry, and revoked at Google when disconnected."""

from __future__ import annotations

import json
import time

import pytest

from outreach.mail.models import MailboxConnection
from outreach.mail.oauth_api import GOOGLE_SCOPES
from outreach.mail.services import mailbox_sync
from outreach.mail.services.mailboxes import mailbox_disconnect, mailbox_send_test

from .conftest import REP_ADDRESS, connect, consent

pytestmark = pytest.mark.django_db


def test_connecting_google_asks_for_offline_access_with_pkce_and_stores_the_tokens_encrypted(rep, rep_client, google):
    response = connect(rep_client)
    assert response.status_code == 302 and response.url == "/settings/mailboxes/"
    [asked] = google.authorize_requests
    assert asked["code_challenge_method"] == "S256" and asked["access_type"] == "offline"
    assert set(asked["scope"].split()) == set(GOOGLE_SCOPES)
    assert len(google.pkce_verified) == 1  # the stub checked our verifier against the challenge
    mailbox = MailboxConnection.objects.get(user=rep)
    assert (mailbox.kind, mailbox.email_address, mailbox.state) == ("google", REP_ADDRESS, "connected")
    assert mailbox.is_default and mailbox.sync_cursor == str(google.history_id)
    [refresh_token] = google.live_refresh_tokens
    assert refresh_token not in mailbox.secret_encrypted
    assert json.loads(mailbox.get_secret())["refresh_token"] == refresh_token
    page = rep_client.get("/settings/mailboxes/").content.decode()
    assert "is connected through Google" in page and "authorization stored (encrypted)" in page
    assert refresh_token not in page and mailbox.secret_encrypted not in page


def test_the_connect_buttons_show_only_for_configured_providers(rep_client, settings):
    settings.GOOGLE_OAUTH_CLIENT_ID = ""
    assert "Connect Google" not in rep_client.get("/settings/mailboxes/").content.decode()
    settings.GOOGLE_OAUTH_CLIENT_ID = "configured"
    page = rep_client.get("/settings/mailboxes/").content.decode()
    assert "Connect Google" in page and "Connect Microsoft 365" not in page
    settings.GOOGLE_OAUTH_CLIENT_ID = ""
    assert rep_client.post("/settings/mailboxes/oauth/google/start/").url == "/settings/mailboxes/"


def test_a_callback_with_a_state_this_session_did_not_start_connects_nothing(rep_client, google):
    back = consent(rep_client)
    forged = back.replace("state=", "state=forged")
    response = rep_client.get(forged, follow=True)
    assert "was not started from this page" in response.content.decode()
    assert not google.requests_to("/token")
    assert not MailboxConnection.objects.exists()


def test_the_state_is_good_once(rep_client, google):
    back = consent(rep_client)
    assert rep_client.get(back).status_code == 302
    replay = rep_client.get(back, follow=True)
    assert "was not started from this page" in replay.content.decode()
    assert len(google.requests_to("/token")) == 1


def test_someone_else_cannot_finish_a_reps_authorization(rep_client, other_rep, login_client, google):
    back = consent(rep_client)
    # A victim tricked into opening the attacker's callback link: their session never started it.
    response = login_client(other_rep).get(back, follow=True)
    assert "was not started from this page" in response.content.decode()
    assert not MailboxConnection.objects.exists()


def test_refused_consent_connects_nothing(rep_client, google):
    google.deny_consent = True
    response = rep_client.get(consent(rep_client), follow=True)
    assert "did not authorize the connection (access_denied)" in response.content.decode()
    assert not MailboxConnection.objects.exists()


def test_a_permission_unticked_on_the_consent_screen_is_refused(rep_client, google):
    google.granted_scope = "https://www.googleapis.com/auth/gmail.send"
    response = connect(rep_client)
    page = rep_client.get(response.url).content.decode()
    assert "did not grant gmail.readonly" in page
    assert not MailboxConnection.objects.exists()


def test_the_callback_requires_login(client, google):
    response = client.get("/settings/mailboxes/oauth/google/callback/?code=x&state=y")
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_the_access_token_is_refreshed_before_it_expires(google_mailbox, google):
    token = json.loads(google_mailbox.get_secret())
    token["expires_at"] = time.time() + 60  # inside the five-minute margin
    google_mailbox.set_secret(json.dumps(token))
    google_mailbox.save()
    result = mailbox_sync.mailbox_sync(mailbox_id=google_mailbox.pk)
    assert result.error == ""
    paths = [r.path for r in google.requests if r.path in ("/token", "/gmail/v1/users/me/history")]
    assert paths[-2:] == ["/token", "/gmail/v1/users/me/history"]  # refreshed first: no 401 seen
    assert google.requests_to("/token")[-1].form["grant_type"] == "refresh_token"
    google_mailbox.refresh_from_db()
    assert json.loads(google_mailbox.get_secret())["access_token"] != token["access_token"]


def test_the_test_email_goes_out_through_the_gmail_api(rep, google_mailbox, google):
    message_id = mailbox_send_test(mailbox=google_mailbox, user=rep)
    [copy] = google.sent()
    assert copy.header("Message-ID") == message_id
    assert copy.header("To") == REP_ADDRESS


def test_disconnecting_revokes_the_grant_at_google_and_deletes_the_tokens(rep, google_mailbox, google):
    mailbox_disconnect(mailbox=google_mailbox, user=rep)
    assert google.live_refresh_tokens == []
    assert len(google.requests_to("/revoke")) == 1
    google_mailbox.refresh_from_db()
    assert google_mailbox.state == "disconnected" and google_mailbox.secret_encrypted == ""
    assert google_mailbox.state_reason == f"disconnected by {rep}"


def test_a_failed_revocation_still_deletes_the_tokens_and_says_so(rep, google_mailbox, google):
    google.fail("/revoke", status=503)
    mailbox_disconnect(mailbox=google_mailbox, user=rep)
    google_mailbox.refresh_from_db()
    assert google_mailbox.secret_encrypted == ""
    assert "did not confirm the revocation" in google_mailbox.state_reason


def _form_action(response) -> list[str]:
    policy = response.headers["Content-Security-Policy"]
    [directive] = [d.split()[1:] for d in policy.split(";") if d.split()[:1] == ["form-action"]]
    return directive


def test_my_mailboxes_lets_connect_be_redirected_to_the_providers_consent_page_only(rep_client, google, settings):
    # Browsers hold a form's whole redirect chain to form-action: with only 'self' the button that
    # posts here and is redirected to Google's consent page does nothing (tests/browser/test_mailbox_oauth.py).
    settings.GOOGLE_OAUTH_AUTHORIZE_URL = "https://accounts.google.com/o/oauth2/v2/auth"
    assert _form_action(rep_client.get("/settings/mailboxes/")) == ["'self'", "https://accounts.google.com"]
    assert _form_action(rep_client.get("/review/")) == ["'self'"]  # every other page: our own forms only
    settings.GOOGLE_OAUTH_CLIENT_ID = ""
    assert _form_action(rep_client.get("/settings/mailboxes/")) == ["'self'"]
