"""The analytics page and the export use a fixed number of queries, however many drafts there are."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import CampaignFactory, DraftDecisionFactory, DraftEditFactory, DraftFactory, UserFactory

# Session, user, two permission lookups, the role's groups, the campaign choices, and the analytics
# themselves (21: counts, reasons and medians for overall/week/campaign/sender/model, two trends,
# the most-edited drafts, with-and-without-examples per campaign and per sender, prompt cache reads
# per campaign).
PAGE_MAX_QUERIES = 27

ACTIONS = ("approve", "edit_approve", "reject", "edit_approve", "regenerate")


def _add_drafts(count: int, *, start: int = 0) -> None:
    senders = [UserFactory(username=f"qc-sender-{i}", role="rep") for i in range(3)]
    campaigns = [CampaignFactory(name=f"QC campaign {i}") for i in range(4)]
    now = timezone.now()
    for i in range(start, start + count):
        action = ACTIONS[i % len(ACTIONS)]
        when = now - timedelta(days=(i * 3) % 70)
        draft = DraftFactory(
            campaign=campaigns[i % len(campaigns)],
            sender=senders[i % len(senders)],
            provider=("anthropic", "offline")[i % 2],
            model_name=("claude-sonnet-4-5", "offline-template-1")[i % 2],
            state="approved" if "approve" in action else "rejected",
        )
        if action == "edit_approve":
            DraftEditFactory(draft=draft, normalized_similarity=(i % 10) / 10, created_at=when)
        DraftDecisionFactory(draft=draft, action=action, reason="tone" if action == "reject" else "", created_at=when)


@pytest.mark.parametrize("drafts", [10, 200])
def test_the_edit_analytics_page_uses_a_bounded_number_of_queries(csm_client, django_assert_max_num_queries, drafts):
    _add_drafts(drafts)
    with django_assert_max_num_queries(PAGE_MAX_QUERIES):
        response = csm_client.get(reverse("edit_analytics"))
    assert response.status_code == 200
    assert response.context["analytics"].overall.regenerated == drafts // len(ACTIONS)


def test_the_edit_analytics_page_uses_the_same_queries_for_10_and_200_drafts(csm_client):
    _add_drafts(10)
    with CaptureQueriesContext(connection) as few:
        csm_client.get(reverse("edit_analytics"))
    _add_drafts(190, start=10)
    with CaptureQueriesContext(connection) as many:
        csm_client.get(reverse("edit_analytics"))
    assert len(few) == len(many)


@pytest.mark.parametrize("drafts", [10, 200])
def test_the_csv_export_uses_a_bounded_number_of_queries(csm_client, django_assert_max_num_queries, drafts):
    _add_drafts(drafts)
    with django_assert_max_num_queries(8):
        response = csm_client.get(reverse("edit_analytics_export"))
        lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == drafts + 1
