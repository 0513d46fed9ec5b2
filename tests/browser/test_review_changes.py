"""Review in Chromium, on a laptop and on a 390 px phone: what a regenerated version changed (word
diff, by keyboard and by touch) and the preview text edited with the email."""

from __future__ import annotations

import pytest

from outreach.mail.models import OutboundMessage
from review import services
from review.models import Draft
from tests.factories import DEFAULT_PASSWORD, FactFactory, RecipientFactory, UserFactory

from .conftest import DESKTOP, PHONE, horizontal_overflow, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _written(rep) -> Draft:
    recipient = RecipientFactory(owner=rep, first_name="Liu")
    FactFactory(recipient=recipient, text="Attended the reporting webinar on 12 November")
    FactFactory(recipient=recipient, text="Downloaded the 'Churn Playbook' guide")
    draft = services.draft_request(recipient=recipient, sender=rep)
    return services.draft_generate(draft_id=draft.pk)


def test_regenerate_by_keyboard_then_see_what_changed_and_every_version(chromium, live_server):
    rep = UserFactory(username="regen-rep", role="rep")
    draft = _written(rep)
    page = chromium.new_context(viewport=DESKTOP).new_page()
    login(page, live_server.url, "regen-rep", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/review/")

    page.focus("#draft")
    page.keyboard.press("g")
    page.keyboard.type("shorter")
    page.keyboard.press("Enter")
    page.wait_for_selector("#detail [role=status]:has-text('Writing a new version')")
    services.draft_generate(draft_id=draft.pk)  # what the drafting worker does

    page.goto(f"{live_server.url}/review/?draft={draft.pk}")
    change = page.locator("#detail .version-change")
    assert change.is_visible()
    assert "regenerated: “shorter”" in change.inner_text()
    assert change.locator(".version-diff del").count() > 0
    # Screen readers hear "removed:" / "added:" before each change.
    assert "removed:" in change.locator(".version-diff del").first.text_content()
    screenshot(page, "desktop-regenerated-diff")

    page.locator("#detail a[href*='/versions/']").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/versions/**")
    headings = page.locator("main h2").all_inner_texts()
    assert headings[:2] == ["Version 2 · Regenerated", "Version 1 · Generated"]


def test_on_a_phone_the_change_fits_and_the_preview_text_is_edited_by_touch(chromium, live_server):
    rep = UserFactory(username="regen-phone", role="rep")
    draft = _written(rep)
    services.draft_regenerate(draft=draft, user=rep, expected_version=draft.version, instruction="more formal")
    draft = services.draft_generate(draft_id=draft.pk)
    page = chromium.new_context(viewport=PHONE, has_touch=True).new_page()
    login(page, live_server.url, "regen-phone", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/review/")

    page.tap(f"#queue-item-{draft.pk}")
    page.wait_for_selector("#detail .version-change", state="visible")
    assert horizontal_overflow(page)["over"] <= 0
    summary = page.locator("#detail .version-change summary").bounding_box()
    assert summary["height"] >= 44
    page.locator("#detail .version-change").scroll_into_view_if_needed()
    screenshot(page, "phone-regenerated-diff")

    assert page.locator("#detail .headers .preview-text").is_visible()
    page.tap("[data-action=edit]")
    page.fill("#edit-preview", "A two-minute read before our call")
    page.tap("#edit-form button[type=submit]")
    page.wait_for_selector("#detail [role=status]:has-text('Approved your edited email')")
    assert OutboundMessage.objects.get(draft_ref=draft.pk).preview_text == "A two-minute read before our call"
