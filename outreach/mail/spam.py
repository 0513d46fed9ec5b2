"""Spam risk of an email before a person approves it: our own transparent checks, always, and
SpamAssassin's score when `spamd` is configured (`SPAMD_HOST`).

The checks read the email as it will be sent (`outreach.mail.services.sending.build_email`): the
complete HTML document, the text part, the footer and the headers. Each finding says what it saw
and what to change; the points are ours, small and documented here, not SpamAssassin's.

spamd is asked over its own protocol (SPAMC/1.5 `REPORT`, a plain TCP socket): its score and the
rules that fired, with their descriptions. A spamd that does not answer gives the reading without
its score and says why; it never blocks a review.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

from django.conf import settings

# Phrases spam filters and readers associate with bulk promotion (a short, readable list).
TRIGGER_PHRASES = (
    "act now",
    "100% free",
    "risk-free",
    "risk free",
    "click here",
    "limited time",
    "buy now",
    "order now",
    "no obligation",
    "guaranteed",
    "winner",
    "congratulations",
    "earn money",
    "make money",
    "cash bonus",
    "special promotion",
    "exclusive deal",
    "urgent",
    "once in a lifetime",
    "double your",
    "$$$",
)
URL_SHORTENERS = {"bit.ly", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "buff.ly", "rebrand.ly", "cutt.ly"}
MAX_LINKS = 3
MAX_LINK_DOMAINS = 2
MAX_WORDS = 250
MAX_CAPS_WORDS = 3
MAX_EXCLAMATIONS = 3
# Points at or above which the reading is "medium" and "high".
MEDIUM_AT = 2.0
HIGH_AT = 4.0


@dataclass(frozen=True)
class Finding:
    name: str
    points: float
    detail: str


@dataclass(frozen=True)
class SpamdRule:
    name: str
    points: float
    description: str


@dataclass(frozen=True)
class SpamdReport:
    score: float
    threshold: float
    rules: list[SpamdRule]


@dataclass(frozen=True)
class SpamRisk:
    """The reading shown beside a draft."""

    findings: list[Finding] = field(default_factory=list)
    spamd: SpamdReport | None = None
    spamd_note: str = ""  # why there is no spamd score ("" when there is one or none is configured)

    @property
    def points(self) -> float:
        return round(sum(f.points for f in self.findings), 1)

    @property
    def level(self) -> str:
        """low | medium | high, from our points or SpamAssassin's score, whichever is worse."""
        level = "high" if self.points >= HIGH_AT else "medium" if self.points >= MEDIUM_AT else "low"
        if self.spamd is not None:
            if self.spamd.score >= self.spamd.threshold:
                return "high"
            if self.spamd.score >= self.spamd.threshold / 2 and level == "low":
                return "medium"
        return level


