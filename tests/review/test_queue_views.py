"""The review queue over HTTP: who sees what, htmx actions, errors in place, query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from outreach.mail.models import OutboundMessage
from review.models import Draft, DraftDecision, DraftEdit
from tests.factories import CampaignFactory, DraftFactory, UserFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _drafts(sender, n, **kwargs):
    now = timezone.now()
    return [
        DraftFactory(sender=sender, ready_at=now - timedelta(minutes=n - i), subject=f"Subject {i}", **kwargs)
        for i in range(n)
    ]


def test_the_queue_requires_login():
    response = Client().get(reverse("review_queue"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_a_rep_sees_the_drafts_they_send_or_review_oldest_first(rep, other_rep, rep_client):
    newer = DraftFactory(sender=rep, subject="Mine newer")
    older = DraftFactory(sender=rep, subject="Mine older", ready_at=timezone.now() - timedelta(hours=1))
    assigned = DraftFactory(sender=other_rep, reviewer=rep, subject="Assigned to me")
    theirs = DraftFactory(sender=other_rep, subject="Not mine")
    page = rep_client.get(reverse("review_queue")).content.decode()
    assert "Not mine" not in page
    positions = [page.index(f'id="queue-item-{d.pk}"') for d in (older, newer, assigned)]
    assert positions == sorted(positions)
    assert f'data-draft-id="{older.pk}" data-version' in page  # the oldest is shown first
    assert theirs.subject not in page


def test_an_admin_sees_everyones_drafts(rep, other_rep, admin_client_):
    DraftFactory(sender=rep, subject="From rep one")
    DraftFactory(sender=other_rep, subject="From rep two")
    page = admin_client_.get(reverse("review_queue")).content.decode()
    assert "From rep one" in page and "From rep two" in page


@pytest.mark.parametrize("action", ["approve", "edit_approve", "reject", "regenerate", "skip", "retry"])
def test_a_rep_cannot_act_on_another_reps_draft_by_guessing_its_id(action, other_rep, rep_client):
    theirs = DraftFactory(sender=other_rep)
    url = reverse(f"draft_{action}", args=[theirs.pk])
    assert rep_client.post(url, {"version": 1, "reason": "tone", "instruction": "x"}).status_code == 404
    assert rep_client.get(reverse("draft_detail", args=[theirs.pk]), **HTMX).status_code == 404
    assert Draft.objects.get(pk=theirs.pk).state == "ready" and not DraftDecision.objects.exists()


def test_a_user_without_a_role_is_forbidden(db):
    nobody = UserFactory(username="nobody")
    client = Client()
    client.force_login(nobody)
    assert client.get(reverse("review_queue")).status_code == 403


def test_the_queue_filters_by_campaign_and_unsupported_claims(rep, rep_client):
    campaign = CampaignFactory(name="Renewals")
    in_campaign = DraftFactory(sender=rep, campaign=campaign, subject="In campaign", unsupported_claim_count=0)
    flagged = DraftFactory(sender=rep, subject="Has unsupported", unsupported_claim_count=2)
    page = rep_client.get(reverse("review_queue"), {"campaign": campaign.pk}).content.decode()
    assert f"queue-item-{in_campaign.pk}" in page and f"queue-item-{flagged.pk}" not in page
    page = rep_client.get(reverse("review_queue"), {"unsupported": "1"}).content.decode()
    assert f"queue-item-{flagged.pk}" in page and f"queue-item-{in_campaign.pk}" not in page
    assert (
        f'<option value="{campaign.pk}" selected>Renewals</option>'
        in rep_client.get(reverse("review_queue"), {"campaign": campaign.pk}).content.decode()
    )


def test_the_page_shows_counts_per_state(rep, rep_client):
    _drafts(rep, 3)
    DraftFactory(sender=rep, state="failed")
    DraftFactory(sender=rep, state="queued")
    page = rep_client.get(reverse("review_queue")).content.decode()
    assert '<strong data-count="ready">3</strong>' in page
    assert '<span data-count="failed">1</span>' in page and '<span data-count="queued">1</span>' in page
    assert "every 3s" in page  # polls while drafts are being written


def test_the_detail_shows_the_email_as_it_will_be_sent_with_unsupported_claims_marked(rep, rep_client):
    draft = DraftFactory(sender=rep, cc=["cc@customer.example"], bcc=["crm@team.example"])
    html = rep_client.get(reverse("draft_detail", args=[draft.pk]), **HTMX).content.decode()
    profile = rep.sender
    assert f"{profile.display_name} &lt;{profile.email}&gt;" in html
    assert draft.recipient.email in html and "cc@customer.example" in html and "crm@team.example" in html
    assert (
        '<mark class="unsupported" tabindex="0" title="Not found in the recipient\'s facts" '
        'data-tip="Not found in the recipient\'s facts">October'
    ) in html
    assert "claim to check:</strong>" in html and "October</mark> — Not found in the recipient&#x27;s facts" in html
    assert 'id="fact-1"' in html and 'aria-describedby="fact-1">14</mark>' in html
    assert '<span class="badge ok">cited</span>' in html


def test_draft_text_is_escaped_in_the_detail(rep, rep_client):
    draft = DraftFactory(sender=rep, body_text="Hi <script>alert(1)</script>", grounding=[], subject="<img src=x>")
    html = rep_client.get(reverse("draft_detail", args=[draft.pk]), **HTMX).content.decode()
    assert "<script>alert" not in html and "&lt;script&gt;" in html and "<img src=x>" not in html


def test_the_detail_without_htmx_opens_the_queue_page_on_that_draft(rep, rep_client):
    draft = DraftFactory(sender=rep)
    response = rep_client.get(reverse("draft_detail", args=[draft.pk]))
    assert response.status_code == 302 and f"draft={draft.pk}" in response.url


def test_approving_shows_the_next_draft_and_tells_the_page_to_refresh_counts(rep, rep_client):
    first, second = _drafts(rep, 2)
    response = rep_client.post(reverse("draft_approve", args=[first.pk]), {"version": 1}, **HTMX)
    assert response.status_code == 200
    assert f'data-draft-id="{second.pk}"' in response.content.decode()
    assert "draftDecided" in response["HX-Trigger"]
    assert OutboundMessage.objects.filter(draft_ref=first.pk).count() == 1


def test_a_second_approve_gets_a_readable_409_and_no_second_message(rep, rep_client):
    [draft] = _drafts(rep, 1)
    rep_client.post(reverse("draft_approve", args=[draft.pk]), {"version": 1}, **HTMX)
    response = rep_client.post(reverse("draft_approve", args=[draft.pk]), {"version": 1}, **HTMX)
    assert response.status_code == 409
    assert response["Content-Type"].startswith("text/plain")
    assert "already approved by" in response.content.decode()
    assert OutboundMessage.objects.count() == 1


def test_edit_and_approve_stores_the_edit(rep, rep_client):
    [draft] = _drafts(rep, 1)
    response = rep_client.post(
        reverse("draft_edit_approve", args=[draft.pk]),
        {"version": 1, "subject": "Edited", "body_text": "Hi Liu,\n\nShort.\n\nRita", "cc": "a@x.example, b@x.example"},
        **HTMX,
    )
    assert response.status_code == 200
    edit = DraftEdit.objects.get(draft=draft)
    assert edit.subject_after == "Edited" and "cc" in edit.changed_parts
    assert OutboundMessage.objects.get(draft_ref=draft.pk).cc == ["a@x.example", "b@x.example"]


def test_an_invalid_bcc_is_a_readable_400(rep, rep_client):
    [draft] = _drafts(rep, 1)
    response = rep_client.post(
        reverse("draft_edit_approve", args=[draft.pk]),
        {"version": 1, "subject": "s", "body_text": "b", "bcc": "nope@"},
        **HTMX,
    )
    assert response.status_code == 400 and "not a valid email address" in response.content.decode()
    assert Draft.objects.get(pk=draft.pk).state == "ready"


def test_reject_with_a_reason_shows_the_next_draft(rep, rep_client):
    first, second = _drafts(rep, 2)
    response = rep_client.post(
        reverse("draft_reject", args=[first.pk]), {"version": 1, "reason": "bad_timing", "note": "Q1"}, **HTMX
    )
    assert f'data-draft-id="{second.pk}"' in response.content.decode()
    decision = DraftDecision.objects.get(draft=first)
    assert (decision.reason, decision.note) == ("bad_timing", "Q1")


def test_regenerate_queues_the_draft_with_the_instruction(rep, rep_client):
    [draft] = _drafts(rep, 1)
    rep_client.post(reverse("draft_regenerate", args=[draft.pk]), {"version": 1, "instruction": "shorter"}, **HTMX)
    draft.refresh_from_db()
    assert (draft.state, draft.instruction) == ("queued", "shorter")


def test_skip_for_now_shows_the_next_draft_and_keeps_the_skipped_one_ready(rep, rep_client):
    first, second = _drafts(rep, 2)
    response = rep_client.post(reverse("draft_skip", args=[first.pk]), {}, **HTMX)
    assert f'data-draft-id="{second.pk}"' in response.content.decode()
    assert Draft.objects.get(pk=first.pk).state == "ready"
    page = rep_client.get(reverse("review_queue")).content.decode()
    assert f'data-draft-id="{second.pk}" data-version' in page  # the skipped one waits at the end


def test_a_failed_draft_can_be_retried_from_the_failed_list(rep, rep_client):
    draft = DraftFactory(sender=rep, state="failed", failure_reason="timeout (retryable)")
    page = rep_client.get(reverse("review_queue"), {"state": "failed"}).content.decode()
    assert "Drafting failed: timeout (retryable)" in page and "Retry drafting" in page
    rep_client.post(reverse("draft_retry", args=[draft.pk]), {"version": 1, "state": "failed"}, **HTMX)
    assert Draft.objects.get(pk=draft.pk).state == "queued"


def test_actions_need_the_csrf_token(rep):
    [draft] = _drafts(rep, 1)
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    assert client.post(reverse("draft_approve", args=[draft.pk]), {"version": 1}).status_code == 403
    assert Draft.objects.get(pk=draft.pk).state == "ready"


def test_the_counts_part_refreshes_alone_and_announces_new_drafts(rep, rep_client):
    _drafts(rep, 2)
    response = rep_client.get(reverse("review_queue"), {"seen": "1"}, HTTP_HX_TARGET="queue-counts", **HTMX)
    assert response.content.decode().lstrip().startswith('<div id="queue-counts"')
    assert "queueChanged" in response["HX-Trigger"]
    same = rep_client.get(reverse("review_queue"), {"seen": "2"}, HTTP_HX_TARGET="queue-counts", **HTMX)
    assert "HX-Trigger" not in same


def test_progress_reports_counts_and_cost_per_draft_to_admins_only(rep, rep_client, admin_client_):
    campaign = CampaignFactory()
    DraftFactory(sender=rep, campaign=campaign, cost_usd="0.002")
    DraftFactory(sender=rep, campaign=campaign, cost_usd="0.004")
    DraftFactory(sender=rep, campaign=campaign, state="queued")
    html = rep_client.get(reverse("review_progress"), {"campaign": campaign.pk}).content.decode()
    assert "2 of 3 drafted" in html and 'hx-trigger="every 2s"' in html
    assert "per draft" not in html  # token cost is for CSMs and admins
    admin_html = admin_client_.get(reverse("review_progress"), {"campaign": campaign.pk}).content.decode()
    assert "$0.0030 per draft" in admin_html


def test_requesting_drafts_for_my_recipients_queues_them(rep, rep_client):
    from tests.factories import RecipientFactory

    mine = RecipientFactory.create_batch(2, owner=rep)
    not_mine = RecipientFactory()
    response = rep_client.post(reverse("review_request"), {"recipient": [r.pk for r in [*mine, not_mine]]}, **HTMX)
    assert response.status_code == 200 and "Drafting 2 email(s)" in response.content.decode()
    assert set(Draft.objects.values_list("recipient_id", flat=True)) == {r.pk for r in mine}


@pytest.mark.parametrize("n", [5, 50])
def test_the_queue_page_uses_a_constant_number_of_queries(n, rep, rep_client, django_assert_max_num_queries):
    campaign = CampaignFactory()
    _drafts(rep, n, campaign=campaign)
    # With one query for the sending-pause banner, one for the sender's domain check and one for the
    # broken-mailbox banner; SQLite runs the UNION's two scans apart.
    with django_assert_max_num_queries(13):
        assert rep_client.get(reverse("review_queue")).status_code == 200


@pytest.mark.parametrize("n", [5, 50])
def test_approve_uses_a_constant_number_of_queries(n, rep, rep_client, django_assert_max_num_queries):
    drafts = _drafts(rep, n)
    # With the draft_edit_signal event, stored in the same transaction, and the next draft's sender-domain check.
    with django_assert_max_num_queries(17):
        response = rep_client.post(reverse("draft_approve", args=[drafts[0].pk]), {"version": 1}, **HTMX)
    assert response.status_code == 200


def test_a_rep_requests_a_draft_from_the_recipient_page_and_lands_on_the_queue(rep, rep_client):
    from tests.factories import RecipientFactory

    recipient = RecipientFactory(owner=rep)
    page = rep_client.get(reverse("recipient_detail", args=[recipient.pk])).content.decode()
    assert "Draft an email" in page
    response = rep_client.post(reverse("review_request"), {"recipient": recipient.pk})
    assert response.status_code == 302 and response.url == reverse("review_queue")
    assert Draft.objects.get().recipient == recipient


def test_state_counts_are_exact_up_to_the_cap_and_say_so_beyond_it(rep, other_rep, monkeypatch):
    from review import selectors

    monkeypatch.setattr(selectors, "COUNT_CAP", 3)
    _drafts(rep, 5)
    _drafts(other_rep, 2, reviewer=rep)  # assigned to me: counted with mine
    DraftFactory(sender=rep, state=Draft.State.FAILED)
    DraftFactory(sender=other_rep)  # neither mine nor assigned
    counts = selectors.draft_state_counts(user=rep)
    assert counts["ready"] == 4 and selectors.count_label(counts["ready"]) == "3+"
    assert counts["failed"] == 1 and selectors.count_label(counts["failed"]) == "1"


def test_the_queue_shows_capped_counts(rep, rep_client, monkeypatch):
    from review import selectors

    monkeypatch.setattr(selectors, "COUNT_CAP", 2)
    _drafts(rep, 3)
    page = rep_client.get(reverse("review_queue")).content.decode()
    assert '<strong data-count="ready">2+</strong> ready' in page


def test_the_list_escapes_what_people_and_models_wrote(rep, rep_client):
    from tests.factories import RecipientFactory

    recipient = RecipientFactory(first_name='<b>"Eve"</b>', last_name="&co")
    DraftFactory(sender=rep, recipient=recipient, subject="<img src=x onerror=alert(1)>")
    html = rep_client.get(reverse("review_queue")).content.decode()
    listing = html[html.index('id="queue-list"') : html.index("</ol>")]
    assert "<img" not in listing and "&lt;img src=x onerror=alert(1)&gt;" in listing
    assert "&lt;b&gt;&quot;Eve&quot;&lt;/b&gt; &amp;co" in listing
