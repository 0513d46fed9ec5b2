"""Every waiting enrollment says why, in words, on the campaign, enrollment and recipient pages, and
one line answers "why is nothing happening?" for the campaign."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import time_machine
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, Enrollment
from campaigns.waiting import campaign_waiting_summary, enrollments_waiting
from outreach.mail.models import OutboundMessage
from outreach.suppression.models import Suppression
from outreach.suppression.services import suppression_add
from review.models import Draft
from tests.factories import DraftFactory, RecipientFactory

from .conftest import approve, make_campaign

SATURDAY = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
WEEKDAYS = {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _reasons(campaign, now=None) -> dict[int, str]:
    enrollments = Enrollment.objects.filter(campaign=campaign).select_related("recipient", "sender", "campaign")
    return {e.recipient.first_name: w.text for e, w in _with(enrollments, now)}


def _with(enrollments, now):
    reasons = enrollments_waiting(enrollments=list(enrollments), now=now)
    return [(e, reasons[e.pk]) for e in enrollments if e.pk in reasons]


def test_a_person_with_an_open_email_in_another_campaign_waits_and_says_where(csm, rep):
    liu = RecipientFactory(owner=rep, first_name="Liu")
    other = make_campaign(created_by=csm, name="Renewal check-in")
    DraftFactory(recipient=liu, sender=rep, campaign=other)
    campaign = make_campaign(created_by=csm)
    services.enrollment_create(campaign=campaign, recipient=liu)

    assert _reasons(campaign) == {
        "Liu": f"waiting: Liu has an open email in 'Renewal check-in' (in review with {rep}); "
        "one email at a time per person"
    }


def test_an_approved_email_outside_the_send_window_says_when_it_opens_in_the_recipients_time_zone(csm, rep):
    campaign = make_campaign(created_by=csm, send_window=WEEKDAYS)
    liu = RecipientFactory(owner=rep, first_name="Liu", time_zone="Europe/Berlin")
    services.enrollment_create(campaign=campaign, recipient=liu)
    services.enrollment_advance_due()
    approve(Draft.objects.get(recipient=liu), rep)

    # Saturday 11:00 in Berlin: the window opens on Monday at 09:00 Berlin time.
    assert _reasons(campaign, now=SATURDAY) == {
        "Liu": "step 1 held until Mon 7 Dec 09:00 in Liu's time zone (send window)"
    }


def test_a_daily_limit_says_whose_and_when_it_resumes(csm, rep):
    campaign = make_campaign(created_by=csm)
    liu = RecipientFactory(owner=rep, first_name="Liu")
    services.enrollment_create(campaign=campaign, recipient=liu)
    services.enrollment_advance_due()
    message = approve(Draft.objects.get(recipient=liu), rep)
    tomorrow = (timezone.now() + timedelta(days=1)).replace(hour=0, minute=5)
    OutboundMessage.objects.filter(pk=message.pk).update(code=OutboundMessage.Code.DAILY_LIMIT, not_before=tomorrow)

    (text,) = _reasons(campaign).values()

    assert text.startswith(f"step 1 {rep}'s daily limit reached; resumes tomorrow (")


def test_suppressed_people_say_why_and_since_when(csm, rep):
    liu = RecipientFactory(owner=rep, first_name="Liu")
    suppression_add(kind=Suppression.Kind.ADDRESS, value=liu.email, reason=Suppression.Reason.UNSUBSCRIBED)
    campaign = make_campaign(created_by=csm)
    services.enrollment_create(campaign=campaign, recipient=liu)

    (text,) = _reasons(campaign).values()

    today = timezone.now()
    assert text.startswith("suppressed: ") and "nsubscribed" in text
    assert text.endswith(f"(since {today:%a} {today.day} {today:%b})")


def test_a_later_step_says_when_it_is_due(csm, rep):
    campaign = make_campaign(created_by=csm, steps=1, delays=(3,))
    services.enrollment_create(campaign=campaign, recipient=RecipientFactory(owner=rep, first_name="Liu"))
    due = timezone.now() + timedelta(days=3)

    assert _reasons(campaign) == {"Liu": f"next step due {due:%a} {due.day} {due:%b}"}


# Approved on Friday evening (after the window closed in Berlin), read on Saturday: pinned, so the
# test does not depend on today's date.
@time_machine.travel(datetime(2026, 12, 4, 18, 0, tzinfo=UTC), tick=False)
def test_the_summary_line_answers_why_nothing_is_happening(csm, rep):
    campaign = make_campaign(created_by=csm, send_window=WEEKDAYS)
    other = make_campaign(created_by=csm, name="Renewal check-in")
    busy = [RecipientFactory(owner=rep, time_zone="Europe/Berlin") for _ in range(2)]
    held = RecipientFactory(owner=rep, first_name="Liu", time_zone="Europe/Berlin")
    for person in busy:
        DraftFactory(recipient=person, sender=rep, campaign=other)
    for person in [*busy, held]:
        services.enrollment_create(campaign=campaign, recipient=person)
    services.enrollment_advance_due()
    approve(Draft.objects.get(recipient=held, origin__campaign_ref=campaign.pk), rep)
    live = list(Enrollment.objects.filter(campaign=campaign).select_related("recipient", "sender", "campaign"))

    line = campaign_waiting_summary(campaign=campaign, reasons=enrollments_waiting(enrollments=live, now=SATURDAY))

    assert line == (
        "Right now: 2 wait for an open email to the same person (one at a time); "
        "1 approved, held by the send window until Mon 7 Dec 09:00 in Liu's time zone."
    )


def test_a_paused_campaign_says_so(csm):
    campaign = make_campaign(created_by=csm, status=Campaign.Status.PAUSED)
    assert campaign_waiting_summary(campaign=campaign, reasons={}).startswith("Paused: nothing is drafted")


def test_the_campaign_page_shows_each_reason_and_the_summary_in_few_queries(
    csm_client, csm, rep, django_assert_max_num_queries
):
    other = make_campaign(created_by=csm, name="Renewal check-in")
    campaign = make_campaign(created_by=csm)
    people = [RecipientFactory(owner=rep) for _ in range(12)]
    for person in people:
        DraftFactory(recipient=person, sender=rep, campaign=other)
        services.enrollment_create(campaign=campaign, recipient=person)

    with django_assert_max_num_queries(32):
        response = csm_client.get(reverse("campaign_detail", args=[campaign.pk]))

    html = _text(response)
    assert "Right now: 12 wait for an open email to the same person (one at a time)." in html
    assert html.count("has an open email in &#x27;Renewal check-in&#x27;") == 12


def test_the_recipient_page_lists_their_sequences_and_why_each_waits(csm_client, csm, rep):
    liu = RecipientFactory(owner=rep, first_name="Liu")
    campaign = make_campaign(created_by=csm, name="Onboarding", steps=1, delays=(3,))
    services.enrollment_create(campaign=campaign, recipient=liu)

    html = _text(csm_client.get(reverse("recipient_detail", args=[liu.pk])))

    assert 'id="sequences-h">Sequences' in html and "Onboarding" in html and "Next step due" in html


def test_the_enrollment_page_says_why_it_waits(csm_client, csm, rep):
    campaign = make_campaign(created_by=csm, steps=1, delays=(3,))
    enrollment = services.enrollment_create(campaign=campaign, recipient=RecipientFactory(owner=rep))

    html = _text(csm_client.get(reverse("enrollment_detail", args=[enrollment.pk])))

    assert '<p class="flash" role="status">Next step due' in html
