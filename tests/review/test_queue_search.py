"""Searching the queue by name, email or company; the list updates in place with the counts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from review import selectors
from tests.factories import AccountFactory, DraftFactory, RecipientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def three(rep):
    return {
        "liu": DraftFactory(sender=rep, recipient=RecipientFactory(first_name="Liu", last_name="Yang", owner=rep)),
        "marco": DraftFactory(
            sender=rep,
            recipient=RecipientFactory(
                first_name="Marco",
                email="marco@cobalt.example",
                account=AccountFactory(name="Cobalt Retail"),
                owner=rep,
            ),
        ),
        "noah": DraftFactory(
            sender=rep,
            recipient=RecipientFactory(first_name="Noah", account=AccountFactory(name="Delta Foods"), owner=rep),
        ),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("liu", ["liu"]),
        ("YANG", ["liu"]),
        ("cobalt.example", ["marco"]),
        ("delta", ["noah"]),
        ("cobalt retail", ["marco"]),
    ],
)
def test_the_queue_is_searched_by_name_email_or_company(rep, three, query, expected):
    filters = selectors.QueueFilters.from_params({"q": query})
    ids = [d.pk for d in selectors.draft_queue_page(user=rep, filters=filters)]
    assert ids == [three[name].pk for name in expected]


def test_a_search_never_reaches_another_reps_drafts(rep, other_rep, three):
    DraftFactory(sender=other_rep, recipient=RecipientFactory(first_name="Liu", owner=other_rep))
    filters = selectors.QueueFilters.from_params({"q": "liu"})
    assert [d.pk for d in selectors.draft_queue_page(user=rep, filters=filters)] == [three["liu"].pk]


def test_the_search_travels_with_each_decision(three):
    filters = selectors.QueueFilters.from_params({"q": "  cobalt   retail "})
    assert filters.as_query() == "q=cobalt+retail"
    assert '<input type="hidden" name="q" value="cobalt retail">' in filters.as_hidden_inputs()


def test_filtering_returns_the_list_and_the_counts_out_of_band(rep_client, three, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = rep_client.get(
            reverse("review_queue"),
            {"q": "noah"},
            HTTP_HX_REQUEST="true",
            HTTP_HX_TARGET="queue-list",
            HTTP_HX_TRIGGER="queue-filters",
        )
    html = response.content.decode()
    assert html.lstrip().startswith('<ol id="queue-list"')
    assert f'data-draft-id="{three["noah"].pk}"' in html and f'data-draft-id="{three["liu"].pk}"' not in html
    assert '<div id="queue-counts" class="queue-counts" hx-swap-oob="true"' in html
    assert 'id="detail"' not in html  # the draft on screen stays


def test_nothing_found_says_so(rep_client, three):
    html = rep_client.get(
        reverse("review_queue"), {"q": "zebra"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="queue-list"
    ).content.decode()
    assert "No draft matches “zebra”." in html
