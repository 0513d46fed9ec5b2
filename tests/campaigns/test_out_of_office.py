"""A campaign option: an out-of-office note with a return date holds the next step until then
(default off); the return date is read from common English, German, French and Spanish texts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from campaigns import services
from campaigns.models import Enrollment, EnrollmentEvent
from campaigns.waiting import enrollments_waiting
from outreach.mail.models import EngagementEvent
from outreach.mail.out_of_office import ooo_return_date
from review.models import Draft

from .conftest import approve, finish, make_campaign, record_event

TODAY = date(2026, 12, 7)


@pytest.mark.parametrize(
    ("text", "back"),
    [
        ("I am out of the office and back on 14 December.", date(2026, 12, 14)),
        ("Returning Monday 3 Nov.", date(2027, 11, 3)),
        ("Ich bin ab sofort im Urlaub und zurück am 12.12.", date(2026, 12, 12)),
        ("Je serai de retour le 14 décembre.", date(2026, 12, 14)),
        ("Estaré de vuelta el 3 de noviembre.", date(2027, 11, 3)),
        ("Out of the office until 12/12/2026.", date(2026, 12, 13)),
        ("Back on December 14th, 2026.", date(2026, 12, 14)),
    ],
)
def test_it_reads_the_return_date_of_common_out_of_office_texts(text, back):
    assert ooo_return_date(text, today=TODAY) == back


def test_a_note_without_a_date_gives_none():
    assert ooo_return_date("I am out of the office with limited access to email.", today=TODAY) is None


@pytest.fixture
def waiting_enrollment(rep, recipient):
    def build(**campaign_fields):
        campaign = make_campaign(**campaign_fields)
        enrollment = services.enrollment_create(campaign=campaign, recipient=recipient)
        services.enrollment_advance_due()
        message = finish(approve(Draft.objects.get(enrollment_ref=enrollment.pk), rep))
        enrollment.refresh_from_db()
        return enrollment, message

    return build


def _back_in(days: int) -> date:
    return timezone.now().date() + timedelta(days=days)


def test_an_out_of_office_holds_the_next_step_until_the_return_date(waiting_enrollment):
    enrollment, message = waiting_enrollment(pause_on_out_of_office=True)
    back = _back_in(20)

    record_event(message, EngagementEvent.Kind.AUTO_REPLIED, reply_text=f"Out of office, back on {back:%d %B %Y}.")

    enrollment.refresh_from_db()
    assert enrollment.next_due_at == datetime(back.year, back.month, back.day, tzinfo=UTC)
    assert enrollment.state == Enrollment.State.WAITING_DELAY
    held = EnrollmentEvent.objects.get(enrollment=enrollment, kind="paused_out_of_office")
    assert held.data["back_on"] == back.isoformat()


def test_the_waiting_reason_says_out_of_office_in_words(waiting_enrollment):
    enrollment, message = waiting_enrollment(pause_on_out_of_office=True)
    back = _back_in(20)
    record_event(message, EngagementEvent.Kind.AUTO_REPLIED, reply_text=f"Back on {back:%d %B %Y}.")

    enrollment.refresh_from_db()
    waiting = enrollments_waiting(enrollments=[enrollment])[enrollment.pk]
    assert waiting.text == f"out of office until {back:%a} {back.day} {back:%b}: next step held until then"


def test_without_the_option_an_out_of_office_changes_nothing(waiting_enrollment):
    enrollment, message = waiting_enrollment()
    due = enrollment.next_due_at

    record_event(message, EngagementEvent.Kind.AUTO_REPLIED, reply_text=f"Back on {_back_in(20):%d %B %Y}.")

    enrollment.refresh_from_db()
    assert enrollment.next_due_at == due
    assert not EnrollmentEvent.objects.filter(enrollment=enrollment, kind="paused_out_of_office").exists()


def test_a_return_before_the_next_step_changes_nothing(waiting_enrollment):
    enrollment, message = waiting_enrollment(pause_on_out_of_office=True, delays=(0, 10, 20))
    due = enrollment.next_due_at

    record_event(message, EngagementEvent.Kind.AUTO_REPLIED, reply_text=f"Back on {_back_in(2):%d %B %Y}.")

    enrollment.refresh_from_db()
    assert enrollment.next_due_at == due


def test_the_option_is_off_by_default(campaign):
    assert campaign.pause_on_out_of_office is False
