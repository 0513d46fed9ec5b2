"""Bulk drafting through the Message Batches API: more than DRAFT_BATCH_THRESHOLD drafts requested
together go to one batch (half price), a poller stores each result through the single-call path,
and requests that errored, expired or were canceled are drafted again by single calls. The real
SDK talks to the local Anthropic stub over HTTP."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from outreach.drafting.pricing import cost_usd
from review import services
from review.models import Draft, DraftBatch
from tests.broker import broker_purge, queued_tasks
from tests.factories import CampaignFactory, DraftFactory, FactFactory, RecipientFactory, from_campaign

# Nearly every test here hands tasks to the broker: all run again on Redis (.ci/run).
pytestmark = [pytest.mark.django_db, pytest.mark.broker]

THRESHOLD = 3


@pytest.fixture
def batching(settings, anthropic_settings):
    settings.DRAFT_BATCH_THRESHOLD = THRESHOLD
    return anthropic_settings


@pytest.fixture
def campaign():
    return CampaignFactory()


def _recipients(rep, n: int):
    out = []
    for i in range(n):
        recipient = RecipientFactory(first_name=f"Liu{i}", owner=rep)
        FactFactory(recipient=recipient, text="Logged in 14 times in October")
        out.append(recipient)
    return out


def _request(rep, campaign, n: int, capture) -> list[int]:
    with capture(execute=True):
        result = services.draft_request_bulk(
            recipients=_recipients(rep, n), sender_for=lambda r: rep, **from_campaign(campaign)
        )
    return [d.pk for d in result.created]


def _states(ids) -> dict[str, int]:
    out: dict[str, int] = {}
    for state in Draft.objects.filter(pk__in=ids).values_list("state", flat=True):
        out[state] = out.get(state, 0) + 1
    return out


def _task_names() -> list[str]:
    return [t.name for t in queued_tasks()]


def _submit(batch_id: int | None = None) -> DraftBatch:
    batch = DraftBatch.objects.get(pk=batch_id) if batch_id else DraftBatch.objects.get()
    submitted = services.draft_batch_submit(batch_id=batch.pk)
    assert submitted is not None
    return submitted


def test_it_sends_a_bulk_request_above_the_threshold_as_one_batch_marked_on_its_drafts(
    rep, campaign, batching, django_capture_on_commit_callbacks
):
    # The sender's approved emails (yesterday's) make the prefix long enough to be cached.
    for i in range(5):
        DraftFactory(
            sender=rep,
            state=Draft.State.APPROVED,
            body_text=f"Hi Ana,\n\n{'A note about the reports your team asked for, with last quarter numbers. ' * 6}\n\nBest,{i}",
            decided_at=timezone.now() - timedelta(days=1),
        )
    ids = _request(rep, campaign, 5, django_capture_on_commit_callbacks)
    batch = DraftBatch.objects.get()
    assert batch.state == DraftBatch.State.PREPARING and batch.request_count == 5
    assert _states(ids) == {"drafting": 5}
    assert set(Draft.objects.filter(pk__in=ids).values_list("batch_id", flat=True)) == {batch.pk}
    # One submit task, no single drafting task.
    assert _task_names() == [f"draft-batch-{batch.pk}"]

    batch = _submit()
    [create] = [r for r in batching.requests if r.path == "/v1/messages/batches"]
    requests = create.json["requests"]
    drafts = {d.pk: d for d in Draft.objects.filter(pk__in=ids)}
    assert sorted(r["custom_id"] for r in requests) == sorted(f"draft-{pk}-v{drafts[pk].version}" for pk in ids)
    # The same cached prefix in every request, marked for caching as a single call would be
    # (it reaches Sonnet's 1,024 tokens), counted once for the whole batch.
    systems = [r["params"]["system"] for r in requests]
    assert all(s == systems[0] for s in systems)
    assert systems[0][-1]["cache_control"] == {"type": "ephemeral"}
    assert "<approved_emails>" in systems[0][-1]["text"]
    assert len(batching.count_requests) == 2, "the prefix and the probe message, once"
    assert batch.state == DraftBatch.State.SUBMITTED and batch.provider_batch_id == "msgbatch_stub_1"
    assert batch.submitted_at is not None
    assert batching.message_requests == []


def test_the_poller_stores_each_result_like_a_single_call_at_half_the_price(
    rep, campaign, batching, django_capture_on_commit_callbacks
):
    ids = _request(rep, campaign, 4, django_capture_on_commit_callbacks)
    _submit()
    result = services.draft_batches_poll()
    assert result == {"submitted": 0, "checked": 1, "ended": 1}
    batch = DraftBatch.objects.get()
    assert batch.state == DraftBatch.State.ENDED
    assert (batch.succeeded_count, batch.stored_count, batch.fallback_count) == (4, 4, 0)
    assert _states(ids) == {"ready": 4}
    single = cost_usd("claude-sonnet-4-6", input_tokens=420, output_tokens=130, cache_read_tokens=1500)
    for draft in Draft.objects.filter(pk__in=ids):
        assert draft.versions.count() == 1
        assert draft.batch_id == batch.pk
        assert draft.cost_usd == single / 2
        assert draft.cache_read_tokens == 1500
        assert draft.body_html and draft.grounding, "sanitized and grounding-checked like a single call"
        assert "Liu" in draft.body_text
    assert batching.message_requests == []


def test_a_request_at_or_under_the_threshold_gets_one_task_per_draft(
    rep, campaign, batching, django_capture_on_commit_callbacks
):
    ids = _request(rep, campaign, THRESHOLD, django_capture_on_commit_callbacks)
    assert not DraftBatch.objects.exists()
    assert _states(ids) == {"queued": THRESHOLD}
    assert sorted(_task_names()) == sorted(f"draft-{pk}" for pk in ids)


def test_the_offline_provider_never_batches(rep, campaign, settings, django_capture_on_commit_callbacks):
    settings.DRAFTING_PROVIDER = "offline"
    settings.DRAFT_BATCH_THRESHOLD = THRESHOLD
    ids = _request(rep, campaign, 6, django_capture_on_commit_callbacks)
    assert not DraftBatch.objects.exists()
    assert len(_task_names()) == len(ids) == 6


def test_a_threshold_of_zero_turns_batches_off(rep, campaign, batching, settings, django_capture_on_commit_callbacks):
    settings.DRAFT_BATCH_THRESHOLD = 0
    _request(rep, campaign, 6, django_capture_on_commit_callbacks)
    assert not DraftBatch.objects.exists()


def test_errored_and_expired_requests_fall_back_to_single_calls(
    rep, campaign, batching, django_capture_on_commit_callbacks
):
    ids = _request(rep, campaign, 5, django_capture_on_commit_callbacks)
    errored, expired = f"-{ids[0]}-", f"-{ids[1]}-"
    batching.batch_outcome = lambda cid, params: (
        "errored" if errored in cid else "expired" if expired in cid else "succeeded"
    )
    _submit()
    broker_purge()
    with django_capture_on_commit_callbacks(execute=True):
        services.draft_batches_poll()
    batch = DraftBatch.objects.get()
    assert (batch.succeeded_count, batch.errored_count, batch.expired_count) == (3, 1, 1)
    assert (batch.stored_count, batch.fallback_count) == (3, 2)
    fallen = Draft.objects.filter(pk__in=ids[:2])
    assert {d.state for d in fallen} == {"queued"} and {d.batch_id for d in fallen} == {None}
    assert "batch request errored" in Draft.objects.get(pk=ids[0]).failure_reason
    assert "batch request expired" in Draft.objects.get(pk=ids[1]).failure_reason
    assert sorted(_task_names()) == sorted(f"draft-{pk}" for pk in ids[:2])
    # The single calls write them.
    for pk in ids[:2]:
        services.draft_generate(draft_id=pk)
    assert _states(ids) == {"ready": 5}
    assert len(batching.message_requests) == 2
    assert Draft.objects.get(pk=ids[0]).cost_usd == 2 * Draft.objects.get(pk=ids[4]).cost_usd


def test_an_expired_batch_hands_every_draft_to_single_calls(
    rep, campaign, batching, django_capture_on_commit_callbacks
):
    ids = _request(rep, campaign, 4, django_capture_on_commit_callbacks)
    batching.hold_batches = True
    _submit()
    services.draft_batches_poll()
    assert _states(ids) == {"drafting": 4}, "in progress: nothing to store yet"
    assert DraftBatch.objects.get().processing_count == 4
    batching.expire_batch()
    services.draft_batches_poll()
    batch = DraftBatch.objects.get()
    assert (batch.state, batch.expired_count, batch.fallback_count) == ("ended", 4, 4)
    assert _states(ids) == {"queued": 4}


def test_a_canceled_batch_hands_its_drafts_to_single_calls(rep, campaign, batching, django_capture_on_commit_callbacks):
    ids = _request(rep, campaign, 4, django_capture_on_commit_callbacks)
    batching.hold_batches = True
    batch = _submit()
    services.draft_batch_cancel(batch=batch)
    assert any(r.path.endswith("/cancel") for r in batching.requests)
    services.draft_batches_poll()
    batch.refresh_from_db()
    assert (batch.state, batch.canceled_count, batch.fallback_count) == ("ended", 4, 4)
    assert _states(ids) == {"queued": 4}


def test_a_result_is_stored_once_when_the_poller_runs_again_after_a_killed_worker(
    rep, campaign, batching, django_capture_on_commit_callbacks
):
    ids = _request(rep, campaign, 4, django_capture_on_commit_callbacks)
    _submit()
    services.draft_batches_poll()
    # A worker killed after storing left the batch leased and not ended: the lease runs out and
    # the next poll reads every result again.
    DraftBatch.objects.update(state=DraftBatch.State.SUBMITTED, busy_until=timezone.now() - timedelta(minutes=1))
    versions = {d.pk: d.version for d in Draft.objects.filter(pk__in=ids)}
    services.draft_batches_poll()
    batch = DraftBatch.objects.get()
    assert batch.state == DraftBatch.State.ENDED and batch.stored_count == 4
    for draft in Draft.objects.filter(pk__in=ids):
        assert draft.versions.count() == 1
        assert draft.version == versions[draft.pk]


def test_a_batch_leased_by_a_live_worker_is_left_to_it(rep, campaign, batching, django_capture_on_commit_callbacks):
    ids = _request(rep, campaign, 4, django_capture_on_commit_callbacks)
    _submit()
    DraftBatch.objects.update(busy_until=timezone.now() + timedelta(minutes=5))
    assert services.draft_batches_poll() == {"submitted": 0, "checked": 0, "ended": 0}
    assert _states(ids) == {"drafting": 4}


def test_a_draft_superseded_while_in_the_batch_ignores_its_result(
    rep, campaign, batching, django_capture_on_commit_callbacks
):
    ids = _request(rep, campaign, 4, django_capture_on_commit_callbacks)
    _submit()
    Draft.objects.filter(pk=ids[0]).update(enrollment_ref=99)
    services.drafts_supersede(enrollment_ref=99, reason="sequence ended")
    services.draft_batches_poll()
    superseded = Draft.objects.get(pk=ids[0])
    assert superseded.state == Draft.State.SUPERSEDED and superseded.versions.count() == 0
    assert _states(ids[1:]) == {"ready": 3}


def test_a_lost_submit_task_is_submitted_by_the_poller(rep, campaign, batching, django_capture_on_commit_callbacks):
    ids = _request(rep, campaign, 4, django_capture_on_commit_callbacks)
    broker_purge()
    assert services.draft_batches_poll() == {"submitted": 0, "checked": 0, "ended": 0}, "not lost yet"
    later = timezone.now() + timedelta(minutes=2)
    result = services.draft_batches_poll(now=later)
    assert result["submitted"] == 1
    services.draft_batches_poll(now=later + timedelta(minutes=1))
    assert _states(ids) == {"ready": 4}


def test_a_submission_the_api_refuses_hands_the_drafts_to_single_calls(
    rep, campaign, batching, django_capture_on_commit_callbacks
):
    ids = _request(rep, campaign, 4, django_capture_on_commit_callbacks)
    batching.queue(batching.error(400, "invalid_request_error", "too large"))
    broker_purge()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.draft_batch_submit(batch_id=DraftBatch.objects.get().pk) is None
    batch = DraftBatch.objects.get()
    assert batch.state == DraftBatch.State.FAILED and "400" in batch.failure_reason
    assert _states(ids) == {"queued": 4}
    assert sorted(_task_names()) == sorted(f"draft-{pk}" for pk in ids)


def test_the_stale_sweep_leaves_drafts_in_a_batch_to_the_poller(
    rep, campaign, batching, django_capture_on_commit_callbacks
):
    ids = _request(rep, campaign, 4, django_capture_on_commit_callbacks)
    _submit()
    result = services.draft_sweep_stale(now=timezone.now() + timedelta(hours=3))
    assert result["requeued"] == 0 and result["failed"] == 0
    assert _states(ids) == {"drafting": 4}


def _prompt_campaign(n: int, rep):
    """A draft campaign whose one step the drafting engine writes, targeting n of rep's people."""
    from campaigns.models import Campaign
    from tests.campaigns.factories import SequenceStepFactory
    from tests.factories import AccountFactory

    campaign = CampaignFactory(status=Campaign.Status.DRAFT, target_filter={"plan": "Growth"})
    SequenceStepFactory(campaign=campaign, position=1, subject="", body="", prompt="Say hello")
    for i in range(n):
        recipient = RecipientFactory(first_name=f"Liu{i}", owner=rep, account=AccountFactory(plan="Growth"))
        FactFactory(recipient=recipient, text="Logged in 14 times in October")
    return campaign


