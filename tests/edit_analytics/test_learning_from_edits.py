"""Learning from edits, measured: each draft records the edit examples it was given, the edit
analytics page compares edit distance with and without them, and with a reviewer who always
makes the same edits the distance falls (offline writer, and a model behind the Anthropic stub)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from outreach.drafting import AnthropicProvider, OfflineProvider
from review import selectors, services
from review.models import Draft

from .learning_sim import reviewer_edit, run, simulated_model

pytestmark = pytest.mark.django_db


def test_the_first_draft_has_no_examples_and_later_ones_record_theirs(rep):
    run(4, OfflineProvider(), sender=rep)
    drafts = list(Draft.objects.order_by("id"))
    assert drafts[0].edit_example_ids == []
    assert drafts[1].edit_example_ids == [drafts[0].edits.get().pk]
    assert len(drafts[3].edit_example_ids) >= 1


def test_with_a_reviewer_who_always_makes_the_same_edits_the_offline_distance_falls(rep):
    distances = run(6, OfflineProvider(), sender=rep)
    assert distances[0] > 0
    assert distances[-1] < distances[0]
    assert distances[-3:] == [0, 0, 0]  # it writes what the reviewer would send


def test_without_examples_the_distance_stays(rep, monkeypatch):
    monkeypatch.setattr(services, "EDIT_EXAMPLES", 0)
    distances = run(4, OfflineProvider(), sender=rep)
    assert min(distances) > 0 and max(distances) - min(distances) < min(distances) // 4


def test_with_the_anthropic_stub_the_examples_reach_the_model_and_the_distance_falls(rep, anthropic_stub):
    anthropic_stub.responder = simulated_model
    provider = AnthropicProvider(api_key="k", model="claude-sonnet-4-6", base_url=anthropic_stub.url, max_retries=0)
    distances = run(4, provider, sender=rep)
    assert "<edit_examples>" not in anthropic_stub.requests[0].json["system"][1]["text"]
    assert "<edit_examples>" in anthropic_stub.last.json["system"][1]["text"]
    assert distances[0] > 0 and distances[-1] < distances[0]


def test_the_edit_analytics_page_compares_with_and_without_examples(rep, csm_client):
    run(5, OfflineProvider(), sender=rep)
    data = selectors.edit_analytics(flt=selectors.EditAnalyticsFilter())
    [row] = data.learning_by_campaign
    assert (row.without_count, row.with_count) == (1, 4)  # approved as drafted counts, as distance 0
    assert row.with_examples == 0 < row.without_examples and row.change < 0
    [sender_row] = data.learning_by_sender
    assert sender_row.label and sender_row.without_examples == row.without_examples
    page = csm_client.get(reverse("edit_analytics")).content.decode()
    assert "Do the edit examples help?" in page and "With examples" in page


def test_the_simulated_reviewer_is_consistent():
    body = "Hi Liu,\n\nI saw you logged in 3 times. You also read the notes.\n\nX at no extra cost.\n\nBest,"
    assert reviewer_edit(body) == "Hello Liu,\n\nI saw you logged in 3 times.\n\nX.\n\nBest,"
    assert reviewer_edit(reviewer_edit(body)) == reviewer_edit(body)
