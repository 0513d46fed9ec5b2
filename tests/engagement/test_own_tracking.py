"""Opens and clicks without a provider: an email that leaves through the sender's own mailbox
carries our signed open pixel and click redirect (with consent and tracking on), and the public
endpoints record through the same engagement path as provider webhooks, once, and redirect only
to a link the reviewer approved. The real send through a connected mailbox is in
tests/mailboxes/test_own_tracking.py."""

from __future__ import annotations

import re
from email.message import EmailMessage
from html import unescape

import pytest
from django.conf import settings as django_settings
from django.core import signing

from outreach.integrations.models import EmittedEvent
from outreach.mail import link_tracking
from outreach.mail.models import EngagementEvent, MailboxConnection, OutboundMessage, SenderConfig
from outreach.mail.selectors import message_tracking_note
from outreach.mail.services.own_tracking import tracking_record_decision
from outreach.mail.services.sending import build_email, sends_without_provider
from outreach.mail.unsubscribe import unsubscribe_token
from tests.factories import CampaignFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db

REPORTS = "https://docs.example.com/reports?tab=usage&range=30d"
PRICING = "https://www.example.com/pricing"
APPROVED_HTML = (
    "<p>Hi Liu,</p>"
    f'<p>The <a href="{REPORTS.replace("&", "&amp;")}">usage reports</a> show 14 logins; '
    f'<a href="{PRICING}">pricing</a> is unchanged (<a href="{PRICING}">again</a>).</p>'
    '<p>Write to <a href="mailto:rita@team.example">me</a>.</p>'
)
APPROVED_TEXT = f"Hi Liu,\n\nThe usage reports ({REPORTS}) show 14 logins; pricing ({PRICING}) is unchanged."


def _message(*, consent: bool = True, tracking_on: bool = True, body_html: str = APPROVED_HTML) -> OutboundMessage:
    return OutboundMessageFactory(
        draft__campaign=CampaignFactory(open_tracking=tracking_on),
        draft__recipient__consent_open_tracking=consent,
        draft__body_html=body_html,
        draft__body_text=APPROVED_TEXT,
        provider="mailbox:1",
    )


def _sent_through_own_mailbox(message: OutboundMessage) -> EmailMessage:
    """As the claim decides it for a mailbox send, and as build_email then renders it."""
    tracking_record_decision(message=message, own_channel=True)
    return build_email(message).message()


def _part(email, content_type: str) -> str:
    for part in email.walk():
        if part.get_content_type() == content_type:
            return part.get_payload(decode=True).decode()
    raise AssertionError(f"no {content_type} part")


def _paths(html: str, kind: str) -> list[str]:
    """The paths of our pixel (o) or redirect (c) URLs in an HTML part."""
    urls = [unescape(u) for u in re.findall(r'(?:src|href)="([^"]+)"', html)]
    return [u.removeprefix(django_settings.SITE_URL) for u in urls if f"/t/{kind}/" in u]


@pytest.fixture
def tracked():
    message = _message()
    html = _part(_sent_through_own_mailbox(message), "text/html")
    return message, html


