"""The Replies page's actions: handled, snoozed (until a chosen time), reopened, and a "please
remove me" reply confirmed in one click; filters that update in place. Each records who and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from outreach.integrations.models import EmittedEvent
from outreach.mail import selectors
from outreach.mail.models import EngagementEvent
from outreach.mail.services import reply_triage
from outreach.suppression.models import Suppression
from outreach.suppression.selectors import suppression_check
from tests.factories import OutboundMessageFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def reply_to(message, text="Thanks, let's talk.", reply_class="interested"):
    return EngagementEvent.objects.create(
        message=message,
        recipient=message.recipient,
        kind="replied",
        email=message.to_email,
        occurred_at=timezone.now(),
        reply_text=text,
        provider="imap",
        reply_class=reply_class,
        reply_class_reason="offline rules (no LLM): test",
    )


@pytest.fixture
def reply(rep):
    return reply_to(OutboundMessageFactory(draft__sender=rep))


@pytest.fixture
def removal_request(rep):
    return reply_to(OutboundMessageFactory(draft__sender=rep), "Please remove me.", "unsubscribe_request")


# --- Handled ------------------------------------------------------------------------------------


def test_it_marks_a_reply_handled_with_who_and_when(rep, rep_client, reply):
    response = rep_client.post(f"/messages/replies/{reply.pk}/handled/", {"status": "open"})

    assert response.status_code == 302 and response["Location"] == "/messages/replies/?status=open"
    reply.refresh_from_db()
    assert reply.handled_by == rep and reply.handled_at is not None


def test_a_handled_reply_leaves_the_open_list_for_the_handled_one(rep, reply):
    reply_triage.reply_mark_handled(event=reply, user=rep)
    visible, now = selectors.replies_visible_to(rep), timezone.now()
    assert list(selectors.replies_in_status(visible, status="open", now=now)) == []
    assert list(selectors.replies_in_status(visible, status="handled", now=now)) == [reply]


def test_with_htmx_an_action_answers_with_the_list_for_the_current_filter(rep_client, reply):
    response = rep_client.post(f"/messages/replies/{reply.pk}/handled/", {"status": "open"}, headers=HTMX)

    content = response.content.decode()
    assert response.status_code == 200 and "<html" not in content
    assert content.lstrip().startswith('<div id="replies-list">')
    assert f'id="reply-{reply.pk}"' not in content  # it left the open list
    assert "replyTriaged" in response["HX-Trigger"]


# --- Snoozed ------------------------------------------------------------------------------------


def test_a_snoozed_reply_is_out_of_the_open_list_until_its_time(rep, reply):
    until = timezone.now() + timedelta(days=1)
    reply_triage.reply_snooze(event=reply, user=rep, until=until)
    visible = selectors.replies_visible_to(rep)

    assert list(selectors.replies_in_status(visible, status="open", now=timezone.now())) == []
    assert list(selectors.replies_in_status(visible, status="snoozed", now=timezone.now())) == [reply]
    later = until + timedelta(minutes=1)
    assert list(selectors.replies_in_status(visible, status="open", now=later)) == [reply]


def test_snoozing_until_tomorrow_records_who_and_until_when(rep, rep_client, reply):
    tomorrow = {key: when for key, _words, when in reply_triage.snooze_choices(user=rep)}["tomorrow"]

    rep_client.post(f"/messages/replies/{reply.pk}/snooze/", {"until": "tomorrow", "status": "open"})

    reply.refresh_from_db()
    assert reply.snoozed_until == tomorrow and reply.snoozed_by == rep and reply.snoozed_at is not None


def test_snooze_choices_are_at_nine_in_the_persons_time_zone(rep):
    rep.sender.time_zone = "Europe/Berlin"
    rep.sender.save()
    now = datetime(2026, 12, 9, 22, 30, tzinfo=UTC)  # Wednesday 23:30 in Berlin

    choices = {key: when for key, _words, when in reply_triage.snooze_choices(user=rep, now=now)}

    assert choices["tomorrow"] == datetime(2026, 12, 10, 8, 0, tzinfo=UTC)  # Thursday 09:00 Berlin
    assert choices["next_week"] == datetime(2026, 12, 14, 8, 0, tzinfo=UTC)  # Monday 09:00 Berlin


def test_a_chosen_time_is_read_in_the_persons_time_zone(rep):
    rep.sender.time_zone = "America/New_York"
    rep.sender.save()
    until = reply_triage.snooze_until_parse(user=rep, choice="at", at="2026-12-20T14:00")
    assert until == datetime(2026, 12, 20, 19, 0, tzinfo=UTC)


def test_snoozing_into_the_past_is_refused_and_changes_nothing(rep_client, reply):
    response = rep_client.post(
        f"/messages/replies/{reply.pk}/snooze/", {"until": "at", "at": "2020-01-01T09:00"}, headers=HTMX
    )
    assert response.status_code == 422 and "future" in response.content.decode()
    reply.refresh_from_db()
    assert reply.snoozed_until is None


def test_reopening_puts_a_handled_reply_back_on_the_open_list(rep, rep_client, reply):
    reply_triage.reply_mark_handled(event=reply, user=rep)
    rep_client.post(f"/messages/replies/{reply.pk}/reopen/", {"status": "handled"})
    reply.refresh_from_db()
    assert reply.handled_at is None and reply.snoozed_until is None


# --- Filters --------------------------------------------------------------------------------------


def test_the_filters_keep_their_href_and_update_the_list_in_place(rep_client, reply):
    content = rep_client.get("/messages/replies/").content.decode()
    assert 'href="?status=handled" hx-get="?status=handled" hx-target="#replies-list"' in content
    assert 'hx-push-url="true"' in content


def test_with_htmx_a_filter_answers_with_only_the_list(rep, rep_client, reply):
    reply_triage.reply_mark_handled(event=reply, user=rep)
    response = rep_client.get("/messages/replies/?status=handled", headers=HTMX)
    content = response.content.decode()
    assert "<html" not in content and f'id="reply-{reply.pk}"' in content
    assert "Handled by" in content


def test_the_replies_page_query_count_is_fixed_whatever_the_states(rep, rep_client, django_assert_num_queries):
    for index in range(12):
        event = reply_to(OutboundMessageFactory(draft__sender=rep), reply_class="unsubscribe_request")
        if index % 3 == 0:
            reply_triage.reply_mark_handled(event=event, user=rep)
        elif index % 3 == 1:
            reply_triage.reply_snooze(event=event, user=rep, until=timezone.now() + timedelta(days=1))
    # session, user, two for permissions, the paginator's count, the filters' counts, the person's
    # time zone (snooze times), the page's rows: fixed, not one more per reply or per state.
    with django_assert_num_queries(8):
        response = rep_client.get("/messages/replies/?status=all")
    assert response.content.decode().count('class="reply card"') == 12


# --- Who may act --------------------------------------------------------------------------------


def test_another_rep_cannot_act_on_a_reply_they_cannot_see(login_client, other_rep, reply):
    client = login_client(other_rep)
    for action in ("handled", "snooze", "reopen", "confirm-removal"):
        assert client.post(f"/messages/replies/{reply.pk}/{action}/", {"until": "tomorrow"}).status_code == 404
    reply.refresh_from_db()
    assert (reply.handled_at, reply.snoozed_until) == (None, None)


def test_the_actions_refuse_a_get(rep_client, reply):
    assert rep_client.get(f"/messages/replies/{reply.pk}/handled/").status_code == 405


# --- "Please remove me" -------------------------------------------------------------------------


def test_an_unsubscribe_request_is_flagged_with_a_one_click_confirmation(rep_client, removal_request):
    content = rep_client.get("/messages/replies/").content.decode()
    assert "1 reply asks to be removed." in content
    assert f'action="/messages/replies/{removal_request.pk}/confirm-removal/"' in content
    assert ">Confirm removal</button>" in content


def test_confirming_a_removal_suppresses_the_address_with_reason_and_who(rep, rep_client, removal_request):
    rep_client.post(f"/messages/replies/{removal_request.pk}/confirm-removal/", {"status": "open"})

    entry = Suppression.objects.get(value=removal_request.email)
    assert entry.reason == Suppression.Reason.UNSUBSCRIBED and entry.added_by == rep
    assert f"engagement #{removal_request.pk}" in entry.source and rep.get_full_name() in entry.source
    assert suppression_check(recipient=removal_request.recipient) is not None


def test_a_confirmed_removal_is_recorded_on_the_reply_and_marks_it_handled(rep, removal_request):
    confirmed = reply_triage.reply_removal_confirm(event=removal_request, user=rep)
    assert confirmed.removal_confirmed_by == rep and confirmed.removal_suppression is not None
    assert confirmed.handled_by == rep


def test_a_confirmed_removal_is_emitted_as_a_suppression_addition(
    rep, removal_request, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        reply_triage.reply_removal_confirm(event=removal_request, user=rep)
    emitted = EmittedEvent.objects.get(type="suppression_addition")
    assert emitted.payload["reason"] == "unsubscribed" and emitted.payload["value"] == removal_request.email


def test_confirming_twice_adds_one_entry(rep, removal_request):
    reply_triage.reply_removal_confirm(event=removal_request, user=rep)
    reply_triage.reply_removal_confirm(event=removal_request, user=rep)
    assert Suppression.objects.filter(value=removal_request.email).count() == 1


def test_a_reply_not_asking_to_be_removed_cannot_be_confirmed_as_one(rep_client, reply):
    response = rep_client.post(f"/messages/replies/{reply.pk}/confirm-removal/", headers=HTMX)
    assert response.status_code == 422
    assert not Suppression.objects.filter(value=reply.email).exists()
