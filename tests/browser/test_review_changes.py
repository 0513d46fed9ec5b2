"""Review in Chromium, on a laptop and on a 390 px phone: what a regenerated version changed (word
diff, by keyboard and by touch), the preview text edited with the email, and bulk approve of ticked
drafts (keyboard, touch, a confirmation of the count)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from outreach.mail.models import OutboundMessage
from review import services
from review.models import Draft
from tests.factories import DEFAULT_PASSWORD, FactFactory, RecipientFactory, UserFactory

from .conftest import DESKTOP, PHONE, horizontal_overflow, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.broker, pytest.mark.django_db(transaction=True)]


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
    expect(page.locator("#regenerate-instruction")).to_be_focused()
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

    # The page already shows this (only) draft; the tap loads it again into #detail. Wait for that
    # swap to land, or the edit below goes into a form about to be replaced.
    with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true"):
        page.tap(f"#queue-item-{draft.pk}")
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")
    page.wait_for_selector("#detail .version-change", state="visible")
    assert horizontal_overflow(page)["over"] <= 0
    # Measured in the page once the summary is laid out (bounding_box() is None while the detail
    # pane is still being swapped in on a busy machine).
    summary_height = page.wait_for_function(
        "() => document.querySelector('#detail .version-change summary')?.getBoundingClientRect().height"
    ).json_value()
    assert summary_height >= 44
    page.locator("#detail .version-change").scroll_into_view_if_needed()
    screenshot(page, "phone-regenerated-diff")

    assert page.locator("#detail .headers .preview-text").is_visible()
    page.tap("[data-action=edit]")
    page.fill("#edit-preview", "A two-minute read before our call")
    page.tap("#edit-form button[type=submit]")
    page.wait_for_selector("#detail [role=status]:has-text('Approved your edited email')")
    assert OutboundMessage.objects.get(draft_ref=draft.pk).preview_text == "A two-minute read before our call"


def _grounded(rep, n: int) -> list[Draft]:
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import DraftFactory

    now = timezone.now()
    return [
        DraftFactory(
            sender=rep,
            recipient=RecipientFactory(first_name=f"Person{i}", owner=rep),
            grounding=[],
            unsupported_claim_count=0 if i else 1,  # the first has a claim to check
            ready_at=now - timedelta(minutes=10 - i),
            subject=f"Subject {i}",
        )
        for i in range(n)
    ]


def test_bulk_approve_by_keyboard_with_a_confirmation_of_the_count(chromium, live_server):
    rep = UserFactory(username="bulk-rep", role="rep")
    flagged, first, second, third = _grounded(rep, 4)
    page = chromium.new_context(viewport=DESKTOP).new_page()
    login(page, live_server.url, "bulk-rep", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/review/")
    assert page.locator(f"#queue-item-{flagged.pk}").is_visible()
    assert page.locator(f"input[data-bulk][data-draft-id='{flagged.pk}']").count() == 0

    page.focus("#draft")
    page.keyboard.press("x")  # the draft on screen has an unsupported claim: refused, visibly
    assert "cannot be approved with others" in page.wait_for_selector("#queue-refused:not([hidden])").inner_text()
    page.keyboard.press("j")
    page.wait_for_function(f"() => document.querySelector('#draft').dataset.draftId === '{first.pk}'")
    page.keyboard.press("x")  # ticks the draft on screen
    page.focus(f"input[data-bulk][data-draft-id='{second.pk}']")
    page.keyboard.press("Space")
    assert page.inner_text("[data-bulk-count]") == "2"
    screenshot(page, "desktop-queue-bulk-selected")

    page.focus("[data-action=bulk-approve]")
    page.keyboard.press("Enter")
    heading = page.wait_for_selector("#bulk-heading")
    assert heading.inner_text() == "Approve 2 emails?"
    assert Draft.objects.filter(state=Draft.State.APPROVED).count() == 0
    page.focus("[data-action=bulk-confirm]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#detail [role=status]:has-text('Approved 2 emails')")
    # The approved drafts leave the list, and the selection with them.
    page.wait_for_selector(f"#queue-item-{first.pk}", state="detached")
    page.wait_for_function("() => document.querySelector('[data-bulk-count]').textContent === '0'")

    assert set(Draft.objects.filter(state=Draft.State.APPROVED).values_list("pk", flat=True)) == {first.pk, second.pk}
    assert page.locator(f"#queue-item-{third.pk}").is_visible()


def test_bulk_approve_by_touch_on_a_phone(chromium, live_server):
    rep = UserFactory(username="bulk-phone", role="rep")
    _, first, second = _grounded(rep, 3)
    page = chromium.new_context(viewport=PHONE, has_touch=True).new_page()
    login(page, live_server.url, "bulk-phone", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/review/")

    boxes = page.locator("#queue-list label.bulk-check")
    for i in range(boxes.count()):
        box = boxes.nth(i).bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44
    assert page.locator("[data-action=bulk-approve]").bounding_box()["height"] >= 44
    page.tap(f"label:has(input[data-draft-id='{first.pk}'])")
    page.tap(f"label:has(input[data-draft-id='{second.pk}'])")
    assert horizontal_overflow(page)["over"] <= 0
    screenshot(page, "phone-queue-bulk-selected")

    page.tap("[data-action=bulk-approve]")
    page.wait_for_selector("#bulk-heading", state="visible")
    assert page.inner_text("#bulk-heading") == "Approve 2 emails?"
    assert horizontal_overflow(page)["over"] <= 0
    screenshot(page, "phone-bulk-confirm")
    page.tap("[data-action=bulk-confirm]")
    page.wait_for_selector("#detail [role=status]:has-text('Approved 2 emails')")
    assert Draft.objects.filter(state=Draft.State.APPROVED).count() == 2