@pytest.fixture
def fetch(client, django_capture_on_commit_callbacks):
    """An anonymous request, with what it leaves for after commit run as a commit would (the
    processing task then runs inline)."""

    def _fetch(path: str, *, method: str = "get", **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return getattr(client, method)(path, **kwargs)

    return _fetch


# --- What goes out ----------------------------------------------------------------------------


def test_each_approved_web_link_is_wrapped_and_the_pixel_closes_the_html_part(tracked):
    message, html = tracked
    message.refresh_from_db()
    assert message.tracking == OutboundMessage.Tracking.OWN
    assert message.tracked_links == [REPORTS, PRICING]
    assert len(_paths(html, "c")) == 3  # the same pricing link twice: the same redirect
    assert len(set(_paths(html, "c"))) == 2
    assert [p.startswith("/t/o/") for p in _paths(html, "o")] == [True]
    assert 'href="mailto:rita@team.example"' in html  # not a web link: as approved
    assert REPORTS.replace("&", "&amp;") not in html and PRICING not in html
    assert "/u/" in html  # our unsubscribe link is ours, never wrapped
    assert html.index("/t/o/") > html.index("Unsubscribe")


def test_the_plain_text_part_keeps_the_approved_links(tracked):
    message, _ = tracked
    text = _part(build_email(message).message(), "text/plain")
    assert REPORTS in text and PRICING in text and "/t/" not in text


@pytest.mark.parametrize(("consent", "tracking_on", "mode"), [(False, True, "no_consent"), (True, False, "off")])
def test_without_consent_or_with_tracking_off_the_email_is_exactly_as_approved(consent, tracking_on, mode):
    message = _message(consent=consent, tracking_on=tracking_on)
    html = _part(_sent_through_own_mailbox(message), "text/html")
    message.refresh_from_db()
    assert (message.tracking, message.tracked_links) == (mode, [])
    assert APPROVED_HTML in html
    assert "/t/o/" not in html and "/t/c/" not in html


@pytest.mark.parametrize("copies", [{"cc": ["boss@customer.example"]}, {"bcc": ["crm@team.example"]}])
def test_an_email_with_copies_is_not_tracked_since_the_copies_did_not_consent(copies):
    message = _message()
    OutboundMessage.objects.filter(pk=message.pk).update(**copies)
    message.refresh_from_db()
    html = _part(_sent_through_own_mailbox(message), "text/html")
    assert message.tracking == OutboundMessage.Tracking.NO_CONSENT
    assert APPROVED_HTML in html and "/t/o/" not in html
    assert message_tracking_note(message=message) == "Not tracked: no consent from the people copied (CC or BCC)."


def test_through_the_organizations_provider_the_provider_tracks_and_we_do_not():
    message = _message()
    tracking_record_decision(message=message, own_channel=False)
    html = _part(build_email(message).message(), "text/html")
    assert message.tracking == OutboundMessage.Tracking.PROVIDER
    assert APPROVED_HTML in html and "/t/" not in html.replace("/u/", "")


def test_our_tracking_is_for_the_senders_own_mailbox_or_smtp_server_only(rep):
    message = _message()
    assert not sends_without_provider(message)  # the organization's provider
    message.sender_config = SenderConfig.objects.create(user=rep, kind=SenderConfig.Kind.SMTP, smtp_host="smtp.example")
    assert sends_without_provider(message)  # a personal SMTP server
    message.sender_config = None
    message.mailbox = MailboxConnection.objects.create(user=rep, email_address="rep1@team.example")
    assert sends_without_provider(message)  # a connected mailbox


def test_only_http_and_https_links_are_ever_wrapped():
    body = (
        '<a href="javascript:alert(1)">x</a><a href="data:text/html,hi">y</a><a href="ftp://f.example/a">z</a>'
        '<a href="//cdn.example/a">w</a><a href=" https://ok.example/a ">ok</a>'
    )
    assert link_tracking.approved_links(body) == ["https://ok.example/a"]


# --- The open pixel ---------------------------------------------------------------------------


def test_an_open_is_recorded_once_however_often_the_pixel_is_fetched(fetch, tracked):
    message, html = tracked
    [pixel] = _paths(html, "o")
    for _ in range(3):
        response = fetch(pixel)
        assert response.status_code == 200  # public: no login, no redirect to it
        assert response["Content-Type"] == "image/gif"
        assert response.content == link_tracking.PIXEL_GIF
        assert "no-store" in response["Cache-Control"]
    event = EngagementEvent.objects.get()
    assert (event.kind, event.message, event.recipient) == ("opened", message, message.recipient)
    assert event.provider == "outreach review" and event.processed_at is not None
    [signal] = EmittedEvent.objects.filter(type="engagement_signal")
    assert signal.payload["kind"] == "opened"
    assert signal.payload["message_id"].startswith("msg_")


def test_a_head_request_or_a_prefetch_is_answered_but_not_counted(fetch, tracked):
    _, html = tracked
    [pixel] = _paths(html, "o")
    [click, *_] = _paths(html, "c")
    assert fetch(pixel, method="head").status_code == 200
    assert fetch(pixel, headers={"Sec-Purpose": "prefetch"}).status_code == 200
    assert fetch(click, method="head").status_code == 302
    assert not EngagementEvent.objects.exists()
    assert fetch(pixel).status_code == 200
    assert list(EngagementEvent.objects.values_list("kind", flat=True)) == ["opened"]


def test_an_open_after_the_recipient_withdrew_consent_is_answered_but_not_recorded(fetch, tracked):
    message, html = tracked
    message.recipient.consent_open_tracking = False
    message.recipient.save(update_fields=["consent_open_tracking"])
    assert fetch(_paths(html, "o")[0]).status_code == 200
    assert fetch(_paths(html, "c")[0]).status_code == 302  # the person still reaches the link
    assert not EngagementEvent.objects.exists()


# --- The click redirect -----------------------------------------------------------------------


def test_a_click_goes_to_the_approved_link_and_is_recorded_once_per_link(fetch, tracked):
    message, html = tracked
    reports, pricing, pricing_again = _paths(html, "c")
    for path, target in [(reports, REPORTS), (pricing, PRICING), (pricing_again, PRICING), (reports, REPORTS)]:
        response = fetch(path)
        assert response.status_code == 302
        assert response["Location"] == target
    clicks = EngagementEvent.objects.filter(message=message, kind="clicked").order_by("pk")
    assert [c.payload["click_url"] for c in clicks] == [REPORTS, PRICING]
    # Clicks are recorded like provider clicks: not emitted as engagement_signal.
    assert not EmittedEvent.objects.filter(type="engagement_signal").exists()


def _tamperings(path: str) -> list[str]:
    token = path.strip("/").split("/")[-1]
    payload, signature = token.rsplit(":", 1)
    prefix = path[: path.index(token)]
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    return [
        f"{prefix}{payload}:{flipped}/",  # signature altered
        f"{prefix}{payload[:-2]}:{signature}/",  # payload altered
        f"{prefix}{payload}/",  # signature cut off
        f"{prefix}{token[:10]}/",  # cut short
        f"{prefix}not-a-token/",
    ]


@pytest.mark.parametrize("kind", ["o", "c"])
def test_a_tampered_token_gets_a_plain_404_and_records_nothing(fetch, tracked, settings, kind):
    settings.DEBUG = True  # even then: no error page that shows anything
    _, html = tracked
    for path in _tamperings(_paths(html, kind)[0]):
        response = fetch(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "text/plain; charset=utf-8"
        assert response.content.decode() == "This link is not valid."
    assert not EngagementEvent.objects.exists()


def test_a_token_signed_for_something_else_is_refused(fetch, tracked):
    message, html = tracked
    [pixel] = _paths(html, "o")
    [click, *_] = _paths(html, "c")
    unsubscribe = unsubscribe_token(recipient_id=message.recipient_id, message_id=message.pk)
    assert fetch(f"/t/o/{unsubscribe}/").status_code == 404
    assert fetch(f"/t/c/{unsubscribe}/").status_code == 404
    assert fetch(pixel.replace("/t/o/", "/t/c/")).status_code == 404
    assert fetch(click.replace("/t/c/", "/t/o/")).status_code == 404
    assert not EngagementEvent.objects.exists()


def test_the_redirect_refuses_a_link_of_another_message_even_with_a_valid_signature(fetch, tracked):
    message, _ = tracked
    other = _message(body_html='<p>See <a href="https://evil.example/login">this</a>.</p>')
    _sent_through_own_mailbox(other)
    other.refresh_from_db()
    foreign = other.tracked_links[0]
    # Validly signed, naming our message but another message's link (its index, its digest).
    forged = link_tracking.click_token(message_id=message.pk, index=0, url=foreign)
    response = fetch(f"/t/c/{forged}/")
    assert response.status_code == 404
    assert "evil.example" not in response.content.decode() and "Location" not in response
    # An index beyond the message's links, signed too.
    beyond = link_tracking.click_token(message_id=message.pk, index=7, url=REPORTS)
    assert fetch(f"/t/c/{beyond}/").status_code == 404
    # The other message's own token still goes to its own (approved) link, and only there.
    own = link_tracking.click_token(message_id=other.pk, index=0, url=foreign)
    assert fetch(f"/t/c/{own}/")["Location"] == foreign
    assert list(EngagementEvent.objects.values_list("message", flat=True)) == [other.pk]


def test_the_redirect_refuses_a_recorded_link_that_is_not_in_the_approved_body(fetch, tracked):
    message, _ = tracked
    # Someone altered the row after sending: the approved body still decides.
    OutboundMessage.objects.filter(pk=message.pk).update(tracked_links=["https://evil.example/", PRICING])
    token = link_tracking.click_token(message_id=message.pk, index=0, url="https://evil.example/")
    assert fetch(f"/t/c/{token}/").status_code == 404
    assert not EngagementEvent.objects.exists()


def test_a_message_we_do_not_track_has_no_pixel_or_redirect(fetch):
    message = _message(consent=False)
    _sent_through_own_mailbox(message)
    assert fetch(f"/t/o/{link_tracking.open_token(message_id=message.pk)}/").status_code == 404
    token = link_tracking.click_token(message_id=message.pk, index=0, url=REPORTS)
    assert fetch(f"/t/c/{token}/").status_code == 404
    assert not EngagementEvent.objects.exists()


def test_the_endpoints_answer_only_get_and_head(fetch, tracked):
    _, html = tracked
    assert fetch(_paths(html, "o")[0], method="post").status_code == 405
    assert fetch(_paths(html, "c")[0], method="post").status_code == 405


def test_a_token_is_tamper_evident_with_djangos_signer():
    token = link_tracking.open_token(message_id=42)
    assert link_tracking.read_open_token(token) == 42
    with pytest.raises(link_tracking.BadToken):
        link_tracking.read_open_token(signing.Signer(salt="another").sign_object({"m": 42}, compress=True))


# --- The message page says which -----------------------------------------------------------------


def test_the_message_page_says_who_tracks_opens_and_clicks(admin_client_, tracked):
    message, _ = tracked
    page = admin_client_.get(f"/messages/{message.pk}/").content.decode()
    assert "Opens and clicks tracked by Outreach Review" in page
    assert "2 approved links through our redirect" in page
    silent = _message(consent=False)
    _sent_through_own_mailbox(silent)
    assert "Not tracked: no consent" in admin_client_.get(f"/messages/{silent.pk}/").content.decode()
