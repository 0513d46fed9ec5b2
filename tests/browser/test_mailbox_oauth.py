"""Connecting a Google or Microsoft 365 mailbox in Chromium, the whole way a person goes: "My
mailboxes", the provider's consent page (the local OAuth 2.0 stubs of tests/oauth_stubs.py, over
real HTTP), back to the page showing the mailbox connected. When the provider revokes the grant
the page says "needs re-authorization" under the banner, and Reconnect brings it back. By mouse
on a laptop, and by keyboard alone on a 390 px phone with no sideways scroll; axe finds nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from outreach.mail.models import MailboxConnection
from outreach.mail.services import mailbox_sync
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.oauth_stubs import CLIENT_ID, CLIENT_SECRET, GoogleStub, MicrosoftStub

from .conftest import DESKTOP, PHONE, horizontal_overflow, login, screenshot
from .test_accessibility import AXE, RUN, TAGS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADDRESS = "rita@team.example"
PROVIDERS = {"google": "Google", "microsoft": "Microsoft 365"}


@pytest.fixture
def stubs(settings, live_server):
    """Both providers configured, each a stub with a consent page a person presses Allow on."""
    google = GoogleStub(address=ADDRESS).start()
    microsoft = MicrosoftStub(address=ADDRESS).start()
    for stub in (google, microsoft):
        stub.consent_page = True
    settings.SITE_URL = live_server.url  # the redirect URI registered with the providers
    settings.GOOGLE_OAUTH_CLIENT_ID, settings.GOOGLE_OAUTH_CLIENT_SECRET = CLIENT_ID, CLIENT_SECRET
    settings.GOOGLE_OAUTH_AUTHORIZE_URL = f"{google.url}{google.authorize_path}"
    settings.GOOGLE_OAUTH_TOKEN_URL = f"{google.url}{google.token_path}"
    settings.GOOGLE_OAUTH_REVOKE_URL = f"{google.url}{google.revoke_path}"
    settings.GMAIL_API_BASE_URL = google.url
    settings.MICROSOFT_OAUTH_CLIENT_ID, settings.MICROSOFT_OAUTH_CLIENT_SECRET = CLIENT_ID, CLIENT_SECRET
    settings.MICROSOFT_OAUTH_AUTHORIZE_URL = f"{microsoft.url}{microsoft.authorize_path}"
    settings.MICROSOFT_OAUTH_TOKEN_URL = f"{microsoft.url}{microsoft.token_path}"
    settings.GRAPH_API_BASE_URL = f"{microsoft.url}/v1.0"
    yield {"google": google, "microsoft": microsoft}
    google.stop()
    microsoft.stop()


@pytest.fixture
def rita(db):
    return UserFactory(username="rita", role="rep", first_name="Rita", last_name="Lane")


def card(page, kind: str):
    mailbox = MailboxConnection.objects.get(kind=kind)
    return page.locator(f"#mailbox-{mailbox.pk}")


def revoke_and_sync(stub, kind: str) -> None:
    """The person removed the app in their account; the next sync finds out."""
    stub.revoke_all()
    stub.expire_access_tokens()
    mailbox = MailboxConnection.objects.get(kind=kind)
    mailbox_sync.mailbox_sync(mailbox_id=mailbox.pk)
    mailbox.refresh_from_db()
    assert mailbox.state == MailboxConnection.State.NEEDS_REAUTH, mailbox.state_reason


@pytest.mark.parametrize("kind", ["google", "microsoft"])
def test_a_rep_connects_a_mailbox_at_the_provider_and_reconnects_it_after_a_revoked_grant(
    chromium, live_server, stubs, rita, kind
):
    stub, label = stubs[kind], PROVIDERS[kind]
    page = chromium.new_context(viewport=DESKTOP).new_page()
    login(page, live_server.url, "rita", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/settings/mailboxes/")

    page.get_by_role("button", name=f"Connect {label}").click()
    # The provider's consent page, on the provider's own address.
    page.wait_for_url(f"{stub.url}{stub.authorize_path}?*")
    expect(page.get_by_role("heading", name="Outreach Review wants to access your account")).to_be_visible()
    page.get_by_role("button", name="Allow").click()

    page.wait_for_url(f"{live_server.url}/settings/mailboxes/")
    expect(page.get_by_text(f"{ADDRESS} is connected through {label}.")).to_be_visible()
    expect(card(page, kind).get_by_role("heading", name=ADDRESS)).to_be_visible()
    expect(card(page, kind).locator(".badge", has_text="Connected")).to_be_visible()
    expect(page.locator("#mailbox-banner")).to_have_count(0)
    assert len(stub.pkce_verified) == 1
    screenshot(page, f"mailbox-{kind}-connected-desktop")

    revoke_and_sync(stub, kind)
    page.reload()
    banner = page.locator("#mailbox-banner")
    expect(banner).to_contain_text(f"Your mailbox {ADDRESS} needs re-authorization")
    expect(banner).to_contain_text("Emails waiting to go out through it are held.")
    expect(card(page, kind).locator(".badge", has_text="Needs re-authorization")).to_be_visible()
    screenshot(page, f"mailbox-{kind}-needs-reauth-desktop")

    card(page, kind).get_by_role("button", name="Reconnect").click()
    page.wait_for_url(f"{stub.url}{stub.authorize_path}?*")
    expect(page.get_by_text(f"Signed in as {ADDRESS}")).to_be_visible()  # the login hint went along
    page.get_by_role("button", name="Allow").click()

    page.wait_for_url(f"{live_server.url}/settings/mailboxes/")
    expect(card(page, kind).locator(".badge", has_text="Connected")).to_be_visible()
    expect(page.locator("#mailbox-banner")).to_have_count(0)
    assert MailboxConnection.objects.filter(kind=kind).count() == 1  # the same mailbox, not a second one
    assert MailboxConnection.objects.get(kind=kind).state == MailboxConnection.State.CONNECTED


def test_cancel_at_the_provider_connects_nothing_and_says_so(chromium, live_server, stubs, rita):
    page = chromium.new_context(viewport=DESKTOP).new_page()
    login(page, live_server.url, "rita", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/settings/mailboxes/")
    page.get_by_role("button", name="Connect Google").click()
    page.get_by_role("button", name="Cancel").click()

    page.wait_for_url(f"{live_server.url}/settings/mailboxes/")
    expect(page.get_by_text("Google did not authorize the connection (access_denied).")).to_be_visible()
    assert not MailboxConnection.objects.exists()


def press_tab_until(page, name: str, *, limit: int = 60, ours: bool = True) -> None:
    """Tab forward until the focused control's accessible text is `name` (as a keyboard user does),
    and on our pages check that its focus is visible (our 3 px ring; the provider's page is not ours)."""
    seen: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => { const el = document.activeElement;
                       const style = getComputedStyle(el);
                       return {text: (el.innerText || el.value || '').trim(), outline: style.outlineStyle,
                               width: parseFloat(style.outlineWidth)}; }"""
        )
        seen.append(" ".join(focused["text"].split()))
        if seen[-1] == name:
            assert not ours or focused["outline"] != "none" and focused["width"] >= 2, (
                f"no visible focus on {name}: {focused}"
            )
            return
    raise AssertionError(f"{name!r} is not reachable with Tab; focused in turn: {seen}")


@pytest.mark.parametrize("kind", ["google", "microsoft"])
def test_by_keyboard_alone_on_a_phone_connect_and_reconnect_without_sideways_scroll(
    chromium, live_server, stubs, rita, kind
):
    stub, label = stubs[kind], PROVIDERS[kind]
    # bypass_csp lets the test inject axe; the laptop test above runs under the real policy.
    page = chromium.new_context(viewport=PHONE, bypass_csp=True).new_page()
    login(page, live_server.url, "rita", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/settings/mailboxes/")
    assert horizontal_overflow(page)["over"] <= 0, horizontal_overflow(page)

    press_tab_until(page, f"Connect {label}")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{stub.url}{stub.authorize_path}?*")
    press_tab_until(page, "Allow", ours=False)
    page.keyboard.press("Enter")

    page.wait_for_url(f"{live_server.url}/settings/mailboxes/")
    expect(card(page, kind).locator(".badge", has_text="Connected")).to_be_visible()
    assert horizontal_overflow(page)["over"] <= 0, horizontal_overflow(page)
    # Nothing squeezed into a column letter by letter: the address and the state each on one line.
    lines = card(page, kind).evaluate(
        """el => ['h2', '.badge'].map(s => { const e = el.querySelector(s);
             return Math.round(e.getBoundingClientRect().height / (parseFloat(getComputedStyle(e).fontSize) * 1.6)); })"""
    )
    assert lines == [1, 1], lines
    page.add_script_tag(content=AXE)
    assert page.evaluate(RUN, TAGS) == []
    screenshot(page, f"mailbox-{kind}-connected-phone")

    revoke_and_sync(stub, kind)
    page.reload()
    expect(page.locator("#mailbox-banner")).to_contain_text("needs re-authorization")
    assert horizontal_overflow(page)["over"] <= 0, horizontal_overflow(page)
    page.add_script_tag(content=AXE)
    assert page.evaluate(RUN, TAGS) == []
    screenshot(page, f"mailbox-{kind}-needs-reauth-phone")

    press_tab_until(page, f"Reconnect {ADDRESS}")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{stub.url}{stub.authorize_path}?*")
    press_tab_until(page, "Allow", ours=False)
    page.keyboard.press("Enter")

    page.wait_for_url(f"{live_server.url}/settings/mailboxes/")
    expect(card(page, kind).locator(".badge", has_text="Connected")).to_be_visible()
    expect(page.locator("#mailbox-banner")).to_have_count(0)
    assert horizontal_overflow(page)["over"] <= 0, horizontal_overflow(page)
