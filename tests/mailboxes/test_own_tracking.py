"""A real send through a rep's connected IMAP/SMTP mailbox (Dovecot, aiosmtpd submission) with
tracking on: a consenting recipient's email carries our pixel and wrapped links, and following
them over real HTTP (the live server) records the open once and redirects to the approved link; a
recipient without consent gets the email exactly as approved."""

from __future__ import annotations

import http.client
import re
from email.message import Message
from html import unescape
from urllib.parse import urlsplit

import pytest

from outreach.mail.models import EngagementEvent, OutboundMessage
from outreach.mail.services.sending import outbound_message_send
from tests.factories import ApprovedDraftFactory, CampaignFactory, RecipientFactory

pytestmark = pytest.mark.django_db(transaction=True)

GUIDE = "https://help.example.com/guides/reports?utm=none&lang=en"
APPROVED_HTML = (
    f'<p>Hi there,</p><p>Here is the <a href="{GUIDE.replace("&", "&amp;")}">reports guide</a>.</p><p>Rita</p>'
)
APPROVED_TEXT = f"Hi there,\n\nHere is the reports guide: {GUIDE}\n\nRita"


@pytest.fixture(autouse=True)
def tasks_run_inline(monkeypatch):
    """Committed rows nudge their tasks (this test commits for real, for the live server): they run
    inline, here and in the server's thread, instead of waiting in the broker."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def send(rep, approve, rep_mailbox, submission):
    campaign = CampaignFactory(open_tracking=True)

    def _send(*, consent: bool) -> tuple[OutboundMessage, Message]:
        draft = ApprovedDraftFactory(
            sender=rep,
            campaign=campaign,
            recipient=RecipientFactory(owner=rep, consent_open_tracking=consent),
            body_text=APPROVED_TEXT,
            body_html=APPROVED_HTML,
        )
        message = approve(draft)  # its send task runs as the approval commits
        outbound_message_send(message_id=message.pk)  # a second nudge changes nothing
        message.refresh_from_db()
        assert (message.state, message.mailbox_id) == (OutboundMessage.State.SENT, rep_mailbox.pk)
        [delivered] = [r.message for r in submission.received if r.message["Message-ID"] == message.message_id]
        return message, delivered

    return _send


def _part(email: Message, content_type: str) -> str:
    [part] = [p for p in email.walk() if p.get_content_type() == content_type]
    return part.get_content()


def _our_urls(html: str, kind: str) -> list[str]:
    return [unescape(u) for u in re.findall(r'(?:src|href)="([^"]+)"', html) if f"/t/{kind}/" in u]


def _get(url: str) -> http.client.HTTPResponse:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.request("GET", parts.path)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_a_consenting_recipients_email_carries_our_pixel_and_redirect_and_they_work_over_http(
    send, live_server, settings, dovecot, rep_mailbox
):
    settings.SITE_URL = live_server.url
    message, delivered = send(consent=True)
    html, text = _part(delivered, "text/html"), _part(delivered, "text/plain")
    [pixel], [link] = _our_urls(html, "o"), _our_urls(html, "c")
    assert pixel.startswith(f"{live_server.url}/t/o/") and link.startswith(f"{live_server.url}/t/c/")
    assert GUIDE.replace("&", "&amp;") not in html
    assert GUIDE in text and "/t/" not in text  # the plain-text part keeps the approved link
    assert (message.tracking, message.tracked_links) == ("own", [GUIDE])
    # The copy in the rep's Sent folder is the email that went out.
    [copy] = dovecot.messages(rep_mailbox.email_address, folder="Sent")
    assert _our_urls(_part(copy, "text/html"), "o") == [pixel]

    for _ in range(2):
        opened = _get(pixel)
        assert (opened.status, opened.getheader("Content-Type")) == (200, "image/gif")
    clicked = _get(link)
    assert (clicked.status, clicked.getheader("Location")) == (302, GUIDE)

    events = EngagementEvent.objects.filter(message=message).order_by("pk")
    assert [(e.kind, e.provider) for e in events] == [("opened", "outreach review"), ("clicked", "outreach review")]
    assert all(e.processed_at is not None for e in events)


def test_a_recipient_without_consent_gets_the_email_exactly_as_approved(send, live_server, settings):
    settings.SITE_URL = live_server.url
    message, delivered = send(consent=False)
    html = _part(delivered, "text/html")
    assert APPROVED_HTML in html
    assert _our_urls(html, "o") == [] and _our_urls(html, "c") == []
    assert "/t/" not in delivered.as_string()
    assert (message.tracking, message.tracked_links) == ("no_consent", [])
