"""Every draft shown in review carries a spam-risk reading with its reasons: our own checks always,
SpamAssassin's score from a real spamd where it is installed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from outreach.mail import selectors as mail_selectors
from outreach.mail.spam import spam_findings, spamd_report
from tests.factories import DraftFactory, RecipientFactory

pytestmark = pytest.mark.django_db

PERSONAL_TEXT = (
    "Hi Liu,\n\nYou logged in 14 times in October, mostly to the shipment reports. "
    "Would a short call on Thursday help you set up the weekly export?\n\nBest,\nRita"
)
PERSONAL_HTML = (
    "<p>Hi Liu,</p><p>You logged in 14 times in October, mostly to the shipment reports. "
    "Would a short call on Thursday help you set up the weekly export?</p><p>Best,<br>Rita</p>"
)


def _names(findings) -> set[str]:
    return {f.name for f in findings}


def test_a_short_personal_email_raises_no_finding():
    assert spam_findings(subject="Your October reports", body_html=PERSONAL_HTML, body_text=PERSONAL_TEXT) == []


def test_promotional_phrases_capitals_and_exclamations_are_named():
    text = "ACT NOW!!! This LIMITED TIME offer is 100% FREE and risk-free. Click here to BUY NOW!"
    findings = spam_findings(subject="FREE OFFER INSIDE", body_html="", body_text=text)
    assert {"trigger_phrases", "all_caps", "all_caps_subject", "exclamations"} <= _names(findings)
    phrases = next(f for f in findings if f.name == "trigger_phrases")
    assert "“act now”" in phrases.detail and "“100% free”" in phrases.detail and "“click here”" in phrases.detail


def test_links_are_counted_by_number_domain_and_shortener():
    links = ["https://bit.ly/x1", "https://a.example/1", "https://b.example/2", "https://c.example/3"]
    html = "<p>Hi,</p>" + "".join(f'<p><a href="{u}">link</a></p>' for u in links)
    findings = spam_findings(subject="Links", body_html=html, body_text="Hi,\n" + "\n".join(links))
    names = _names(findings)
    assert {"many_links", "many_link_domains", "url_shortener"} <= names
    assert "4 links" in next(f for f in findings if f.name == "many_links").detail
    assert "bit.ly" in next(f for f in findings if f.name == "url_shortener").detail


def test_a_missing_text_part_an_image_only_body_and_a_long_email_are_named():
    image_only = '<p><img src="https://cdn.example/offer.png" alt=""></p><p>Hi</p>'
    assert {"missing_text_part", "image_only"} <= _names(
        spam_findings(subject="Hi", body_html=image_only, body_text="")
    )
    long_text = " ".join(["word"] * 400)
    assert "too_long" in _names(spam_findings(subject="Hi", body_html="", body_text=long_text))


def test_the_review_queue_shows_the_reading_and_its_reasons_on_every_draft(rep, rep_client):
    clean = DraftFactory(sender=rep, subject="Your October reports", body_text=PERSONAL_TEXT, body_html=PERSONAL_HTML)
    spammy = DraftFactory(
        sender=rep,
        subject="URGENT OFFER",
        body_text="Act now: this limited time deal is guaranteed. Click here!",
        body_html="<p>Act now: this limited time deal is guaranteed. Click here!</p>",
    )
    page = rep_client.get(reverse("review_queue"), {"draft": clean.pk}).content.decode()
    assert "Spam risk:" in page and ">low<" in page and "Our checks found nothing" in page
    page = rep_client.get(reverse("draft_detail", args=[spammy.pk]), headers={"HX-Request": "true"}).content.decode()
    assert "Spam risk:" in page and 'data-check="trigger_phrases"' in page and "“limited time”" in page
    assert 'data-check="all_caps_subject"' in page
    assert "SpamAssassin" not in page  # no spamd configured: no claim about its score


def test_an_unreachable_spamd_is_said_and_does_not_block_the_reading(rep, settings):
    from django.core.cache import cache

    from tests.sending.conftest import _free_port

    cache.clear()

    settings.SPAMD_HOST, settings.SPAMD_PORT, settings.SPAMD_TIMEOUT_SECONDS = "127.0.0.1", _free_port(), 2
    risk = mail_selectors.email_spam_risk(
        recipient=RecipientFactory(), sender=rep, subject="Hi", body_html=PERSONAL_HTML, body_text=PERSONAL_TEXT
    )
    assert risk.spamd is None and "did not answer" in risk.spamd_note and risk.level == "low"
    # The next draft does not wait for the timeout again: spamd is left alone for a minute.
    again = mail_selectors.email_spam_risk(
        recipient=RecipientFactory(), sender=rep, subject="Hi", body_html=PERSONAL_HTML, body_text=PERSONAL_TEXT
    )
    assert "not asked again for a minute" in again.spamd_note and again.findings == risk.findings


# --- With SpamAssassin's real spamd ---------------------------------------------------------------


def test_spamd_scores_a_message_and_names_the_rules(spamd):
    raw = b"From: a@b.example\r\nTo: c@d.example\r\nSubject: hi\r\n\r\nHello there\r\n"
    report = spamd_report(raw)
    names = {rule.name for rule in report.rules}
    assert "MISSING_DATE" in names and "MISSING_MID" in names  # a bare message: no Date, no Message-ID
    assert report.score == pytest.approx(sum(rule.points for rule in report.rules), abs=0.11)
    assert report.threshold == 5.0


def test_the_review_page_shows_spamassassins_score_and_rules(spamd, rep, rep_client):
    draft = DraftFactory(sender=rep, subject="Your October reports", body_text=PERSONAL_TEXT, body_html=PERSONAL_HTML)
    page = rep_client.get(reverse("draft_detail", args=[draft.pk]), headers={"HX-Request": "true"}).content.decode()
    assert "SpamAssassin:" in page and "(spam at 5.0)" in page


def test_the_email_as_sent_has_no_partial_list_headers_or_html_fragment(spamd, rep):
    risk = mail_selectors.email_spam_risk(
        recipient=RecipientFactory(),
        sender=rep,
        subject="Your October reports",
        body_html=PERSONAL_HTML,
        body_text=PERSONAL_TEXT,
    )
    assert risk.spamd is not None
    names = {rule.name for rule in risk.spamd.rules}
    assert "LIST_PARTIAL_SHORT_MSG" not in names
    assert not {"HTML_MIME_NO_HTML_TAG", "MIME_HTML_ONLY", "MPART_ALT_DIFF"} & names
    assert risk.spamd.score <= 0.5
