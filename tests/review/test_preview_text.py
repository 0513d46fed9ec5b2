"""Preview text in review: the hidden preheader is shown under the subject, editable in the edit
form, stored with the edit and its version, and goes out with the approved email."""

from __future__ import annotations

import pytest
from django.urls import reverse

from outreach.mail.models import OutboundMessage
from review import services
from review.models import DraftEdit, DraftVersion
from tests.factories import DraftFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def draft(rep):
    return DraftFactory(sender=rep, preview_text="Your usage at a glance")


def _edit(client, draft, **fields):
    data = {"version": draft.version, "subject": draft.subject, "body_text": draft.body_text, "cc": "", "bcc": ""}
    return client.post(reverse("draft_edit_approve", args=[draft.pk]), {**data, **fields}, **HTMX)


def test_it_shows_the_preview_text_under_the_subject_and_in_the_edit_form(draft, rep_client):
    page = rep_client.get(reverse("review_queue")).content.decode()

    headers = page[page.index('<dl class="headers">') : page.index("</dl>", page.index('<dl class="headers">'))]
    assert headers.index("<dt>Subject</dt>") < headers.index("<dt>Preview</dt>")
    assert "Your usage at a glance" in headers
    assert 'name="preview_text" value="Your usage at a glance"' in page


def test_a_draft_without_preview_text_says_what_inboxes_show_instead(rep, rep_client):
    DraftFactory(sender=rep, preview_text="")
    page = rep_client.get(reverse("review_queue")).content.decode()
    assert "none: inboxes show the first line of the body" in page


def test_editing_only_the_preview_text_is_stored_with_the_edit_and_sent(draft, rep_client):
    response = _edit(rep_client, draft, preview_text="  A quick question about reports\r\nBcc: x@evil.example ")

    assert response.status_code == 200
    edit = DraftEdit.objects.get(draft=draft)
    assert edit.changed_parts == ["preview_text"]
    assert edit.preview_text_before == "Your usage at a glance"
    # One line, trimmed: it ends up in the HTML part, never in a header.
    assert "\n" not in edit.preview_text_after and edit.preview_text_after.startswith("A quick question about reports")
    assert (edit.char_distance, edit.normalized_similarity) == (0, 1.0)  # the distances measure subject and body
    draft.refresh_from_db()
    assert draft.preview_text == edit.preview_text_after
    assert DraftVersion.objects.get(draft=draft, origin="edited").preview_text == edit.preview_text_after
    assert OutboundMessage.objects.get(draft_ref=draft.pk).preview_text == edit.preview_text_after


def test_the_preview_text_can_be_emptied(draft, rep):
    services.draft_approve(draft=draft, user=rep, expected_version=1, preview_text="")

    assert DraftEdit.objects.get(draft=draft).preview_text_after == ""
    assert OutboundMessage.objects.get(draft_ref=draft.pk).preview_text == ""


def test_markup_in_the_preview_text_is_stored_as_plain_text(draft, rep):
    services.draft_approve(
        draft=draft, user=rep, expected_version=1, preview_text="<b>Hi</b><script>alert(1)</script> there"
    )
    assert OutboundMessage.objects.get(draft_ref=draft.pk).preview_text == "Hi there"


def test_an_edit_that_sends_no_preview_field_keeps_the_drafted_preview(draft, rep_client):
    data = {"version": 1, "subject": "A new subject", "body_text": draft.body_text, "cc": "", "bcc": ""}
    rep_client.post(reverse("draft_edit_approve", args=[draft.pk]), data, **HTMX)

    edit = DraftEdit.objects.get(draft=draft)
    assert edit.changed_parts == ["subject"]
    assert OutboundMessage.objects.get(draft_ref=draft.pk).preview_text == "Your usage at a glance"


def test_the_edit_page_of_edit_analytics_shows_the_preview_diff(draft, rep_client, csm_client):
    _edit(rep_client, draft, preview_text="Your reports at a glance")
    edit = DraftEdit.objects.get(draft=draft)

    page = csm_client.get(reverse("edit_analytics_edit", args=[edit.pk])).content.decode()
    assert "<h3>Preview text</h3>" in page
    assert "removed: </span>usage</del>" in page and "added: </span>reports</ins>" in page
