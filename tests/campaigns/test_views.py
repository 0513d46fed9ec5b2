"""Campaign pages: who may see and change what, htmx forms, preview, funnel, query counts."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from campaigns import services
from campaigns.models import Campaign, Enrollment, SequenceStep
from outreach.mail.models import EngagementEvent
from review.models import Draft
from tests.factories import AccountFactory, FactFactory, RecipientFactory, UserFactory

from .conftest import approve, finish, make_campaign, record_event

HTMX = {"HTTP_HX_REQUEST": "true"}


def campaign_payload(**overrides) -> dict:
    data = {
        "name": "Renewal within 30 days",
        "goal": "Book renewal calls",
        "trigger": "manual",
        "key_message": "The forecasting module is included",
        "call_to_action": "Would a 20-minute call help?",
        "sender_mode": "owner",
        "exit_on_reply": "on",
        "window_days": ["0", "1", "2", "3", "4"],
        "window_start": "09:00",
        "window_end": "17:00",
    }
    data.update(overrides)
    return data


# --- access ---------------------------------------------------------------------------------


def test_a_csm_creates_a_campaign(csm_client, csm):
    response = csm_client.post(reverse("campaign_create"), campaign_payload())

    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("campaign_detail", args=[campaign.pk])
    assert campaign.created_by == csm and campaign.status == Campaign.Status.DRAFT
    assert campaign.send_window == {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}


def test_inline_validation_shows_errors_and_saves_nothing(csm_client):
    response = csm_client.post(
        reverse("campaign_create"), campaign_payload(sender_mode="named", window_end="08:00", _validate="1"), **HTMX
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Pick who sends" in html and "must end after it starts" in html
    assert 'hx-swap-oob="true"' in html and "<html" not in html
    assert not Campaign.objects.exists()


def test_a_valid_form_validates_inline_without_saving(csm_client):
    response = csm_client.post(reverse("campaign_create"), campaign_payload(_validate="1"), **HTMX)
    assert response.status_code == 200 and not Campaign.objects.exists()


def test_a_rep_cannot_create_a_campaign(rep_client):
    assert rep_client.post(reverse("campaign_create"), campaign_payload()).status_code == 403


def test_a_rep_cannot_edit_a_csms_campaign_they_send_in(rep_client, rep, csm):
    campaign = make_campaign(created_by=csm, sender_mode=Campaign.SenderMode.NAMED, named_sender=rep)

    assert rep_client.get(reverse("campaign_detail", args=[campaign.pk])).status_code == 200
    assert rep_client.get(reverse("campaign_edit", args=[campaign.pk])).status_code == 403
    response = rep_client.post(reverse("campaign_edit", args=[campaign.pk]), campaign_payload(name="Hijacked"))
    assert response.status_code == 403
    assert rep_client.post(reverse("campaign_transition", args=[campaign.pk, "archive"])).status_code == 403
    campaign.refresh_from_db()
    assert campaign.name != "Hijacked" and campaign.status == Campaign.Status.ACTIVE


def test_a_rep_given_change_campaign_may_edit(login_client, csm):
    rep = UserFactory(username="trusted", role="rep")
    rep.user_permissions.add(Permission.objects.get(codename="change_campaign", content_type__app_label="campaigns"))
    campaign = make_campaign(created_by=csm)

    response = login_client(rep).post(reverse("campaign_edit", args=[campaign.pk]), campaign_payload(name="Renamed"))

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.name == "Renamed"


def test_a_rep_does_not_see_campaigns_they_do_not_send_in(rep_client, csm):
    hidden = make_campaign(created_by=csm, name="Not yours")

    assert rep_client.get(reverse("campaign_detail", args=[hidden.pk])).status_code == 404
    assert "Not yours" not in rep_client.get(reverse("campaign_list")).content.decode()


def test_a_rep_sees_a_campaign_once_they_send_a_step_in_it(rep_client, rep, csm):
    campaign = make_campaign(created_by=csm, name="Owner-sent")
    services.enrollment_create(campaign=campaign, recipient=RecipientFactory(owner=rep))
    services.enrollment_advance_due()

    assert "Owner-sent" in rep_client.get(reverse("campaign_list")).content.decode()


# --- steps, target, preview -----------------------------------------------------------------


def test_steps_are_added_in_order_with_htmx(csm_client, csm):
    campaign = make_campaign(steps=0, status=Campaign.Status.DRAFT, created_by=csm)
    url = reverse("campaign_step_add", args=[campaign.pk])

    csm_client.post(url, {"delay_days": 0, "subject": "Hi {{ first_name }}", "body": "Hello"}, **HTMX)
    response = csm_client.post(url, {"delay_days": 3, "prompt": "Follow up on the renewal."}, **HTMX)

    assert response.status_code == 200 and "stepsChanged" in response["HX-Trigger"]
    assert list(campaign.steps.values_list("position", "delay_days")) == [(1, 0), (2, 3)]
    assert "Step 2" in response.content.decode()


def test_a_step_with_an_unknown_variable_is_refused_inline(csm_client, csm):
    campaign = make_campaign(steps=0, status=Campaign.Status.DRAFT, created_by=csm)

    response = csm_client.post(
        reverse("campaign_step_add", args=[campaign.pk]),
        {"delay_days": 0, "subject": "Hi {{ first_name }}", "body": "{{ password }}"},
        **HTMX,
    )

    assert "Unknown variable(s): password" in response.content.decode()
    assert not SequenceStep.objects.exists()


def test_steps_can_be_reordered_before_launch(csm_client, csm):
    campaign = make_campaign(steps=2, status=Campaign.Status.DRAFT, created_by=csm)
    second = campaign.steps.get(position=2)

    csm_client.post(reverse("campaign_step_move", args=[campaign.pk, second.pk]), {"direction": "up"}, **HTMX)

    second.refresh_from_db()
    assert second.position == 1


def test_the_target_filter_shows_a_live_count_and_preview(csm_client, csm):
    growth = AccountFactory(plan="Growth", state="active")
    RecipientFactory(account=growth, title="Head of Finance")
    RecipientFactory(account=growth, title="CTO")
    RecipientFactory(account=AccountFactory(plan="Starter"), title="Head of Finance")
    campaign = make_campaign(created_by=csm)

    response = csm_client.get(
        reverse("campaign_target", args=[campaign.pk]),
        {"target_mode": "filter", "plan": "Growth", "title_contains": "finance"},
        **HTMX,
    )

    html = response.content.decode()
    assert response.status_code == 200 and '<span class="count">1</span>' in html
    assert "Head of Finance" in html and "<html" not in html


def test_the_target_filter_by_fact_age(csm_client, csm):
    fresh, stale = RecipientFactory(), RecipientFactory()
    FactFactory(recipient=fresh, kind="support_ticket")
    from django.utils import timezone

    FactFactory(recipient=stale, kind="support_ticket", observed_at=timezone.now() - timezone.timedelta(days=90))
    campaign = make_campaign(created_by=csm)

    response = csm_client.get(
        reverse("campaign_target", args=[campaign.pk]),
        {"target_mode": "filter", "fact_kind": "support_ticket", "fact_max_age_days": 30},
        **HTMX,
    )

    html = response.content.decode()
    assert '<span class="count">1</span>' in html and fresh.email in html and stale.email not in html


def test_a_static_list_from_csv_emails_is_saved(csm_client, csm):
    a, b = RecipientFactory(), RecipientFactory()
    campaign = make_campaign(created_by=csm)

    response = csm_client.post(
        reverse("campaign_target", args=[campaign.pk]),
        {"target_mode": "static", "static_emails": f"email\n{a.email.upper()}, {b.email}"},
    )

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.target_mode == "static" and set(campaign.static_recipients.all()) == {a, b}


def test_a_static_list_reports_unknown_addresses(csm_client, csm):
    campaign = make_campaign(created_by=csm)
    response = csm_client.post(
        reverse("campaign_target", args=[campaign.pk]),
        {"target_mode": "static", "static_emails": "ghost@nowhere.example"},
    )
    assert response.status_code == 200 and "Not recipients yet: ghost@nowhere.example" in response.content.decode()


def test_previewing_a_draft_stores_and_sends_nothing(csm_client, csm, rep):
    campaign = make_campaign(steps=0, status=Campaign.Status.DRAFT, created_by=csm)
    SequenceStep.objects.create(campaign=campaign, position=1, prompt="Mention their usage.")
    recipient = RecipientFactory(owner=rep, first_name="Liu")
    FactFactory(recipient=recipient, text="Logged in 14 times in October")

    response = csm_client.get(reverse("campaign_preview", args=[campaign.pk]), {"recipient": recipient.pk}, **HTMX)

    html = response.content.decode()
    # The offline drafter writes the fact into a sentence of its own ("I saw you logged in…").
    assert response.status_code == 200 and "Hi Liu," in html and "logged in 14 times in october" in html.lower()
    assert "offline" in html
    assert not Draft.objects.exists() and not Enrollment.objects.exists()


# --- lifecycle ------------------------------------------------------------------------------


def test_launch_enrolls_the_target_group_and_pause_resume_archive(csm_client, csm, rep):
    campaign = make_campaign(status=Campaign.Status.DRAFT, created_by=csm, target_filter={"plan": "Growth"})
    RecipientFactory(owner=rep, account=AccountFactory(plan="Growth"))
    RecipientFactory(owner=rep, account=AccountFactory(plan="Starter"))

    def act(action):
        return csm_client.post(reverse("campaign_transition", args=[campaign.pk, action]))

    act("launch")
    assert Enrollment.objects.count() == 1
    act("pause")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    act("resume")
    assert Enrollment.objects.count() == 1  # nobody enrolled twice
    act("archive")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ARCHIVED
    assert Enrollment.objects.get().state == Enrollment.State.CANCELLED


def test_a_campaign_without_steps_cannot_launch(csm_client, csm):
    campaign = make_campaign(steps=0, status=Campaign.Status.DRAFT, created_by=csm)
    response = csm_client.post(reverse("campaign_transition", args=[campaign.pk, "launch"]), follow=True)
    assert "Add at least one sequence step" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_the_scan_button_enrolls_and_drafts(csm_client, csm, rep):
    from datetime import timedelta

    from django.utils import timezone

    from campaigns.services.milestones import milestone_rule_create

    campaign = make_campaign(created_by=csm, trigger=Campaign.Trigger.MILESTONE)
    milestone_rule_create(campaign=campaign, kind="renewal_within", parameters={"days": 30})
    RecipientFactory(owner=rep, account=AccountFactory(renewal_date=timezone.localdate() + timedelta(days=12)))

    response = csm_client.post(reverse("campaign_scan", args=[campaign.pk]), follow=True)

    assert "1 newly enrolled, 1 drafts requested" in response.content.decode()
    assert Draft.objects.get().sender == rep


# --- the campaign page ----------------------------------------------------------------------


@pytest.fixture
def busy_campaign(csm, rep):
    """Ten enrollments at every stage of the funnel."""
    campaign = make_campaign(created_by=csm, steps=2, delays=(0, 3))
    recipients = [RecipientFactory(owner=rep) for _ in range(10)]
    for r in recipients:
        services.enrollment_create(campaign=campaign, recipient=r)
    services.enrollment_advance_due()  # 10 drafted
    drafts = list(Draft.objects.filter(origin__campaign_ref=campaign.pk).order_by("pk"))
    messages = [approve(d, rep) for d in drafts[:6]]  # 6 approved
    for m in messages[:4]:
        finish(m)  # 4 sent
    record_event(messages[0], EngagementEvent.Kind.REPLIED, reply_text="Yes")  # 1 replied
    return campaign


def test_the_funnel_counts_each_stage(busy_campaign):
    from campaigns.selectors import campaign_funnel

    funnel = campaign_funnel(campaign=busy_campaign)

    assert funnel.as_steps() == [("Enrolled", 10), ("Drafted", 10), ("Approved", 6), ("Sent", 4), ("Replied", 1)]


def test_the_campaign_page_shows_funnel_and_skips_in_few_queries(
    csm_client, busy_campaign, django_assert_max_num_queries
):
    from outreach.suppression.models import Suppression
    from outreach.suppression.services import suppression_add

    extra = RecipientFactory()
    suppression_add(kind=Suppression.Kind.ADDRESS, value=extra.email, reason=Suppression.Reason.UNSUBSCRIBED)
    services.enrollment_create(campaign=busy_campaign, recipient=extra)

    with django_assert_max_num_queries(30):
        response = csm_client.get(reverse("campaign_detail", args=[busy_campaign.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Exited on reply" in html and "the recipient replied" in html
    assert "Unsubscribed" in html  # the suppressed enrollment and its reason


def test_the_campaign_list_needs_few_queries(csm_client, csm, django_assert_max_num_queries):
    for _ in range(15):
        make_campaign(created_by=csm, steps=1, delays=(0,))
    with django_assert_max_num_queries(8):
        assert csm_client.get(reverse("campaign_list")).status_code == 200


def test_the_enrollment_page_shows_its_history_and_can_cancel(csm_client, csm, rep):
    campaign = make_campaign(created_by=csm)
    enrollment = services.enrollment_create(campaign=campaign, recipient=RecipientFactory(owner=rep))
    services.enrollment_advance_due()

    page = csm_client.get(reverse("enrollment_detail", args=[enrollment.pk])).content.decode()
    assert "Draft requested" in page

    csm_client.post(reverse("enrollment_cancel", args=[enrollment.pk]), {"reason": "Asked to pause"})
    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.CANCELLED and enrollment.state_reason == "Asked to pause"


def test_a_rep_cannot_cancel_an_enrollment(rep_client, rep, csm):
    campaign = make_campaign(created_by=csm, sender_mode=Campaign.SenderMode.NAMED, named_sender=rep)
    enrollment = services.enrollment_create(campaign=campaign, recipient=RecipientFactory(owner=rep))
    assert rep_client.post(reverse("enrollment_cancel", args=[enrollment.pk])).status_code == 403


def test_a_manual_campaign_with_an_empty_filter_cannot_launch(csm_client, csm):
    RecipientFactory()
    campaign = make_campaign(status=Campaign.Status.DRAFT, created_by=csm, target_filter={})
    response = csm_client.post(reverse("campaign_transition", args=[campaign.pk, "launch"]), follow=True)
    assert "Set a target group first" in response.content.decode()
    assert not Enrollment.objects.exists()


def test_the_preview_warns_when_the_sample_recipient_is_suppressed(csm_client, csm, rep):
    from outreach.suppression.models import Suppression
    from outreach.suppression.services import suppression_add

    campaign = make_campaign(status=Campaign.Status.DRAFT, created_by=csm)
    recipient = RecipientFactory(owner=rep)
    suppression_add(kind=Suppression.Kind.ADDRESS, value=recipient.email, reason=Suppression.Reason.UNSUBSCRIBED)

    response = csm_client.get(reverse("campaign_preview", args=[campaign.pk]), {"recipient": recipient.pk}, **HTMX)

    assert "the scan would skip them" in response.content.decode()


def test_a_rep_sees_only_their_own_recipients_on_a_campaign_page(rep_client, rep, other_rep, csm):
    campaign = make_campaign(created_by=csm, name="Shared")
    mine = RecipientFactory(owner=rep)
    theirs = RecipientFactory(owner=other_rep)
    for r in (mine, theirs):
        services.enrollment_create(campaign=campaign, recipient=r)
    services.enrollment_advance_due()

    html = rep_client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()

    assert mine.email in html and theirs.email not in html
    theirs_enrollment = Enrollment.objects.get(recipient=theirs)
    assert rep_client.get(reverse("enrollment_detail", args=[theirs_enrollment.pk])).status_code == 404


def test_the_preview_uses_the_configured_provider(csm_client, csm, rep, anthropic_settings):
    campaign = make_campaign(steps=0, status=Campaign.Status.DRAFT, created_by=csm)
    SequenceStep.objects.create(campaign=campaign, position=1, prompt="Mention their usage.")
    recipient = RecipientFactory(owner=rep, first_name="Liu")

    response = csm_client.get(reverse("campaign_preview", args=[campaign.pk]), {"recipient": recipient.pk}, **HTMX)

    html = response.content.decode()
    assert "Your October usage" in html and "anthropic" in html
    system = anthropic_settings.last.json["system"]
    assert "This email: Mention their usage." in str(system)
    assert not Draft.objects.exists()


def test_the_campaign_page_loads_the_engagement_rates_fragment(csm_client, csm):
    campaign = make_campaign(created_by=csm)
    rates_url = reverse("campaign_rates", args=[campaign.pk])

    html = csm_client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()

    assert f'hx-get="{rates_url}"' in html and f'href="{rates_url}"' in html
    assert csm_client.get(rates_url, **HTMX).status_code == 200
