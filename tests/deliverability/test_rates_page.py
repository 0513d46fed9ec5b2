"""The bounces-and-complaints page charts each sender's and each domain's rates, server-rendered."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from outreach.mail.models import EngagementEvent, SendingPause
from outreach.mail.selectors import deliverability_rates
from tests.factories import OutboundMessageFactory, UserFactory

pytestmark = pytest.mark.django_db


def _sent(sender, count: int, *, bounced: int = 0, complained: int = 0, from_email: str | None = None):
    now = timezone.now()
    messages = [
        OutboundMessageFactory(
            draft__sender=sender,
            from_email=from_email or f"{sender.sender.display_name} <{sender.sender.email}>",
            sent_at=now - timedelta(minutes=count - i),
        )
        for i in range(count)
    ]
    for message in messages[:bounced]:
        EngagementEvent.objects.create(message=message, kind="bounced", occurred_at=now, email=message.to_email)
    for message in messages[bounced : bounced + complained]:
        EngagementEvent.objects.create(message=message, kind="complained", occurred_at=now, email=message.to_email)
    return messages


@pytest.fixture
def traffic(settings, rep, other_rep):
    """rep (team.example): 3 of 30 bounced, 1 complaint; other_rep (team.example): clean;
    ada (elsewhere.example): 1 of 10 bounced."""
    settings.BRAKE_BOUNCE_WINDOW, settings.BRAKE_COMPLAINT_WINDOW = 20, 1000
    ada = UserFactory(username="ada", role="rep", email="ada@elsewhere.example")
    # Bounces among rep's oldest sends, outside the last 20: they leave the bounce window.
    _sent(rep, 30, bounced=3, complained=1)
    _sent(other_rep, 10)
    _sent(ada, 10, bounced=1)
    return ada


def test_rates_are_counted_over_each_senders_last_sends(traffic, rep, other_rep):
    rows = {row.label: row for row in deliverability_rates(by="sender")}
    assert (rows["rep1"].bounce_sends, rows["rep1"].bounces) == (20, 0)  # its 3 bounces are older
    assert (rows["rep1"].complaint_sends, rows["rep1"].complaints) == (30, 1)
    assert rows["ada"].bounce_rate == pytest.approx(0.1)
    assert rows["rep2"].bounce_rate == 0 and rows["rep2"].complaint_rate == 0


def test_rates_per_domain_add_up_every_sender_on_it(traffic):
    rows = {row.key: row for row in deliverability_rates(by="domain")}
    assert set(rows) == {"team.example", "elsewhere.example"}
    assert rows["team.example"].complaint_sends == 40 and rows["team.example"].complaints == 1
    assert rows["team.example"].bounce_sends == 20
    assert rows["elsewhere.example"].bounces == 1


def test_the_page_charts_both_rates_for_senders_and_domains_in_svg_and_tables(traffic, csm_client, rep, settings):
    SendingPause.objects.create(
        scope="domain", domain="elsewhere.example", cause="bounces", events=1, sends=10, threshold=0.05, reason="r"
    )
    page = csm_client.get(reverse("deliverability")).content.decode()
    for chart in ("chart-bounces-sender", "chart-complaints-sender", "chart-bounces-domain", "chart-complaints-domain"):
        assert f'<svg id="{chart}"' in page and f'aria-labelledby="{chart}-title {chart}-desc"' in page
    assert "<td>1 of 30</td><td>3.3%</td>" in page  # rep1's complaints
    assert "<td>1 of 10</td><td>10.0%</td>" in page  # ada's bounces
    assert 'data-key="elsewhere.example"' in page and "paused" in page
    assert "<script>" not in page and "onclick" not in page  # strict CSP: no inline scripts


def test_the_page_is_for_csms_and_admins(traffic, rep_client, admin_client_):
    assert rep_client.get(reverse("deliverability")).status_code == 403
    assert admin_client_.get(reverse("deliverability")).status_code == 200


@pytest.mark.parametrize("senders", [2, 8])
def test_the_page_uses_a_constant_number_of_queries(senders, csm_client, django_assert_max_num_queries):
    for n in range(senders):
        _sent(UserFactory(username=f"s{n}", role="rep", email=f"s{n}@d{n}.example"), 3, bounced=1)
    with django_assert_max_num_queries(8):
        assert csm_client.get(reverse("deliverability")).status_code == 200
