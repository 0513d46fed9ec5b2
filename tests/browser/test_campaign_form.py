"""The campaign form in Chromium, on a laptop and on a phone: an error keeps what was typed, focus
lands on the first field that needs attention and its error is what describes it; inline checks
never replace what is being typed; the preview's step picker follows new steps without a reload."""

from __future__ import annotations

import pytest

from campaigns.models import Campaign
from tests.factories import DEFAULT_PASSWORD, UserFactory

from .conftest import DESKTOP, PHONE, horizontal_overflow, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FOCUSED = """() => {
  const el = document.activeElement;
  const ids = (el.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
  return {name: el.name, described: ids.map(id => {
    const target = document.getElementById(id);
    return target ? target.textContent.trim() : null;
  })};
}"""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_an_error_keeps_what_was_typed_and_focus_goes_to_the_first_error(chromium, live_server, viewport):
    UserFactory(username="form-csm", role="csm", first_name="Carla", last_name="Mendes")
    rita = UserFactory(username="form-rita", role="rep", first_name="Rita", last_name="Rep")
    page = chromium.new_context(viewport=viewport).new_page()
    login(page, live_server.url, "form-csm", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/campaigns/new/")

    page.fill("#id_name", "Q3 renewals")
    page.select_option("#id_sender_mode", "named")  # but nobody named: an error
    # The inline check answers while the next field is being typed: the typing survives it.
    page.type("#id_goal", "Book renewal calls before the quarter ends", delay=15)
    page.wait_for_function("() => document.getElementById('id_named_sender_error').textContent.includes('Pick who')")
    assert page.input_value("#id_goal") == "Book renewal calls before the quarter ends"
    page.fill("#id_window_start", "17:00")  # a time picker: only times can be picked
    page.fill("#id_window_end", "09:00")  # but it ends before it starts
    page.check("#id_window_days_1")
    page.click("button[type=submit].primary")
    page.wait_for_load_state("load")

    assert not Campaign.objects.exists()
    assert page.input_value("#id_name") == "Q3 renewals"
    assert page.input_value("#id_goal") == "Book renewal calls before the quarter ends"
    assert page.input_value("#id_window_start") == "17:00" and page.is_checked("#id_window_days_1")
    assert page.input_value("#id_window_end") == "09:00" and page.get_attribute("#id_window_end", "type") == "time"
    assert "must end after it starts" in page.inner_text("#id_window_end_error")
    page.wait_for_function("() => document.activeElement && document.activeElement.name === 'named_sender'")
    focused = page.evaluate(FOCUSED)
    assert focused["name"] == "named_sender"
    assert None not in focused["described"] and any("Pick who sends" in text for text in focused["described"])
    assert page.locator("#id_named_sender option").first.inner_text() != "---------"
    assert horizontal_overflow(page)["over"] <= 0
    name = "desktop" if viewport is DESKTOP else "phone"
    page.locator("#id_named_sender").scroll_into_view_if_needed()
    screenshot(page, f"{name}-campaign-form-error")

    page.select_option("#id_named_sender", str(rita.pk))
    page.fill("#id_window_start", "09:00")
    page.fill("#id_window_end", "")
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{live_server.url}/campaigns/*/")
    campaign = Campaign.objects.get()
    assert campaign.name == "Q3 renewals" and campaign.named_sender == rita
    assert campaign.send_window == {"days": [1], "start": "09:00", "end": ""}


def test_the_preview_step_picker_follows_a_new_step_without_a_reload(chromium, live_server):
    csm = UserFactory(username="steps-csm", role="csm")
    campaign = Campaign.objects.create(name="Fresh", created_by=csm)
    page = chromium.new_context(viewport=DESKTOP).new_page()
    login(page, live_server.url, "steps-csm", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    assert page.locator("#preview-step option").all_inner_texts() == ["(no steps yet)"]
    page.evaluate("() => { window.notReloaded = true; }")

    page.click("details.add-step summary")
    page.fill("details.add-step textarea[name=prompt]", "Ask whether the renewal date still works")
    page.click("details.add-step button[type=submit]")

    page.wait_for_function("() => document.querySelector('#preview-step option').value !== ''")
    assert page.locator("#preview-step option").all_inner_texts() == [
        "Step 1: Ask whether the renewal date still works"
    ]
    assert page.evaluate("() => window.notReloaded === true")


def test_the_contact_page_lists_properties_set_after_a_send_on_a_phone(chromium, live_server):
    from tests.factories import RecipientFactory

    csm = UserFactory(username="props-csm", role="csm")
    recipient = RecipientFactory(
        owner=csm,
        properties={
            "last_outreach_at": "2026-12-07T20:15:03.123456+00:00",
            "last_renewal_outreach": "2026-12-07",
            "renewal_note": "Q3 renewals: Your renewal on 23 December and the forecasting module",
        },
    )
    page = chromium.new_context(viewport=PHONE).new_page()
    login(page, live_server.url, "props-csm", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/recipients/{recipient.pk}/")

    properties = page.locator("dl.properties")
    assert "last_renewal_outreach" in properties.inner_text() and "2026-12-07" in properties.inner_text()
    assert horizontal_overflow(page)["over"] <= 0
    properties.scroll_into_view_if_needed()
    screenshot(page, "phone-contact-properties")
