"""The analytics page, its diff view and who may open them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import DraftEditFactory, DraftFactory

SIGNALS = reverse("edit_analytics")


def test_a_rep_may_not_open_the_edit_analytics_page(rep_client):
    assert rep_client.get(SIGNALS).status_code == 403


def test_a_csm_opens_the_edit_analytics_page(csm_client):
    response = csm_client.get(SIGNALS)
    assert response.status_code == 200
    assert b"Edit analytics" in response.content


def test_an_admin_opens_the_edit_analytics_page(admin_client_):
    assert admin_client_.get(SIGNALS).status_code == 200


def test_the_page_shows_the_figures_of_the_period(csm_client, world):
    page = " ".join(csm_client.get(SIGNALS).content.decode().split())
    assert "8 decisions and 3 edits from" in page
    assert ">62%<" in page  # approval rate 5/8
    assert ">60%<" in page  # edit rate 3/5
    assert ">0.30<" in page  # median edit distance
    assert "Wrong or invented facts (1)" in page  # a reason in the per-campaign table


def test_every_chart_is_an_accessible_svg_with_title_and_description(csm_client, world):
    page = csm_client.get(SIGNALS).content.decode()
    for chart_id in ("chart-weekly", "chart-trend-campaign", "chart-campaign", "chart-sender", "chart-model"):
        assert (
            f'<svg id="{chart_id}" class="chart-svg" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc"'
            in page
        )
        assert f'<title id="{chart_id}-title">' in page
        assert f'<desc id="{chart_id}-desc">' in page


def test_the_learning_trend_is_explained_on_the_page(csm_client, world):
    page = csm_client.get(SIGNALS).content.decode()
    assert "Learning from edits" in page
    assert "median edit distance per week falls" in page


def test_an_htmx_filter_returns_only_the_analytics_part(csm_client, world):
    response = csm_client.get(SIGNALS, {"campaign": world.webinar.pk, "start": "", "end": ""}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page
    assert 'id="analytics-summary"' in page
    assert "4 decisions and 1 edit from the beginning to today, in one campaign" in " ".join(page.split())


def test_without_htmx_the_same_filter_renders_the_whole_page(csm_client, world):
    page = csm_client.get(SIGNALS, {"campaign": world.webinar.pk, "start": "", "end": ""}).content.decode()
    assert "<html" in page
    assert "4 decisions and 1 edit from the beginning to today, in one campaign" in " ".join(page.split())


def test_an_invalid_filter_says_so_and_shows_the_default_period(csm_client, world):
    page = csm_client.get(SIGNALS, {"start": "2026-05-01", "end": "2026-01-01"}).content.decode()
    assert "The start date is after the end date." in page
    assert "8 decisions" in page


def test_the_nav_and_home_link_to_edit_analytics_for_a_csm(csm_client):
    page = csm_client.get(reverse("home")).content.decode()
    assert f'href="{SIGNALS}">Signals</a>' in page
    assert "Open edit analytics" in page


def test_the_nav_and_home_do_not_link_to_edit_analytics_for_a_rep(rep_client):
    page = rep_client.get(reverse("home")).content.decode()
    assert SIGNALS not in page


def test_the_most_edited_drafts_link_to_their_diff(csm_client, world):
    page = csm_client.get(SIGNALS).content.decode()
    assert reverse("edit_analytics_edit", args=[world.edits["large"].pk]) in page


@pytest.fixture
def hostile_edit(db):
    draft = DraftFactory(state="approved")
    return DraftEditFactory(
        draft=draft,
        subject_before="Hello <b>there</b>",
        subject_after="Hello friend",
        body_before="Hi,\nplease read <script>alert('x')</script> this.",
        body_after="Hi,\nplease read this today.",
    )


def test_the_diff_view_shows_removed_and_added_words(csm_client, hostile_edit):
    page = csm_client.get(reverse("edit_analytics_edit", args=[hostile_edit.pk])).content.decode()
    assert '<ins><span class="visually-hidden">added: </span>friend</ins>' in page
    assert '<ins><span class="visually-hidden">added: </span>today.</ins>' in page
    assert "<del>" in page


def test_the_diff_view_renders_html_in_drafts_as_text(csm_client, hostile_edit):
    page = csm_client.get(reverse("edit_analytics_edit", args=[hostile_edit.pk])).content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "<b>there" not in page
    assert "&lt;b&gt;there&lt;/b&gt;" in page


def test_a_rep_may_not_open_a_diff(rep_client, hostile_edit):
    assert rep_client.get(reverse("edit_analytics_edit", args=[hostile_edit.pk])).status_code == 403


def test_a_diff_that_does_not_exist_is_not_found(csm_client, db):
    assert csm_client.get(reverse("edit_analytics_edit", args=[999999])).status_code == 404


def test_quick_ranges_keep_the_chosen_campaign(csm_client, world):
    page = csm_client.get(SIGNALS, {"campaign": world.webinar.pk}).content.decode()
    assert page.count(f"&amp;campaign={world.webinar.pk}") >= 4  # three quick ranges and the export link
