"""The campaign form explains itself: errors keep what was typed and point at elements that exist,
selects have real labels, the extra suppression lists are offered, the preview follows the steps,
and settings are shown in words."""

from __future__ import annotations

from html.parser import HTMLParser

from django.urls import reverse

from campaigns.display import event_kind_words, skip_code_words
from campaigns.models import Campaign, EnrollmentEvent, MilestoneRule
from outreach.suppression.models import SuppressionList
from tests.factories import UserFactory

from .conftest import make_campaign
from .test_views import HTMX, campaign_payload


class _Ids(HTMLParser):
    """Every id on the page, every aria-describedby reference, and which elements have autofocus
    or aria-invalid."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.described: dict[str, list[str]] = {}
        self.invalid: list[str] = []
        self.values: dict[str, str] = {}
        self.checked: set[tuple[str, str]] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(a["id"])
        if a.get("aria-describedby"):
            self.described[a.get("id") or a.get("name") or tag] = a["aria-describedby"].split()
        if a.get("aria-invalid") == "true":
            self.invalid.append(a.get("name") or "")
        if tag == "input" and a.get("name") and a.get("type") not in ("checkbox", "radio", "hidden"):
            self.values[a["name"]] = a.get("value") or ""
        if tag == "input" and "checked" in a:
            self.checked.add((a.get("name") or "", a.get("value") or ""))


def parse(html: str) -> _Ids:
    parser = _Ids()
    parser.feed(html)
    return parser


def test_it_keeps_what_was_typed_when_the_form_has_errors(csm_client):
    payload = campaign_payload(name="Q3 renewals", sender_mode="named", window_start="9am", window_days=["1", "3"])

    response = csm_client.post(reverse("campaign_create"), payload)

    assert response.status_code == 200 and not Campaign.objects.exists()
    page = parse(response.content.decode())
    assert page.values["name"] == "Q3 renewals" and page.values["window_start"] == "9am"
    assert {("window_days", "1"), ("window_days", "3")} <= page.checked
    html = response.content.decode()
    assert '<option value="named" selected>' in html and "The forecasting module is included" in html


def test_every_aria_describedby_points_at_an_element_that_is_rendered(csm_client):
    response = csm_client.post(reverse("campaign_create"), campaign_payload(name="", sender_mode="round_robin"))

    page = parse(response.content.decode())
    assert page.described, "the fields with errors or help text are described"
    for element, ids in page.described.items():
        for target in ids:
            assert target in page.ids, f"{element} points at #{target}, which is not on the page"
    assert page.ids.count("id_name_error") == 1
    # The round-robin group is a fieldset described by its error, its checkboxes marked invalid.
    assert page.described["field-round_robin_senders"] == ["id_round_robin_senders_error"]


def test_the_first_field_with_an_error_is_the_first_marked_invalid(csm_client):
    """app.js focuses the first [aria-invalid] on load: it must be the first field in error."""
    response = csm_client.post(reverse("campaign_create"), campaign_payload(name="", window_end="25:00"))

    page = parse(response.content.decode())
    assert page.invalid[0] == "name" and "window_end" in page.invalid


def test_inline_validation_fills_the_error_slots_and_leaves_the_inputs_alone(csm_client):
    response = csm_client.post(
        reverse("campaign_create"), campaign_payload(sender_mode="named", window_end="08:00", _validate="1"), **HTMX
    )

    html = response.content.decode()
    assert response.status_code == 200 and not Campaign.objects.exists()
    assert "Pick who sends" in html and "must end after it starts" in html
    assert "<input" not in html and "<textarea" not in html and "<html" not in html
    assert 'id="id_named_sender_error" aria-live="polite" hx-swap-oob="true"' in html
    # A slot whose error was fixed is emptied too.
    assert 'id="id_name_error" aria-live="polite" hx-swap-oob="true"></div>' in html


def test_the_named_sender_select_has_a_real_label_instead_of_dashes(csm_client):
    html = csm_client.get(reverse("campaign_create")).content.decode()

    assert "---------" not in html
    assert "Nobody named yet" in html


def test_extra_suppression_lists_are_offered_as_choices(csm_client):
    partners = SuppressionList.objects.create(name="Partners", description="Resellers we never email")

    html = csm_client.get(reverse("campaign_create")).content.decode()

    assert f'value="{partners.pk}"' in html and "Partners: Resellers we never email" in html
    response = csm_client.post(reverse("campaign_create"), campaign_payload(suppression_lists=[partners.pk]))
    assert response.status_code == 302
    assert list(Campaign.objects.get().suppression_lists.all()) == [partners]


def test_without_extra_lists_the_form_says_so_and_links_admins_to_create_one(csm_client, login_client):
    SuppressionList.objects.filter(is_global=False).delete()

    html = csm_client.get(reverse("campaign_create")).content.decode()
    assert "there are none yet, so only the global list applies" in html
    assert "An admin can create one" in html

    admin = UserFactory(username="boss", role="admin", is_staff=True, is_superuser=True)
    admin_html = login_client(admin).get(reverse("campaign_create")).content.decode()
    assert reverse("admin:outreach_suppressionlist_add") in admin_html


def test_the_preview_step_picker_refreshes_when_steps_change(csm_client, csm):
    campaign = make_campaign(steps=0, status=Campaign.Status.DRAFT, created_by=csm)
    page = csm_client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    assert 'hx-trigger="stepsChanged from:body"' in page and "(no steps yet)" in page

    added = csm_client.post(
        reverse("campaign_step_add", args=[campaign.pk]), {"delay_days": 0, "prompt": "Ask about the renewal"}, **HTMX
    )
    assert "stepsChanged" in added["HX-Trigger"]
    picker = csm_client.get(reverse("campaign_detail", args=[campaign.pk]) + "?part=preview-steps", **HTMX)

    html = picker.content.decode()
    step = campaign.steps.get()
    assert html.lstrip().startswith("<select") and f'value="{step.pk}"' in html
    assert "Step 1: Ask about the renewal" in html


def test_milestone_rule_parameters_and_enrollment_history_are_in_words(csm_client, csm):
    campaign = make_campaign(created_by=csm)
    MilestoneRule.objects.create(campaign=campaign, kind="usage_drop", parameters={"percent": 40, "days": 14})
    html = csm_client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    assert "When usage drops 40 % or more over 14 days" in html and "{&#x27;percent&#x27;" not in html

    from campaigns import services
    from tests.factories import RecipientFactory

    enrollment = services.enrollment_create(campaign=campaign, recipient=RecipientFactory(owner=csm))
    services.enrollment_advance_due()
    assert EnrollmentEvent.objects.filter(enrollment=enrollment, kind="draft_requested").exists()
    detail = csm_client.get(reverse("enrollment_detail", args=[enrollment.pk])).content.decode()
    assert "Draft requested" in detail and "Active → Waiting for review" in detail
    assert "draft_requested" not in detail and "waiting_review" not in detail


def test_words_for_event_kinds_and_skips():
    assert event_kind_words("send_failed_continue") == "Send failed; the sequence goes on"
    assert event_kind_words("brand_new_kind") == "Brand new kind"
    assert skip_code_words("already_open") == "Skipped: an email for them was already open"
    assert skip_code_words("entry_declined") == "Skipped: entry declined"
