"""A rep's Google mailbox against local stubs over real HTTP: Google's authorization server (consent,
code exchange with PKCE, refresh, expiry, revocation) and the Gmail API (tests/oauth_stubs.py).
The app's own clients (authlib, httpx) are pointed at them by the settings' URLs."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from django.db import transaction

from outreach.mail.models import MailboxConnection, OutboundMessage
from outreach.mail.services.sending import outbound_message_send
from review.services import outbound_message_from_draft
from tests.factories import ApprovedDraftFactory
from tests.oauth_stubs import CLIENT_ID, CLIENT_SECRET, GoogleStub, MicrosoftStub

REP_ADDRESS = "rep1@team.example"


@pytest.fixture
def google(settings):
    stub = GoogleStub(address=REP_ADDRESS).start()
    settings.GOOGLE_OAUTH_CLIENT_ID = CLIENT_ID
    settings.GOOGLE_OAUTH_CLIENT_SECRET = CLIENT_SECRET
    settings.GOOGLE_OAUTH_AUTHORIZE_URL = f"{stub.url}{stub.authorize_path}"
    settings.GOOGLE_OAUTH_TOKEN_URL = f"{stub.url}{stub.token_path}"
    settings.GOOGLE_OAUTH_REVOKE_URL = f"{stub.url}{stub.revoke_path}"
    settings.GMAIL_API_BASE_URL = stub.url
    yield stub
    stub.stop()


@pytest.fixture
def microsoft(settings):
    stub = MicrosoftStub(address=REP_ADDRESS).start()
    settings.MICROSOFT_OAUTH_CLIENT_ID = CLIENT_ID
    settings.MICROSOFT_OAUTH_CLIENT_SECRET = CLIENT_SECRET
    settings.MICROSOFT_OAUTH_AUTHORIZE_URL = f"{stub.url}{stub.authorize_path}"
    settings.MICROSOFT_OAUTH_TOKEN_URL = f"{stub.url}{stub.token_path}"
    settings.GRAPH_API_BASE_URL = f"{stub.url}/v1.0"
    yield stub
    stub.stop()


@pytest.fixture
def microsoft_mailbox(rep, rep_client, microsoft):
    response = connect(rep_client, "microsoft")
    assert response.status_code == 302
    return MailboxConnection.objects.get(user=rep, kind=MailboxConnection.Kind.MICROSOFT)


def consent(client, provider: str = "google", **post):
    """Press "Connect Google" and let the browser follow to the provider (who answers "Allow" at
    once): returns the provider's redirect back to us, still to be opened."""
    start = client.post(f"/settings/mailboxes/oauth/{provider}/start/", post)
    assert start.status_code == 302, start.content
    at_provider = httpx.get(start.url, follow_redirects=False)
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["location"])
    return f"{back.path}?{back.query}"


def connect(client, provider: str = "google", **post):
    """The whole connect flow, as a browser does it: our page, the provider, our callback."""
    return client.get(consent(client, provider, **post))


@pytest.fixture
def google_mailbox(rep, rep_client, google):
    response = connect(rep_client)
    assert response.status_code == 302
    return MailboxConnection.objects.get(user=rep, kind=MailboxConnection.Kind.GOOGLE)


@pytest.fixture
def queued(rep):
    def _queued(**draft_fields):
        with transaction.atomic():
            draft = ApprovedDraftFactory(sender=rep, **draft_fields)
            return outbound_message_from_draft(draft=draft, approved_by=rep)

    return _queued


@pytest.fixture
def sent(google_mailbox, queued):
    """An email the rep sent through their Google mailbox."""
    message = queued()
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == OutboundMessage.State.SENT, message.error_message
    return message
