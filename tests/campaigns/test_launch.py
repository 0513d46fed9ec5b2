"""Launching drafts at once and counts honestly: nobody waits for the scan, suppressed people are
not "enrolled", and who launched, paused, resumed or archived is recorded and shown."""

from __future__ import annotations

import re

from django.urls import reverse

from campaigns import selectors, services
from campaigns.models import Campaign, CampaignEvent, Enrollment
from outreach.suppression.models import Suppression
from outreach.suppression.services import suppression_add
from review.models import Draft
from tests.factories import AccountFactory, DraftFactory, RecipientFactory

from .conftest import make_campaign


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _growth_people(rep, n: int) -> list:
    return [RecipientFactory(owner=rep, account=AccountFactory(plan="Growth")) for _ in range(n)]


def _suppress(recipient) -> None:
    suppression_add(kind=Suppression.Kind.ADDRESS, value=recipient.email, reason=Suppression.Reason.UNSUBSCRIBED)


def test_launch_requests_every_due_first_draft_without_a_scan(csm, rep):
    campaign = make_campaign(status=Campaign.Status.DRAFT, created_by=csm, target_filter={"plan": "Growth"})
    people = _growth_people(rep, 3)

    result = services.campaign_launch(campaign=campaign, user=csm)

    assert (result.matched, result.enrolled, result.drafted) == (3, 3, 3)
    drafts = Draft.objects.filter(origin__campaign_ref=campaign.pk)
    assert sorted(d.recipient_id for d in drafts) == sorted(p.pk for p in people)
    assert set(Enrollment.objects.values_list("state", flat=True)) == {Enrollment.State.WAITING_REVIEW}


def test_the_launch_message_counts_suppressed_people_apart(csm_client, csm, rep):
    campaign = make_campaign(status=Campaign.Status.DRAFT, created_by=csm, target_filter={"plan": "Growth"})
    people = _growth_people(rep, 6)
    for person in people[2:]:
        _suppress(person)

    response = csm_client.post(reverse("campaign_transition", args=[campaign.pk, "launch"]), follow=True)

    html = response.content.decode()
    assert "6 matched: 2 enrolled, 4 skipped (suppressed)." in html
    assert "2 first drafts are being written now." in html
    assert Draft.objects.filter(origin__campaign_ref=campaign.pk).count() == 2


def test_the_funnel_shows_suppressed_people_apart_from_enrolled(csm, rep):
    campaign = make_campaign(status=Campaign.Status.DRAFT, created_by=csm, target_filter={"plan": "Growth"})
    people = _growth_people(rep, 6)
    for person in people[2:]:
        _suppress(person)
    services.campaign_launch(campaign=campaign, user=csm)

    funnel = selectors.campaign_funnel(campaign=campaign)

    assert funnel.enrolled == 2 and funnel.drafted == 2 and funnel.suppressed == 4
    assert funnel.not_enrolled() == ["4 suppressed"]


def test_a_person_with_an_open_email_elsewhere_waits_and_is_counted(csm, rep):
    campaign = make_campaign(status=Campaign.Status.DRAFT, created_by=csm, target_filter={"plan": "Growth"})
    busy, free = _growth_people(rep, 2)
    DraftFactory(recipient=busy, sender=rep)  # one email at a time per person

    result = services.campaign_launch(campaign=campaign, user=csm)

    assert (result.enrolled, result.drafted, result.waiting) == (2, 1, 1)
    assert "1 waits for another email to the same person to finish first." in result.describe()
    assert Enrollment.objects.get(recipient=busy).state == Enrollment.State.ACTIVE


def test_a_later_first_step_is_not_drafted_early(csm, rep):
    campaign = make_campaign(
        status=Campaign.Status.DRAFT, created_by=csm, target_filter={"plan": "Growth"}, steps=1, delays=(2,)
    )
    _growth_people(rep, 2)

    result = services.campaign_launch(campaign=campaign, user=csm)

    assert (result.enrolled, result.drafted) == (2, 0)
    assert not Draft.objects.exists()


def test_enrolling_newcomers_on_an_active_campaign_drafts_them_at_once(csm, rep):
    campaign = make_campaign(status=Campaign.Status.DRAFT, created_by=csm, target_filter={"plan": "Growth"})
    _growth_people(rep, 1)
    services.campaign_launch(campaign=campaign, user=csm)
    _growth_people(rep, 2)

    result = services.campaign_enroll_target(campaign=campaign, user=csm)

    assert (result.matched, result.already, result.enrolled, result.drafted) == (3, 1, 2, 2)
    assert Draft.objects.filter(origin__campaign_ref=campaign.pk).count() == 3


