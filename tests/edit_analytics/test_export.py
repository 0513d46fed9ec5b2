"""The CSV export: one row per decision, streamed, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io

from django.http import StreamingHttpResponse
from django.urls import reverse

from review.selectors import EXPORT_COLUMNS
from tests.factories import CampaignFactory, DraftDecisionFactory, DraftEditFactory, DraftFactory

EXPORT = reverse("edit_analytics_export")


def _rows(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_a_rep_may_not_export(rep_client):
    assert rep_client.get(EXPORT).status_code == 403


def test_the_export_is_a_streamed_csv_attachment(csm_client, world):
    response = csm_client.get(EXPORT)
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="draft-decisions-')


def test_the_export_has_one_row_per_decision_with_the_edit_figures(csm_client, world):
    rows = _rows(csm_client.get(EXPORT))
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    assert len(rows) == 9
    assert {r["action"] for r in rows} == {"approve", "edit_approve", "reject", "regenerate"}
    large = world.edits["large"]
    row = next(r for r in rows if r["draft_id"] == str(large.draft_id))
    assert row["campaign"] == "Webinar"
    assert row["sender"] == "sam"
    assert (row["provider"], row["model"]) == ("offline", "offline-template-1")
    assert row["action"] == "edit_approve"
    assert row["char_distance"] == "50"
    assert float(row["normalized_similarity"]) == 0.5
    assert row["word_distance"] == "1"
    assert row["changed_parts"] == "body"
    assert row["decided_at"].startswith(world.now.date().isoformat())


def test_decisions_without_an_edit_have_empty_edit_figures(csm_client, world):
    rows = _rows(csm_client.get(EXPORT))
    rejected = [r for r in rows if r["action"] == "reject"]
    assert {r["reason"] for r in rejected} == {"tone", "wrong_facts"}
    assert all(r["char_distance"] == r["normalized_similarity"] == r["changed_parts"] == "" for r in rejected)


def test_the_export_follows_the_campaign_filter(csm_client, world):
    rows = _rows(csm_client.get(EXPORT, {"campaign": world.renewals.pk, "start": "", "end": ""}))
    assert len(rows) == 4
    assert {r["campaign"] for r in rows} == {"Renewals"}


def test_cells_that_a_spreadsheet_would_run_as_formulas_are_quoted(csm_client, db):
    campaign = CampaignFactory(name='=HYPERLINK("http://evil.example","x")')
    draft = DraftFactory(campaign=campaign, model_name="@SUM(A1:A9)", state="rejected")
    DraftDecisionFactory(draft=draft, action="reject", reason="+1+1", note="-2+3 cmd|' /C calc'!A0")
    row = _rows(csm_client.get(EXPORT))[0]
    assert row["campaign"] == '\'=HYPERLINK("http://evil.example","x")'
    assert row["model"] == "'@SUM(A1:A9)"
    assert row["reason"] == "'+1+1"
    assert row["note"] == "'-2+3 cmd|' /C calc'!A0"


def test_numbers_and_plain_text_are_not_quoted(csm_client, db):
    draft = DraftFactory(state="approved")
    DraftEditFactory(draft=draft, normalized_similarity=0.25, char_distance=12, word_distance=3)
    DraftDecisionFactory(draft=draft, action="edit_approve", note="fine")
    row = _rows(csm_client.get(EXPORT))[0]
    assert (row["char_distance"], row["normalized_similarity"], row["word_distance"]) == ("12", "0.25", "3")
    assert row["note"] == "fine"
