"""Our own open pixel and click redirect, for mail that goes out without a provider's tracking
(through the sender's own mailbox): signed tokens, the approved links of an HTML body, and the
rewrite of that body. Pure functions over plain values: what to track is decided by
`outreach.mail.services.own_tracking`.

Tokens are signed with SECRET_KEY, salted apart from each other and from unsubscribe links, and
carry no timestamp (the same email always gets the same links, and they keep working as long as
the email exists):
- an open token names the message: {"m": id};
- a click token names the message, the link's index among the message's tracked links and a
  digest of its target: {"m": id, "i": index, "h": digest}. The redirect looks the target up in
  the message and checks it against the approved body, so a token can never point anywhere else.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.html import escape

OPEN_SALT = "outreach.tracking.open.v1"
CLICK_SALT = "outreach.tracking.click.v1"

# A transparent 1x1 GIF (43 bytes).
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


class BadToken(Exception):
    """A tracking token that was tampered with, cut short, or made for something else."""


def link_digest(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def open_token(*, message_id: int) -> str:
    return signing.Signer(salt=OPEN_SALT).sign_object({"m": message_id}, compress=True)


def click_token(*, message_id: int, index: int, url: str) -> str:
    return signing.Signer(salt=CLICK_SALT).sign_object(
        {"m": message_id, "i": index, "h": link_digest(url)}, compress=True
    )


def read_open_token(token: str) -> int:
    """The message id an open token names; raises BadToken."""
    try:
        data = signing.Signer(salt=OPEN_SALT).unsign_object(token)
        return int(data["m"])
    except (signing.BadSignature, ValueError, KeyError, TypeError) as exc:
        raise BadToken(str(exc)) from None


@dataclass(frozen=True)
class ClickRef:
    message_id: int
    index: int
    digest: str


def read_click_token(token: str) -> ClickRef:
    """What a click token names; raises BadToken."""
    try:
        data = signing.Signer(salt=CLICK_SALT).unsign_object(token)
        return ClickRef(message_id=int(data["m"]), index=int(data["i"]), digest=str(data["h"]))
    except (signing.BadSignature, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadToken(str(exc)) from None


def open_url(*, message_id: int) -> str:
    return settings.SITE_URL + reverse("tracking_open", args=[open_token(message_id=message_id)])


def click_url(*, message_id: int, index: int, url: str) -> str:
    return settings.SITE_URL + reverse(
        "tracking_click", args=[click_token(message_id=message_id, index=index, url=url)]
    )


def is_web_link(url: str) -> bool:
    """Only http and https links are ever wrapped or redirected to (no mailto:, javascript:, data:)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc) and not any(c in url for c in "\r\n\t ")


@dataclass(frozen=True)
class _Anchor:
    offset: int  # where the start tag begins in the source
    tag: str  # the start tag as written
    href: str  # its href, unescaped


class _Anchors(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.line_starts = [0] + [i + 1 for i, c in enumerate(source) if c == "\n"]
        self.anchors: list[_Anchor] = []

    def handle_starttag(self, tag, attrs):
        if tag != "a":
            return
        # As browsers read it: the first href of a tag counts.
        href = next((value for name, value in attrs if name == "href"), None)
        raw = self.get_starttag_text() or ""
        line, column = self.getpos()
        offset = self.line_starts[line - 1] + column
        if href is None or self.source[offset : offset + len(raw)] != raw:
            return
        self.anchors.append(_Anchor(offset=offset, tag=raw, href=href.strip()))


def _anchors(body_html: str) -> list[_Anchor]:
    parser = _Anchors(body_html)
    parser.feed(body_html)
    parser.close()
    return parser.anchors


def approved_links(body_html: str) -> list[str]:
    """The http(s) link targets of an approved HTML body, each once, in order of appearance."""
    seen: list[str] = []
    for anchor in _anchors(body_html):
        if is_web_link(anchor.href) and anchor.href not in seen:
            seen.append(anchor.href)
    return seen


_HREF = re.compile(r"""(?P<pre>\shref\s*=\s*)(?P<value>"[^"]*"|'[^']*'|[^\s"'=<>`]+)""", re.IGNORECASE)


def _href_value(raw: str) -> str:
    if raw[:1] in ("'", '"'):
        raw = raw[1:-1]
    return unescape(raw).strip()


def rewrite_links(body_html: str, *, wrap: Callable[[str], str | None]) -> tuple[str, list[str]]:
    """The body with the href of each link for which `wrap(target)` gives a URL replaced by that URL,
    every other byte as it was. Returns (body, the targets wrapped, in order)."""
    pieces: list[str] = []
    wrapped: list[str] = []
    position = 0
    for anchor in _anchors(body_html):
        replacement = wrap(anchor.href) if is_web_link(anchor.href) else None
        match = _HREF.search(anchor.tag)
        if replacement is None or match is None or _href_value(match.group("value")) != anchor.href:
            continue  # left exactly as approved
        new_tag = (
            anchor.tag[: match.start()] + match.group("pre") + f'"{escape(replacement)}"' + anchor.tag[match.end() :]
        )
        pieces.append(body_html[position : anchor.offset])
        pieces.append(new_tag)
        position = anchor.offset + len(anchor.tag)
        if anchor.href not in wrapped:
            wrapped.append(anchor.href)
    pieces.append(body_html[position:])
    return "".join(pieces), wrapped


def pixel_html(url: str) -> str:
    return (
        f'<img src="{escape(url)}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0">'
    )