def test_a_campaign_launch_above_the_threshold_drafts_in_a_batch(
    rep, csm, batching, django_capture_on_commit_callbacks
):
    from campaigns.services import campaign_launch

    campaign = _prompt_campaign(5, rep)
    with django_capture_on_commit_callbacks(execute=True):
        result = campaign_launch(campaign=campaign, user=csm)
    assert result.drafted == 5
    batch = DraftBatch.objects.get()
    assert batch.request_count == 5
    assert Draft.objects.filter(batch=batch, state=Draft.State.DRAFTING).count() == 5


def test_the_scan_of_due_steps_drafts_many_in_a_batch(rep, csm, batching, django_capture_on_commit_callbacks):
    from campaigns.models import Enrollment
    from campaigns.services import campaign_launch, enrollment_advance_due

    campaign = _prompt_campaign(5, rep)
    with django_capture_on_commit_callbacks(execute=False):
        campaign_launch(campaign=campaign, user=csm)
    # The launch's commit hooks never ran; its drafts are gone and the steps are due again.
    Draft.objects.all().delete()
    Enrollment.objects.update(state=Enrollment.State.ACTIVE, next_due_at=timezone.now() - timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        result = enrollment_advance_due()
    assert result.drafted == 5
    assert DraftBatch.objects.get().request_count == 5


def test_the_review_progress_says_drafting_in_a_batch_and_about_when_it_is_ready(
    rep, rep_client, campaign, batching, django_capture_on_commit_callbacks
):
    _request(rep, campaign, 4, django_capture_on_commit_callbacks)
    batching.hold_batches = True
    _submit()
    html = rep_client.get(reverse("review_progress"), {"campaign": campaign.pk}).content.decode()
    # No batch has ended yet: about an hour, plus the minute until the next poll.
    assert "4 drafting in a batch, ready in about 61 min" in html


def test_the_estimate_follows_how_long_recent_batches_took(rep, campaign, batching):
    now = timezone.now()
    for minutes in (8, 10, 12):
        DraftBatch.objects.create(
            state=DraftBatch.State.ENDED,
            submitted_at=now - timedelta(hours=2),
            ended_at=now - timedelta(hours=2, minutes=-minutes),
        )
    from review.selectors import batch_ready_minutes

    assert batch_ready_minutes(submitted_at=now - timedelta(minutes=4), now=now) == 7
    assert batch_ready_minutes(submitted_at=now - timedelta(minutes=40), now=now) == 1


def test_the_batch_poller_is_scheduled_every_minute_after_migrate():
    schedule = Schedule.objects.get(func="review.tasks.draft_batches_poll")
    assert (schedule.schedule_type, schedule.minutes) == (Schedule.MINUTES, 1)


def test_the_batch_discount_halves_every_part_of_the_price():
    full = cost_usd(
        "claude-sonnet-4-6", input_tokens=1000, output_tokens=200, cache_read_tokens=3000, cache_write_tokens=500
    )
    half = cost_usd(
        "claude-sonnet-4-6",
        input_tokens=1000,
        output_tokens=200,
        cache_read_tokens=3000,
        cache_write_tokens=500,
        batch=True,
    )
    assert half == (full / 2).quantize(Decimal("0.000001")) and half > Decimal("0")
