"""An approval its approver undid sent nothing: edit analytics, the learning figures and the export
do not count it as approved. Decisions are made through the real services."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from review import services
from review.models import DraftDecision
from review.selectors import EditAnalyticsFilter, edit_analytics
from tests.factories import CampaignFactory, DraftFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    return CampaignFactory(name="Renewals")


def _approve(draft, user, version, **edits):
    return services.draft_approve(draft=draft, user=user, expected_version=version, **edits)


def test_it_does_not_count_an_undone_approval_as_approved(rep, campaign, undo_hold):
    kept, undone = DraftFactory(sender=rep, campaign=campaign), DraftFactory(sender=rep, campaign=campaign)
    _approve(kept, rep, 1)
    _approve(undone, rep, 1)
    services.draft_undo_approve(draft=undone, user=rep, expected_version=2)

    overall = edit_analytics(flt=EditAnalyticsFilter.default()).overall
    assert (overall.approved, overall.edited, overall.decided) == (1, 0, 1)
    assert overall.approval_rate == 1.0


def test_it_does_not_count_an_undone_edit_and_approve_as_edited(rep, campaign, undo_hold):
    draft = DraftFactory(sender=rep, campaign=campaign)
    rejected = DraftFactory(sender=rep, campaign=campaign)
    _approve(draft, rep, 1, body_text="Hi, a shorter note.")
    services.draft_undo_approve(draft=draft, user=rep, expected_version=2)
    services.draft_reject(draft=rejected, user=rep, expected_version=1, reason="tone")

    analytics = edit_analytics(flt=EditAnalyticsFilter.default())
    assert (analytics.overall.approved, analytics.overall.edited, analytics.overall.rejected) == (0, 0, 1)
    assert analytics.overall.approval_rate == 0.0
    # No approval left to learn from either.
    assert analytics.learning_by_campaign == []


def test_an_approval_made_again_after_an_undo_counts_once(rep, campaign, undo_hold):
    draft = DraftFactory(sender=rep, campaign=campaign)
    _approve(draft, rep, 1)
    services.draft_undo_approve(draft=draft, user=rep, expected_version=2)
    _approve(draft, rep, 3)

    overall = edit_analytics(flt=EditAnalyticsFilter.default()).overall
    assert (overall.approved, overall.decided) == (1, 1)
    first, undo, second = DraftDecision.objects.filter(draft=draft).order_by("pk")
    assert (first.action, undo.action, second.action) == ("approve", "undo_approve", "approve")
    assert first.undone_at == undo.created_at and second.undone_at is None


def test_the_analytics_page_and_the_export_show_the_undo(rep, csm_client, campaign, undo_hold):
    draft = DraftFactory(sender=rep, campaign=campaign)
    _approve(draft, rep, 1)
    services.draft_undo_approve(draft=draft, user=rep, expected_version=2)

    page = csm_client.get(reverse("edit_analytics"))
    assert page.context["analytics"].overall.approved == 0
    assert "An approval its approver undid is not counted" in page.content.decode()

    export = b"".join(csm_client.get(reverse("edit_analytics_export")).streaming_content).decode()
    rows = {row["action"]: row for row in csv.DictReader(io.StringIO(export))}
    assert rows["approve"]["undone_at"] != "" and rows["undo_approve"]["undone_at"] == ""
