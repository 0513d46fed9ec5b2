"""Nothing hostile executes in the browser: every page that shows recipient names, companies,
facts, drafts and replies is opened in headless Chromium, and any dialog fails the test."""

from __future__ import annotations

import pytest
from django.utils import timezone

from outreach.mail.models import EngagementEvent
from tests.browser.test_review_queue import _login, page  # noqa: F401 - the Playwright fixture
from tests.factories import (
    AccountFactory,
    DraftFactory,
    FactFactory,
    OutboundMessageFactory,
    RecipientFactory,
    UserFactory,
)

from .conftest import CRLF_NAME, IMG, INJECTION, JS_LINK, SCRIPT, SCRIPTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = f"{SCRIPT}{IMG}{JS_LINK}"

# Elements that exist only if hostile text was parsed as HTML. The CSP would block most of them
# from running, so the page is checked for them directly as well as for dialogs.
INJECTED = (
    "script:not([src]), script[src=''], img[src='x'], svg[onload], [onerror], [onload], [onclick],"
    " a[href^='javascript:' i], iframe:not([sandbox])"
)


def _hostile_world(username: str):
    user = UserFactory(username=username, role="csm")
    recipient = RecipientFactory(
        owner=user,
        email="ann@customer.example",
        first_name=f"Ann{SCRIPT}",
        last_name=f"{IMG}{CRLF_NAME}",
        title=f"{JS_LINK} {SCRIPTS}",
        account=AccountFactory(name=f"Acme{IMG}\"'><svg onload=alert(1)>", domain="customer.example"),
    )
    for text in (INJECTION, HOSTILE, "x" * 100_000, SCRIPTS, "javascript:alert(1)"):
        FactFactory(recipient=recipient, text=text, source=HOSTILE)
    draft = DraftFactory(
        sender=user,
        recipient=recipient,
        subject=f"Hi {SCRIPT}",
        body_text=f"Hi Ann,\n\n{HOSTILE}\njavascript:alert(1)\n{SCRIPTS}\n\nRita",
        body_html=f"<p>{HOSTILE}</p>",  # as if a sanitizer had been bypassed
        facts_snapshot=[{"id": "1", "kind": "note", "text": HOSTILE}],
        grounding=[{"text": "Hi", "start": 0, "end": 2, "supported": False, "fact_ids": [], "field": "body_text"}],
        cc=["boss@customer.example"],
    )
    message = OutboundMessageFactory(
        draft=DraftFactory(sender=user, recipient=recipient, state="approved", subject=f"Re {IMG}"),
        subject=f"Re {IMG}",
        body_html=f"<p>{HOSTILE}</p>",
        body_text=HOSTILE,
    )
    EngagementEvent.objects.create(
        message=message,
        recipient=recipient,
        kind=EngagementEvent.Kind.REPLIED,
        provider="imap",
        email=recipient.email,
        occurred_at=timezone.now(),
        reply_text=f"{INJECTION}\n{HOSTILE}\n{SCRIPTS}",
        payload={"subject": HOSTILE},
    )
    return user, recipient, draft, message


def test_no_hostile_text_executes_on_any_page_that_shows_it(page, live_server):  # noqa: F811
    user, recipient, draft, message = _hostile_world("hostile-csm")
    dialogs: list[str] = []

    def on_dialog(dialog):
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # A CSP violation means something tried to run.
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    _login(page, live_server.url, "hostile-csm")

    urls = [
        "/review/",
        f"/review/drafts/{draft.pk}/",
        f"/review/?draft={draft.pk}",
        f"/recipients/{recipient.pk}/",
        "/recipients/",
        f"/recipients/?q={SCRIPT}",
        "/messages/replies/",
        f"/messages/{message.pk}/",
        f"/campaigns/audit/{recipient.pk}/",
        f"/campaigns/audit/?q={SCRIPT}",
    ]
    for url in urls:
        response = page.goto(live_server.url + url)
        assert response is not None and response.status == 200, (url, response and response.status)
        page.wait_for_load_state("networkidle")
        injected = page.eval_on_selector_all(INJECTED, "els => els.map(e => e.outerHTML.slice(0, 80))")
        assert injected == [], (url, injected)
    # Open the edit panel too: the body lands in a textarea.
    page.goto(f"{live_server.url}/review/")
    page.wait_for_selector("#draft[data-draft-id]")
    page.keyboard.press("e")
    page.wait_for_timeout(200)

    assert dialogs == [], dialogs
    assert errors == [], errors
    # The hostile text is shown, as text.
    page.goto(f"{live_server.url}/recipients/{recipient.pk}/")
    assert "<script>alert(1)</script>" in page.inner_text("body")