class _Parts(HTMLParser):
    """Visible text, links and images of an HTML body."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.links: list[str] = []
        self.images = 0
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in {"style", "script", "head", "title"}:
            self._skip += 1
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if href:
                self.links.append(href)
        if tag == "img":
            self.images += 1

    def handle_endtag(self, tag):
        if tag in {"style", "script", "head", "title"} and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"')]+", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")


def _domain(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def spam_findings(
    *, subject: str, body_html: str, body_text: str, sender_domain: str = "", ignore_links: tuple[str, ...] = ()
) -> list[Finding]:
    """Our own checks over the subject and the body the reviewer wrote (the unsubscribe footer we add is
    left out: `ignore_links` names its URL). Pure: no database, no network."""
    findings: list[Finding] = []
    parts = _Parts()
    parts.feed(body_html or "")
    visible = " ".join(" ".join(parts.text).split())
    links = [u for u in (parts.links or _URL_IN_TEXT.findall(body_text or "")) if u not in ignore_links]
    links = [u for u in links if u.lower().startswith(("http://", "https://"))]
    domains = sorted({_domain(u) for u in links if _domain(u)})
    if not (body_text or "").strip():
        findings.append(
            Finding("missing_text_part", 3.0, "There is no plain-text part; filters distrust HTML-only email.")
        )
    if body_html and parts.images and len(visible) < 80:
        findings.append(
            Finding(
                "image_only",
                3.0,
                f"{parts.images} image(s) and only {len(visible)} characters of text: write the message in words.",
            )
        )
    if len(links) > MAX_LINKS:
        findings.append(
            Finding("many_links", 1.0, f"{len(links)} links; a personal email rarely needs more than {MAX_LINKS}.")
        )
    if len(domains) > MAX_LINK_DOMAINS:
        findings.append(Finding("many_link_domains", 1.0, f"Links go to {len(domains)} domains: {', '.join(domains)}."))
    short = [d for d in domains if d in URL_SHORTENERS]
    if short:
        findings.append(
            Finding("url_shortener", 1.5, f"Shortened links ({', '.join(short)}) hide where they go; use the full URL.")
        )
    if sender_domain and domains and any(not d.endswith(sender_domain) for d in domains) and len(domains) > 1:
        others = [d for d in domains if not d.endswith(sender_domain)]
        findings.append(
            Finding("foreign_link_domains", 0.5, f"Links to domains other than {sender_domain}: {', '.join(others)}.")
        )
    text = " ".join(filter(None, [subject, body_text or visible]))
    caps = [w for w in _WORD.findall(text) if len(w) >= 4 and w.isupper()]
    if len(caps) > MAX_CAPS_WORDS:
        findings.append(
            Finding("all_caps", 1.0, f"{len(caps)} words in capitals ({', '.join(sorted(set(caps))[:5])}).")
        )
    subject_words = [w for w in _WORD.findall(subject or "") if len(w) >= 2]
    if len(subject_words) >= 2 and all(w.isupper() for w in subject_words):
        findings.append(Finding("all_caps_subject", 1.5, "The subject is in capitals."))
    lowered = text.lower()
    phrases = [p for p in TRIGGER_PHRASES if p in lowered]
    if phrases:
        findings.append(
            Finding(
                "trigger_phrases",
                min(0.5 * len(phrases), 2.0),
                "Phrases filters associate with promotions: " + ", ".join(f"“{p}”" for p in phrases) + ".",
            )
        )
    exclamations = text.count("!")
    if exclamations > MAX_EXCLAMATIONS:
        findings.append(Finding("exclamations", 0.5, f"{exclamations} exclamation marks."))
    words = len(_WORD.findall(body_text or visible))
    if words > MAX_WORDS:
        findings.append(Finding("too_long", 1.0, f"{words} words; a personal email reads best under {MAX_WORDS}."))
    return findings


# --- SpamAssassin's spamd --------------------------------------------------------------------

_SPAMD_STATUS = re.compile(rb"^SPAMD/\d\.\d+\s+(\d+)\s+(.*)$")
_SPAMD_SCORE = re.compile(rb"^Spam:\s*(True|False|Yes|No)\s*;\s*(-?[\d.]+)\s*/\s*(-?[\d.]+)", re.IGNORECASE)
_RULE_LINE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z0-9_]+)\s+(.*)$")


class SpamdError(Exception):
    pass


def spamd_report(raw: bytes, *, host: str | None = None, port: int | None = None) -> SpamdReport:
    """Score one message with spamd (SPAMC/1.5 REPORT). Raises SpamdError when it cannot."""
    host = host or settings.SPAMD_HOST
    port = port or settings.SPAMD_PORT
    request = b"REPORT SPAMC/1.5\r\nContent-length: " + str(len(raw)).encode() + b"\r\n\r\n" + raw
    try:
        with socket.create_connection((host, port), timeout=settings.SPAMD_TIMEOUT_SECONDS) as conn:
            conn.sendall(request)
            conn.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
    except OSError as exc:
        raise SpamdError(f"spamd at {host}:{port} did not answer: {exc}") from exc
    answer = b"".join(chunks)
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = _SPAMD_STATUS.match(lines[0]) if lines else None
    if status is None or status.group(1) != b"0":
        raise SpamdError(f"spamd answered {lines[0][:200]!r}" if lines else "spamd sent nothing")
    score_line = next((m for m in (_SPAMD_SCORE.match(line) for line in lines[1:]) if m), None)
    if score_line is None:
        raise SpamdError("spamd's answer carried no score")
    rules = []
    for line in body.decode("utf-8", errors="replace").splitlines():
        matched = _RULE_LINE.match(line)
        if matched:
            rules.append(SpamdRule(matched.group(2), float(matched.group(1)), matched.group(3).strip()))
    return SpamdReport(score=float(score_line.group(2)), threshold=float(score_line.group(3)), rules=rules)


def spam_risk(
    *,
    subject: str,
    body_html: str,
    body_text: str,
    raw: bytes | None,
    sender_domain: str = "",
    ignore_links: tuple[str, ...] = (),
) -> SpamRisk:
    """The whole reading: our findings, and spamd's report of `raw` (the email as sent) when configured."""
    findings = spam_findings(
        subject=subject,
        body_html=body_html,
        body_text=body_text,
        sender_domain=sender_domain,
        ignore_links=ignore_links,
    )
    if not settings.SPAMD_HOST or raw is None:
        return SpamRisk(findings=findings)
    try:
        return SpamRisk(findings=findings, spamd=spamd_report(raw))
    except SpamdError as exc:
        return SpamRisk(findings=findings, spamd_note=str(exc))
