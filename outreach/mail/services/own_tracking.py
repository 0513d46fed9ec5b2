"""Opens and clicks without a provider: mail that goes out through the sender's own mailbox (Gmail
API, Microsoft Graph, IMAP/SMTP, or a personal SMTP server) carries no provider tracking, so when
its campaign tracks engagement and the recipient consented, the HTML part gets our own open pixel
and its approved links go through our click redirect (`outreach.mail.link_tracking`).

- Decided once per hand-over, inside the claiming transaction (`tracking_decide`), and recorded on
  the message: which mode, which approved links are wrapped. Without consent, or with tracking off,
  the email goes out exactly as approved.
- Applied to the outgoing MIME only (`tracked_html`, called by `build_email`): the HTML part. The
  plain-text part keeps the approved links as they are (a reader of plain text sees the real
  address; clicks there are not counted).
- The public pixel and redirect record through the engagement service the provider webhooks use
  (`engagement_event_record`, then the same processing task), so `engagement_signal` is emitted
  the same way. One open per message and one click per link and message are recorded (the dedup
  keys below); a HEAD request or a prefetch is answered but never counted.
- Mail through the organization's provider is left to the provider's tracking: never both.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.utils import timezone

from outreach.mail import link_tracking
from outreach.mail.models import EngagementEvent, OutboundMessage

logger = logging.getLogger(__name__)

Tracking = OutboundMessage.Tracking
PROVIDER_NAME = "outreach review"


class NotTracked(Exception):
    """A pixel or redirect token that names nothing we track: tampered, foreign, or for a link that
    is not in the approved email. The views answer 404 and say no more."""


def tracking_decide(*, message: OutboundMessage, own_channel: bool) -> tuple[str, list[str]]:
    """(mode, links to wrap) for this hand-over. `own_channel`: the email leaves through the sender's
    own mailbox or SMTP server, where no provider tracks it."""
    if not message.open_tracking:
        return Tracking.OFF, []
    if not own_channel:
        return Tracking.PROVIDER, []
    # One HTML part goes to every copy: CC and BCC addresses did not consent, so no pixel for anyone.
    if not message.recipient.consent_open_tracking or message.cc or message.bcc:
        return Tracking.NO_CONSENT, []
    if not message.body_html.strip():
        return Tracking.PLAIN_TEXT, []
    return Tracking.OWN, link_tracking.approved_links(message.body_html)


def tracking_record_decision(*, message: OutboundMessage, own_channel: bool) -> None:
    """Decide and store it on the row (the caller holds the row's lock, in the claiming transaction)."""
    mode, links = tracking_decide(message=message, own_channel=own_channel)
    if (message.tracking, message.tracked_links) != (mode, links):
        message.tracking, message.tracked_links = mode, links
        message.save(update_fields=["tracking", "tracked_links"])


def tracked_html(*, message: OutboundMessage, body_html: str) -> str:
    """The approved body as it goes out: with our redirect on the recorded links, and the pixel at
    the end, when the message is tracked by us; otherwise unchanged."""
    if message.tracking != Tracking.OWN or message.pk is None:
        return body_html
    index = {url: i for i, url in enumerate(message.tracked_links or [])}

    def wrap(url: str) -> str | None:
        if url not in index:
            return None
        return link_tracking.click_url(message_id=message.pk, index=index[url], url=url)

    rewritten, _ = link_tracking.rewrite_links(body_html, wrap=wrap)
    return rewritten


def tracking_pixel_html(*, message: OutboundMessage) -> str:
    if message.tracking != Tracking.OWN or message.pk is None:
        return ""
    return link_tracking.pixel_html(link_tracking.open_url(message_id=message.pk))


# --- The public endpoints ------------------------------------------------------------------------


def _tracked_message(message_id: int) -> OutboundMessage:
    message = OutboundMessage.objects.select_related("recipient").filter(pk=message_id).first()
    if message is None or message.tracking != Tracking.OWN:
        raise NotTracked(f"message {message_id} is not tracked by us")
    return message


def _record(*, message: OutboundMessage, kind: str, dedup_key: str, payload: dict) -> EngagementEvent | None:
    # Imported here: engagement reaches sending (the brakes), and sending builds emails with this module.
    from .engagement import engagement_event_enqueue, engagement_event_record

    event = engagement_event_record(
        kind=kind,
        provider=PROVIDER_NAME,
        occurred_at=timezone.now(),
        message=message,
        dedup_key=dedup_key,
        payload={"tracked_by": PROVIDER_NAME, **payload},
    )
    if event is not None:
        engagement_event_enqueue(event.pk)
    return event


def tracking_open_receive(*, token: str, count: bool) -> EngagementEvent | None:
    """The pixel was fetched. Raises NotTracked for a token we did not issue for a tracked message.
    Records the message's first counted open (consent is checked again by the engagement service);
    returns the new event, or None."""
    try:
        message_id = link_tracking.read_open_token(token)
    except link_tracking.BadToken as exc:
        raise NotTracked(str(exc)) from None
    message = _tracked_message(message_id)
    if not count:
        return None
    return _record(
        message=message, kind=EngagementEvent.Kind.OPENED, dedup_key=f"tracking:open:{message.pk}", payload={}
    )


@dataclass(frozen=True)
class ClickResult:
    target: str
    event: EngagementEvent | None


def tracking_click_receive(*, token: str, count: bool) -> ClickResult:
    """A wrapped link was followed: where to send the person, and the click recorded (once per link
    and message). Raises NotTracked unless the token names a link of this very message that is an
    http(s) link of its approved body."""
    try:
        ref = link_tracking.read_click_token(token)
    except link_tracking.BadToken as exc:
        raise NotTracked(str(exc)) from None
    message = _tracked_message(ref.message_id)
    links = message.tracked_links or []
    target = links[ref.index] if 0 <= ref.index < len(links) else ""
    if (
        not target
        or link_tracking.link_digest(target) != ref.digest
        or not link_tracking.is_web_link(target)
        or target not in link_tracking.approved_links(message.body_html)
    ):
        logger.warning("tracking: refused a click token for message %s link %s", message.pk, ref.index)
        raise NotTracked(f"link {ref.index} is not an approved link of message {message.pk}")
    event = None
    if count:
        event = _record(
            message=message,
            kind=EngagementEvent.Kind.CLICKED,
            dedup_key=f"tracking:click:{message.pk}:{ref.index}",
            payload={"click_url": target, "link_index": ref.index},
        )
    return ClickResult(target=target, event=event)
