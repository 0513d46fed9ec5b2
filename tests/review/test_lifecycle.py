"""The draft lifecycle: request, generate (the task), sweep, retry, regenerate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule

from outreach.core.errors import ApplicationError
from outreach.drafting import AnthropicProvider, OfflineProvider
from outreach.mail.models import EngagementEvent, OutboundMessage
from outreach.suppression.models import Suppression
from review import services
from review.briefs import Brief
from review.models import Draft, DraftDecision, DraftEdit, DraftSkip, DraftVersion
from tests.anthropic_stub import AnthropicStub
from tests.broker import queued_tasks
from tests.factories import (
    CampaignFactory,
    DraftFactory,
    FactFactory,
    RecipientFactory,
    SuppressionFactory,
    UserFactory,
    from_campaign,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    return CampaignFactory()


@pytest.fixture
def queued(rep, campaign):
    recipient = RecipientFactory(first_name="Liu", owner=rep)
    FactFactory(recipient=recipient, text="Logged in 14 times in October")
    return services.draft_request(recipient=recipient, sender=rep, **from_campaign(campaign))


# --- request --------------------------------------------------------------------------------


@pytest.mark.broker
def test_requesting_a_draft_queues_it_and_enqueues_the_task_on_commit(
    rep, campaign, django_capture_on_commit_callbacks
):
    recipient = RecipientFactory()
    with django_capture_on_commit_callbacks(execute=True):
        draft = services.draft_request(recipient=recipient, sender=rep, **from_campaign(campaign))
    assert draft.state == Draft.State.QUEUED
    assert [t.name for t in queued_tasks()] == [f"draft-{draft.pk}"]


def test_a_suppressed_recipient_gets_no_draft_only_a_logged_skip(rep, campaign):
    recipient = RecipientFactory()
    SuppressionFactory(value=recipient.email, reason=Suppression.Reason.UNSUBSCRIBED)
    assert services.draft_request(recipient=recipient, sender=rep, **from_campaign(campaign)) is None
    skip = DraftSkip.objects.get()
    assert skip.code == "suppressed" and "Unsubscribed" in skip.reason
    assert not Draft.objects.exists()


def test_a_second_open_draft_for_the_same_recipient_and_campaign_is_refused(rep, campaign):
    recipient = RecipientFactory()
    services.draft_request(recipient=recipient, sender=rep, **from_campaign(campaign))
    with pytest.raises(ApplicationError, match="already has an open draft"):
        services.draft_request(recipient=recipient, sender=rep, **from_campaign(campaign))


def test_bulk_request_checks_suppression_once_and_skips_open_drafts(rep, campaign, django_assert_max_num_queries):
    recipients = RecipientFactory.create_batch(30)
    SuppressionFactory(value=recipients[0].email)
    DraftFactory(recipient=recipients[1], campaign=campaign, sender=rep)
    # A constant handful: savepoints, the campaign's lists, one suppression query, one for open
    # drafts, one insert for drafts and one for skips, whatever the number of recipients.
    with django_assert_max_num_queries(10):
        result = services.draft_request_bulk(recipients=recipients, sender_for=lambda r: rep, **from_campaign(campaign))
    assert (len(result.created), result.suppressed, result.already_open) == (28, 1, 1)
    assert DraftSkip.objects.filter(code="suppressed").count() == 1
    assert Draft.objects.filter(origin__campaign_ref=campaign.pk, state=Draft.State.QUEUED).count() == 28


# --- generate -------------------------------------------------------------------------------


def test_generating_makes_a_ready_draft_with_grounding_cost_and_a_first_version(queued):
    draft = services.draft_generate(draft_id=queued.pk, provider=OfflineProvider())
    assert draft.state == Draft.State.READY and draft.ready_at is not None
    assert draft.subject and "Liu" in draft.body_text and draft.body_html.startswith("<p>")
    assert draft.provider == "offline" and draft.model_name == "offline-template-v2"
    assert draft.unsupported_claim_count == 0 and draft.grounding
    assert draft.cited_fact_ids
    assert draft.attempts == 1 and draft.version == 2
    version = DraftVersion.objects.get(draft=draft)
    assert (version.number, version.origin, version.body_text) == (1, "generated", draft.body_text)


def test_the_facts_given_to_the_engine_include_profile_and_account_state(queued):
    draft = services.draft_generate(draft_id=queued.pk, provider=OfflineProvider())
    ids = {f["id"] for f in draft.facts_snapshot}
    assert {"recipient:first_name", "recipient:title", "account:name", "account:state", "account:plan"} <= ids
    assert any(f["text"] == "Logged in 14 times in October" for f in draft.facts_snapshot)


def test_generating_twice_does_nothing_the_second_time(queued):
    assert services.draft_generate(draft_id=queued.pk, provider=OfflineProvider()) is not None
    assert services.draft_generate(draft_id=queued.pk, provider=OfflineProvider()) is None
    assert DraftVersion.objects.filter(draft=queued).count() == 1
    assert Draft.objects.get(pk=queued.pk).attempts == 1


def test_a_refusal_fails_the_draft_with_a_reason_that_is_not_retryable(queued):
    with AnthropicStub() as stub:
        stub.queue(stub.refusal())
        provider = AnthropicProvider(api_key="k", model="claude-sonnet-4-5", base_url=stub.url, max_retries=0)
        assert services.draft_generate(draft_id=queued.pk, provider=provider) is None
    draft = Draft.objects.get(pk=queued.pk)
    assert draft.state == Draft.State.FAILED
    assert "refusal" in draft.failure_reason and "not retryable" in draft.failure_reason
    assert draft.drafting_started_at is None


def test_an_overloaded_api_fails_the_draft_as_retryable_never_leaving_it_drafting(queued):
    with AnthropicStub() as stub:
        stub.default = stub.overloaded()
        provider = AnthropicProvider(api_key="k", model="claude-sonnet-4-5", base_url=stub.url, max_retries=0)
        services.draft_generate(draft_id=queued.pk, provider=provider)
    draft = Draft.objects.get(pk=queued.pk)
    assert draft.state == Draft.State.FAILED
    assert "(retryable)" in draft.failure_reason


def test_anthropic_drafts_record_tokens_and_cost(rep, campaign):
    recipient = RecipientFactory(first_name="Liu")
    draft = services.draft_request(recipient=recipient, sender=rep, **from_campaign(campaign))
    with AnthropicStub() as stub:
        provider = AnthropicProvider(api_key="k", model="claude-sonnet-4-5", base_url=stub.url, max_retries=0)
        services.draft_generate(draft_id=draft.pk, provider=provider)
        sent = stub.last.json
    draft.refresh_from_db()
    assert draft.state == Draft.State.READY and draft.provider == "anthropic"
    assert draft.input_tokens > 0 and draft.output_tokens == 130 and draft.cost_usd > 0
    # The recipient's facts reach the model as data.
    assert "Liu" in str(sent["messages"])


def test_follow_ups_get_the_earlier_emails_replies_and_the_enrollment_source(rep, campaign):
    from campaigns.models import Enrollment, SequenceStep
    from campaigns.services import step_brief, step_origin

    recipient = RecipientFactory()
    enrollment = Enrollment.objects.create(
        campaign=campaign, recipient=recipient, source={"subject": "Question", "body_text": "Can we talk pricing?"}
    )
    first = DraftFactory(recipient=recipient, sender=rep, campaign=campaign, enrollment=enrollment, state="approved")
    message = OutboundMessage.objects.create(
        draft_ref=first.pk, recipient=recipient, sender=rep, enrollment_ref=enrollment.pk, from_email="a@b.example",
        to_email=recipient.email, subject="Pricing", body_html="<p>x</p>", body_text="Our pricing is simple.",
        content_hash="x", message_id="<1@b.example>", idempotency_key="k1", state="sent",
    )  # fmt: skip
    EngagementEvent.objects.create(
        message=message, recipient=recipient, kind="replied", occurred_at=timezone.now(), reply_text="Send more"
    )
    step = SequenceStep.objects.create(campaign=campaign, position=2, prompt="Follow up")
    # What campaigns hands down for the second step: the enrollment's id and its source message.
    draft = services.draft_request(
        recipient=recipient,
        sender=rep,
        origin=step_origin(enrollment=enrollment, step=step),
        brief=step_brief(enrollment=enrollment, step=step),
    )
    request = services.draft_compose_request(draft=draft)
    assert [(m.direction, m.body_text) for m in request.thread] == [
        ("outbound", "Our pricing is simple."),
        ("inbound", "Send more"),
    ]
    assert request.source_message.body_text == "Can we talk pricing?"
    assert request.is_follow_up


def test_recent_edits_of_the_same_sender_and_campaign_become_learning_examples(queued, rep, campaign):
    other = DraftFactory(sender=rep, campaign=campaign, state="approved")
    DraftEdit.objects.create(
        draft=other, subject_before="s", subject_after="s", body_before="Long text", body_after="Short",
        char_distance=5, normalized_similarity=0.5, word_distance=2,
    )  # fmt: skip
    elsewhere = DraftFactory(sender=rep, state="approved")
    DraftEdit.objects.create(
        draft=elsewhere, subject_before="s", subject_after="s", body_before="A", body_after="B",
        char_distance=1, normalized_similarity=0.5, word_distance=1,
    )  # fmt: skip
    examples = services.draft_compose_request(draft=queued).edit_examples
    assert [(e.before, e.after) for e in examples] == [("Long text", "Short")]


def test_the_briefs_persona_overrides_the_senders_tone(rep):
    draft = services.draft_request(
        recipient=RecipientFactory(owner=rep), sender=rep, brief=Brief(persona_tone="formal", persona_role="CSM")
    )
    persona = services.draft_compose_request(draft=draft).persona
    assert (persona.tone, persona.role, persona.company) == ("formal", "CSM", "Team Co")


# --- sweep ----------------------------------------------------------------------------------


@pytest.mark.broker
def test_the_sweep_returns_drafts_stuck_in_drafting_to_the_queue(queued):
    Draft.objects.filter(pk=queued.pk).update(
        state="drafting", drafting_started_at=timezone.now() - timedelta(minutes=11), attempts=1
    )
    result = services.draft_sweep_stale()
    assert result["requeued"] == 1
    assert Draft.objects.get(pk=queued.pk).state == Draft.State.QUEUED
    assert f"draft-{queued.pk}" in {t.name for t in queued_tasks()}


def test_the_sweep_leaves_drafts_within_their_lease_alone(queued):
    Draft.objects.filter(pk=queued.pk).update(state="drafting", drafting_started_at=timezone.now())
    assert services.draft_sweep_stale()["requeued"] == 0
    assert Draft.objects.get(pk=queued.pk).state == Draft.State.DRAFTING


def test_the_sweep_fails_a_draft_whose_worker_died_too_often(queued):
    Draft.objects.filter(pk=queued.pk).update(
        state="drafting", drafting_started_at=timezone.now() - timedelta(hours=1), attempts=services.MAX_ATTEMPTS
    )
    services.draft_sweep_stale()
    draft = Draft.objects.get(pk=queued.pk)
    assert draft.state == Draft.State.FAILED and "stopped" in draft.failure_reason


@pytest.mark.broker
def test_the_sweep_reenqueues_a_queued_draft_whose_task_was_lost_but_not_one_still_waiting(rep, campaign):
    lost, waiting = DraftFactory.create_batch(2, state="queued", sender=rep)
    Draft.objects.filter(pk__in=[lost.pk, waiting.pk]).update(updated_at=timezone.now() - timedelta(minutes=5))
    services._enqueue_generation(waiting.pk)
    result = services.draft_sweep_stale()
    assert result["reenqueued"] == 1
    names = [t.name for t in queued_tasks()]
    assert names.count(f"draft-{lost.pk}") == 1 and names.count(f"draft-{waiting.pk}") == 1


def test_the_sweep_is_scheduled_every_minute_after_migrate():
    schedule = Schedule.objects.get(func="review.tasks.draft_sweep_stale")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "review.tasks.draft_sweep_stale",
        Schedule.MINUTES,
        1,
    )


def test_the_task_entry_point_generates_the_draft(queued):
    from review import tasks

    tasks.draft_generate(queued.pk)
    assert Draft.objects.get(pk=queued.pk).state == Draft.State.READY


# --- retry and regenerate -------------------------------------------------------------------


def test_a_failed_draft_can_be_retried(rep):
    draft = DraftFactory(state="failed", failure_reason="timeout (retryable)", sender=rep)
    services.draft_retry(draft=draft, user=rep)
    draft.refresh_from_db()
    assert draft.state == Draft.State.QUEUED
    assert DraftDecision.objects.get(draft=draft).action == "retry"


def test_regenerating_keeps_the_previous_text_and_writes_a_new_version(queued, rep):
    draft = services.draft_generate(draft_id=queued.pk, provider=OfflineProvider())
    first_body = draft.body_text
    services.draft_regenerate(draft=draft, user=rep, expected_version=draft.version, instruction="shorter")
    assert Draft.objects.get(pk=draft.pk).state == Draft.State.QUEUED
    regenerated = services.draft_generate(draft_id=draft.pk, provider=OfflineProvider())
    assert regenerated.state == Draft.State.READY and regenerated.instruction == "shorter"
    versions = list(DraftVersion.objects.filter(draft=draft).values_list("number", "origin", "body_text"))
    assert versions[0] == (1, "generated", first_body)
    assert versions[1][:2] == (2, "regenerated")
    assert DraftDecision.objects.get(draft=draft).note == "shorter"


def test_regenerating_needs_an_instruction(rep):
    draft = DraftFactory(sender=rep)
    with pytest.raises(ApplicationError, match="Say what to change"):
        services.draft_regenerate(draft=draft, user=rep, expected_version=draft.version, instruction="  ")


def test_the_demo_gives_rita_ten_ready_drafts_and_running_it_again_adds_none():
    from django.core.management import call_command

    call_command("seed_demo")
    call_command("seed_review_demo")
    rita = UserFactory._meta.model.objects.get(username="rita")
    ready = Draft.objects.filter(sender=rita, state="ready")
    assert ready.count() == 10
    call_command("seed_review_demo")
    assert Draft.objects.filter(sender=rita).count() == 10
