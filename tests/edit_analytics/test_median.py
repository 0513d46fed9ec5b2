"""The median edit distance is the same whether PostgreSQL or Python (on SQLite) computes it."""

from __future__ import annotations

import statistics

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from review.models import DraftEdit
from review.selectors import CAMPAIGN_KEYS, edit_similarity_medians
from tests.factories import CampaignFactory, DraftEditFactory, DraftFactory

SIMILARITIES = {"Odd": [0.91, 0.35, 0.62], "Even": [0.2, 0.9, 0.4, 0.6]}


@pytest.fixture
def edits(db):
    for name, values in SIMILARITIES.items():
        campaign = CampaignFactory(name=name)
        for value in values:
            DraftEditFactory(draft=DraftFactory(campaign=campaign, state="approved"), normalized_similarity=value)


def test_the_median_of_an_odd_and_an_even_group_matches_pythons(edits):
    medians = edit_similarity_medians(DraftEdit.objects.all(), keys=CAMPAIGN_KEYS)
    by_name = {key[1]: value for key, value in medians.items()}
    assert by_name["Odd"] == (pytest.approx(0.62), 3)
    assert by_name["Even"] == (pytest.approx(0.5), 4)  # halfway between .4 and .6, as percentile_cont does


def test_the_median_of_everything_is_one_query(edits):
    with CaptureQueriesContext(connection) as queries:
        medians = edit_similarity_medians(DraftEdit.objects.all())
    assert len(queries) == 1
    everything = [v for values in SIMILARITIES.values() for v in values]
    assert medians == {(): (pytest.approx(statistics.median(everything)), len(everything))}


def test_no_edits_means_no_median(db):
    assert edit_similarity_medians(DraftEdit.objects.all()) == {}
    assert edit_similarity_medians(DraftEdit.objects.all(), keys=CAMPAIGN_KEYS) == {}


@pytest.mark.postgres
def test_postgresql_computes_the_median_in_the_database_with_the_same_result(edits):
    with CaptureQueriesContext(connection) as queries:
        medians = edit_similarity_medians(DraftEdit.objects.all(), keys=CAMPAIGN_KEYS)
    assert "PERCENTILE_CONT(0.5) WITHIN GROUP" in queries[0]["sql"]
    in_python = {name: statistics.median(values) for name, values in SIMILARITIES.items()}
    assert {key[1]: median for key, (median, _) in medians.items()} == pytest.approx(in_python)
