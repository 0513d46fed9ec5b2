"""Regenerate shows what changed: the new version's word diff against the one before, on the draft
in the queue, and every version with its diff on the draft's versions page. Drafts are written by
the real services with the offline provider."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from review import services
from review.models import Draft, DraftVersion
from tests.factories import FactFactory, RecipientFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _written(rep) -> Draft:
    recipient = RecipientFactory(owner=rep, first_name="Liu")
    FactFactory(recipient=recipient, text="Attended the reporting webinar on 12 November")
    FactFactory(recipient=recipient, text="Downloaded the 'Churn Playbook' guide")
    draft = services.draft_request(recipient=recipient, sender=rep)
    return services.draft_generate(draft_id=draft.pk)


def _regenerated(draft: Draft, rep, instruction: str = "shorter") -> Draft:
    services.draft_regenerate(draft=draft, user=rep, expected_version=draft.version, instruction=instruction)
    return services.draft_generate(draft_id=draft.pk)


def test_a_regenerated_draft_shows_its_word_diff_against_the_previous_version(rep, rep_client):
    first = _written(rep)
    before = first.body_text
    draft = _regenerated(first, rep)
    assert draft.body_text != before

    page = rep_client.get(reverse("draft_detail", args=[draft.pk]), **HTMX).content.decode()
    assert "What changed</strong> in version 2 (regenerated: “shorter”)" in page
    change = page[page.index('class="version-change"') :]
    assert '<del><span class="visually-hidden">removed: </span>' in change
    assert "words added" in change or "word added" in change
    assert " removed, from version 1 to 2." in change


def test_a_draft_never_regenerated_shows_no_diff(rep, rep_client):
    draft = _written(rep)
    page = rep_client.get(reverse("draft_detail", args=[draft.pk]), **HTMX).content.decode()
    assert "What changed" not in page
    assert reverse("draft_versions", args=[draft.pk]) in page  # the history is one link away


def test_the_versions_page_lists_every_version_newest_first_with_its_diff(rep, rep_client):
    draft = _regenerated(_written(rep), rep)
    draft = _regenerated(draft, rep, "more formal")
    assert list(DraftVersion.objects.filter(draft=draft).values_list("origin", flat=True)) == [
        "generated",
        "regenerated",
        "regenerated",
    ]

    page = rep_client.get(reverse("draft_versions", args=[draft.pk])).content.decode()
    assert page.index('id="version-3"') < page.index('id="version-2"') < page.index('id="version-1"')
    assert "instruction: “more formal”" in page and "instruction: “shorter”" in page
    assert "from version 2 to 3" in page and "from version 1 to 2" in page
    assert "The first version." in page


def test_version_text_is_escaped(rep, rep_client):
    draft = _written(rep)
    DraftVersion.objects.create(
        draft=draft, number=2, origin="edited", subject="<script>alert(1)</script>", body_html="", body_text="x"
    )
    page = rep_client.get(reverse("draft_versions", args=[draft.pk])).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_another_reps_draft_versions_are_not_found(rep, other_rep, login_client):
    draft = _written(rep)
    assert login_client(other_rep).get(reverse("draft_versions", args=[draft.pk])).status_code == 404
    response = Client().get(reverse("draft_versions", args=[draft.pk]))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