def test_who_launched_paused_resumed_and_archived_is_recorded_and_shown(csm_client, csm, rep):
    campaign = make_campaign(status=Campaign.Status.DRAFT, created_by=csm, target_filter={"plan": "Growth"})
    _growth_people(rep, 1)
    for action in ("launch", "pause", "resume", "archive"):
        csm_client.post(reverse("campaign_transition", args=[campaign.pk, action]))

    kinds = list(
        CampaignEvent.objects.filter(campaign=campaign).order_by("created_at", "id").values_list("kind", "actor")
    )
    assert kinds == [("launched", csm.pk), ("paused", csm.pk), ("resumed", csm.pk), ("archived", csm.pk)]
    html = csm_client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    assert f"Launched</strong> by {csm}" in html and f"Archived</strong> by {csm}" in html
    assert "1 matched: 1 enrolled." in html


def test_the_campaign_page_shows_drafting_progress_and_cost_only_to_csms(csm_client, rep_client, csm, rep):
    campaign = make_campaign(
        status=Campaign.Status.DRAFT,
        created_by=csm,
        target_filter={"plan": "Growth"},
        sender_mode=Campaign.SenderMode.NAMED,
        named_sender=rep,
    )
    _growth_people(rep, 2)
    services.campaign_launch(campaign=campaign, user=csm)
    Draft.objects.update(state=Draft.State.QUEUED)  # the worker has not written them yet

    csm_html = _text(csm_client.get(reverse("campaign_detail", args=[campaign.pk])))
    rep_html = _text(rep_client.get(reverse("campaign_detail", args=[campaign.pk])))

    assert "Writing drafts: 0 of 2 drafted — 0 ready for review, 2 being written" in csm_html
    assert 'hx-trigger="every 2s"' in csm_html  # polls while drafts are being written
    assert "per draft" in csm_html and "per draft" not in rep_html


def test_the_progress_partial_stops_polling_once_every_draft_is_written(csm_client, csm, rep):
    campaign = make_campaign(status=Campaign.Status.DRAFT, created_by=csm, target_filter={"plan": "Growth"})
    _growth_people(rep, 2)
    services.campaign_launch(campaign=campaign, user=csm)
    Draft.objects.update(state=Draft.State.READY)

    response = csm_client.get(reverse("campaign_detail", args=[campaign.pk]) + "?part=progress", HTTP_HX_REQUEST="true")

    html = _text(response)
    assert html.lstrip().startswith('<div id="campaign-progress"')
    assert "2 of 2 drafted — 2 ready for review" in html and "every 2s" not in html


def test_a_changed_target_group_asks_before_enrolling_or_stopping_anyone(csm_client, csm, rep):
    campaign = make_campaign(status=Campaign.Status.DRAFT, created_by=csm, target_filter={"plan": "Growth"})
    stays, leaves = _growth_people(rep, 2)
    services.campaign_launch(campaign=campaign, user=csm)
    leaves.account.plan = "Starter"
    leaves.account.save()
    _growth_people(rep, 3)

    html = _text(csm_client.get(reverse("campaign_detail", args=[campaign.pk])))

    assert "3 new people match — enroll them?" in html
    assert "1 person no longer matches but is still in the sequence — leave them or stop them?" in html
    assert Enrollment.objects.filter(campaign=campaign).count() == 2  # nothing happened silently

    csm_client.post(reverse("campaign_enroll", args=[campaign.pk]))
    csm_client.post(reverse("campaign_stop_unmatched", args=[campaign.pk]))

    assert Enrollment.objects.filter(campaign=campaign).count() == 5
    stopped = Enrollment.objects.get(campaign=campaign, recipient=leaves)
    assert stopped.state == Enrollment.State.CANCELLED and f"stopped by {csm}" in stopped.state_reason
    assert Enrollment.objects.get(campaign=campaign, recipient=stays).is_live
    assert "The target group changed" not in _text(csm_client.get(reverse("campaign_detail", args=[campaign.pk])))


def test_saving_the_target_group_of_an_active_campaign_enrolls_nobody_silently(csm_client, csm, rep):
    campaign = make_campaign(status=Campaign.Status.DRAFT, created_by=csm, target_filter={"plan": "Growth"})
    _growth_people(rep, 1)
    services.campaign_launch(campaign=campaign, user=csm)
    RecipientFactory(owner=rep, account=AccountFactory(plan="Starter"))

    response = csm_client.post(
        reverse("campaign_target", args=[campaign.pk]), {"target_mode": "filter", "plan": "Starter"}, follow=True
    )

    html = _text(response)
    assert "Nobody was enrolled or stopped yet: choose below." in html
    assert "1 new person matches — enroll them?" in html
    assert Enrollment.objects.filter(campaign=campaign).count() == 1
