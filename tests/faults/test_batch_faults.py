"""Bulk drafting through Message Batches with a real cluster: the worker killed between submitting
the batch and storing its results loses no draft and writes none twice."""

from __future__ import annotations

import pytest

from review import services
from review.models import Draft, DraftBatch
from tests.anthropic_stub import AnthropicStub
from tests.factories import CampaignFactory, FactFactory, RecipientFactory, from_campaign
from tests.qcluster import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

DRAFTS = 25  # above the default threshold of 20


def _states(ids) -> dict[str, int]:
    out: dict[str, int] = {}
    for state in Draft.objects.filter(pk__in=ids).values_list("state", flat=True):
        out[state] = out.get(state, 0) + 1
    return out


def test_killing_the_worker_between_submit_and_results_loses_no_draft_and_writes_none_twice(rep, cluster, settings):
    with AnthropicStub() as stub:
        stub.hold_batches = True
        env = {
            "DRAFTING_PROVIDER": "anthropic",
            "ANTHROPIC_API_KEY": "x",
            "ANTHROPIC_BASE_URL": stub.url,
            "DRAFT_BATCH_THRESHOLD": "20",
        }
        settings.DRAFTING_PROVIDER, settings.ANTHROPIC_API_KEY = "anthropic", "x"
        settings.ANTHROPIC_BASE_URL, settings.DRAFT_BATCH_THRESHOLD = stub.url, 20
        campaign = CampaignFactory()
        recipients = []
        for i in range(DRAFTS):
            recipient = RecipientFactory(first_name=f"Liu{i}", owner=rep)
            FactFactory(recipient=recipient, text="Logged in 14 times in October")
            recipients.append(recipient)
        # Commits: the drafts are claimed for a batch and its submit task is enqueued.
        result = services.draft_request_bulk(recipients=recipients, sender_for=lambda r: rep, **from_campaign(campaign))
        ids = [d.pk for d in result.created]
        assert _states(ids) == {"drafting": DRAFTS}

        c = cluster(**env).start()
        wait_until(
            lambda: DraftBatch.objects.filter(state=DraftBatch.State.SUBMITTED).exists(), what="the batch submitted"
        )
        c.kill()
        batch = DraftBatch.objects.get()
        print(f"\n[kill between submit and results] batch {batch}, drafts {_states(ids)}")
        assert _states(ids) == {"drafting": DRAFTS}, "nothing written, nothing lost: every draft waits in the batch"

        # The API finishes the batch while no worker runs; three requests errored.
        errored = {f"draft-{pk}-" for pk in ids[:3]}
        stub.batch_outcome = lambda cid, params: "errored" if any(cid.startswith(e) for e in errored) else "succeeded"
        stub.end_batch()
        # The poller (the schedule's service, run here) finds the batch row and stores the results;
        # run twice, as a restarted worker and the schedule may both do.
        first = services.draft_batches_poll()
        second = services.draft_batches_poll()
        print(f"  polls: {first}, {second}; drafts {_states(ids)}")
        assert _states(ids) == {"ready": DRAFTS - 3, "queued": 3}

        # A new cluster drafts the three errored requests by single calls.
        c2 = cluster(**env).start()
        wait_until(lambda: _states(ids) == {"ready": DRAFTS}, what="every draft ready")
        c2.kill()

    batch.refresh_from_db()
    print(
        f"  batch: stored {batch.stored_count}, single calls {batch.fallback_count}, "
        f"API: {len([r for r in stub.requests if r.path == '/v1/messages/batches'])} batch, "
        f"{len(stub.message_requests)} single calls"
    )
    assert (batch.state, batch.stored_count, batch.fallback_count) == ("ended", DRAFTS - 3, 3)
    assert len([r for r in stub.requests if r.path == "/v1/messages/batches"]) == 1
    assert len(stub.message_requests) == 3
    # Each draft written exactly once.
    assert all(d.versions.count() == 1 for d in Draft.objects.filter(pk__in=ids))
