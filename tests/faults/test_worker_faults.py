"""The worker killed mid-draft and mid-send, a failing provider, the database connection dropped
mid-task: after recovery no email goes out twice, no approved email is lost, no draft is stuck.

Each test prints its counts (visible with -s) and asserts them.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import transaction

from outreach.mail.models import OutboundMessage
from outreach.mail.services.sending import outbound_message_recover, outbound_message_sweep
from review import services
from review.models import Draft
from review.services import outbound_message_from_draft
from tests.anthropic_stub import AnthropicStub
from tests.factories import ApprovedDraftFactory, CampaignFactory, FactFactory, RecipientFactory, from_campaign
from tests.qcluster import wait_until

from .conftest import terminate_cluster_connections, time_passes

pytestmark = [pytest.mark.postgres, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

# Longer than every lease and grace period the recovery code uses (drafting 10 min, send lease
# 10 min, broker retry 6 min).
LATER = timedelta(minutes=15)
S = OutboundMessage.State


def _count(model, **filters) -> int:
    return model.objects.filter(**filters).count()


def _request_drafts(rep, n: int) -> list[int]:
    campaign = CampaignFactory()
    ids = []
    for i in range(n):
        recipient = RecipientFactory(first_name=f"Liu{i}", owner=rep)
        FactFactory(recipient=recipient, text="Logged in 14 times in October")
        ids.append(services.draft_request(recipient=recipient, sender=rep, **from_campaign(campaign)).pk)
    return ids


def _approve_messages(rep, n: int) -> list[int]:
    rep.sender.daily_send_limit = 1000
    rep.sender.save()
    ids = []
    for _ in range(n):
        with transaction.atomic():
            ids.append(outbound_message_from_draft(draft=ApprovedDraftFactory(sender=rep), approved_by=rep).pk)
    return ids


def _drafts_by_state(ids) -> dict[str, int]:
    out: dict[str, int] = {}
    for state in Draft.objects.filter(pk__in=ids).values_list("state", flat=True):
        out[state] = out.get(state, 0) + 1
    return out


def _finish_drafting(c, ids) -> None:
    """Recovery for drafting: time passes, the sweep runs, a new cluster drafts what is left."""
    time_passes(LATER)
    swept = services.draft_sweep_stale()
    print(f"  sweep after the fault: {swept}")
    c.start()
    wait_until(
        lambda: not Draft.objects.filter(pk__in=ids, state__in=[Draft.State.QUEUED, Draft.State.DRAFTING]).exists(),
        what="every draft to leave queued/drafting",
    )


def _assert_no_stuck_drafts(ids, label: str) -> None:
    states = _drafts_by_state(ids)
    stuck = states.get("drafting", 0) + states.get("queued", 0)
    print(f"\n[{label}] drafts: {len(ids)} requested, states {states}, stuck {stuck}")
    assert stuck == 0
    assert states.get("ready", 0) == len(ids), states


def _assert_sending_promises(ids, smtp, label: str) -> None:
    per_id = smtp.per_message_id()
    per_rcpt = smtp.per_recipient()
    double = sum(1 for n in per_id.values() if n > 1) + sum(1 for n in per_rcpt.values() if n > 1)
    states: dict[str, int] = {}
    for state in OutboundMessage.objects.filter(pk__in=ids).values_list("state", flat=True):
        states[state] = states.get(state, 0) + 1
    lost = OutboundMessage.objects.filter(pk__in=ids).exclude(state__in=[S.SENT, S.UNKNOWN]).count()
    sent_not_received = sum(
        1
        for mid in OutboundMessage.objects.filter(pk__in=ids, state=S.SENT).values_list("message_id", flat=True)
        if per_id[mid] != 1
    )
    print(
        f"\n[{label}] approved {len(ids)}, SMTP received {len(smtp.received)} "
        f"({len(per_id)} distinct Message-IDs), double sends {double}, lost {lost}, "
        f"sent-but-not-received {sent_not_received}, states {states}"
    )
    assert double == 0
    assert lost == 0
    assert sent_not_received == 0
    assert len(per_id) <= len(ids)


# --- (a) killed while drafting ------------------------------------------------------------------


def test_killing_the_worker_mid_draft_leaves_no_draft_stuck_and_drafts_each_once(rep, cluster):
    ids = _request_drafts(rep, 4)
    with AnthropicStub(latency=1.5) as stub:
        env = {"DRAFTING_PROVIDER": "anthropic", "ANTHROPIC_API_KEY": "x", "ANTHROPIC_BASE_URL": stub.url}
        c = cluster(**env).start()
        wait_until(lambda: _count(Draft, pk__in=ids, state=Draft.State.DRAFTING) >= 1, what="a draft in drafting")
        c.kill()
        killed_in_drafting = _count(Draft, pk__in=ids, state=Draft.State.DRAFTING)
        print(f"\n[kill mid-draft] killed with {killed_in_drafting} drafts in drafting, {_drafts_by_state(ids)}")
        assert killed_in_drafting >= 1
        c2 = cluster(**env)
        _finish_drafting(c2, ids)
        c2.kill()
    _assert_no_stuck_drafts(ids, "kill mid-draft")
    # Each draft got exactly one version: a killed attempt left nothing half-written.
    assert all(d.versions.count() == 1 for d in Draft.objects.filter(pk__in=ids))


# --- (b) killed while sending -------------------------------------------------------------------


def test_killing_the_worker_mid_send_sends_nothing_twice_and_loses_nothing(rep, cluster, slow_smtp):
    ids = _approve_messages(rep, 8)
    # The kill must land while a send is in flight; on a busy machine the send seen in flight can
    # finish before the kill arrives, so the kill is retried on the messages still queued.
    for _attempt in range(3):
        c = cluster().start()
        wait_until(
            lambda: _count(OutboundMessage, pk__in=ids, state=S.SENDING) >= 1 and len(slow_smtp.received) >= 1,
            what="a message in sending after a first delivery",
        )
        c.kill()
        in_flight = _count(OutboundMessage, pk__in=ids, state=S.SENDING)
        if in_flight:
            break
    print(f"\n[kill mid-send] killed with {in_flight} rows in sending, {len(slow_smtp.received)} received")
    assert in_flight >= 1
    time_passes(LATER)
    recovered = outbound_message_recover()
    swept = outbound_message_sweep()
    print(f"  recover {recovered}, sweep re-enqueued {swept}")
    assert recovered["unknown"] == in_flight  # SMTP cannot deduplicate: a person decides, never a blind resend
    c2 = cluster().start()
    wait_until(
        lambda: not OutboundMessage.objects.filter(pk__in=ids, state__in=[S.QUEUED, S.SENDING]).exists(),
        what="every message to leave queued/sending",
    )
    c2.kill()
    time.sleep(slow_smtp.delay + 0.5)  # let the server finish any DATA it was still waiting on
    _assert_sending_promises(ids, slow_smtp, "kill mid-send")
    assert _count(OutboundMessage, pk__in=ids, state=S.UNKNOWN) == in_flight


# --- (c) the provider answers 500 and times out, then succeeds -----------------------------------


def test_a_failing_then_recovering_provider_still_drafts_every_draft(rep, cluster):
    ids = _request_drafts(rep, 4)
    with AnthropicStub() as stub:
        # Three failures in a row at most: with 3 retries no draft can run out of attempts.
        stub.queue(stub.server_error(), stub.slow(3.0), stub.server_error())
        c = cluster(
            DRAFTING_PROVIDER="anthropic",
            ANTHROPIC_API_KEY="x",
            ANTHROPIC_BASE_URL=stub.url,
            ANTHROPIC_TIMEOUT_SECONDS="1",
            ANTHROPIC_MAX_RETRIES="3",
        ).start()
        wait_until(
            lambda: not Draft.objects.filter(pk__in=ids, state__in=[Draft.State.QUEUED, Draft.State.DRAFTING]).exists(),
            what="every draft to be drafted",
        )
        c.kill()
        requests = len(stub.requests)
    print(f"\n[provider 500/timeout] {requests} API requests for {len(ids)} drafts (3 failed)")
    assert requests == len(ids) + 3
    _assert_no_stuck_drafts(ids, "provider 500/timeout")


# --- (d) the database connection dropped mid-task --------------------------------------------------


def test_dropping_the_database_connection_mid_draft_leaves_no_draft_stuck(rep, cluster):
    ids = _request_drafts(rep, 4)
    with AnthropicStub(latency=1.5) as stub:
        env = {"DRAFTING_PROVIDER": "anthropic", "ANTHROPIC_API_KEY": "x", "ANTHROPIC_BASE_URL": stub.url}
        c = cluster(**env).start()
        wait_until(lambda: _count(Draft, pk__in=ids, state=Draft.State.DRAFTING) >= 1, what="a draft in drafting")
        dropped = terminate_cluster_connections()
        print(f"\n[db drop mid-draft] terminated {dropped} connections with {_drafts_by_state(ids)}")
        assert dropped >= 1
        # The same cluster goes on with new connections; what it could not finish, recovery does.
        time.sleep(3)
        c.kill()
        print(f"  after the drop: {_drafts_by_state(ids)}")
        _finish_drafting(cluster(**env), ids)
    _assert_no_stuck_drafts(ids, "db drop mid-draft")


def test_dropping_the_database_connection_mid_send_sends_nothing_twice_and_loses_nothing(rep, cluster, slow_smtp):
    ids = _approve_messages(rep, 6)
    c = cluster().start()
    wait_until(lambda: _count(OutboundMessage, pk__in=ids, state=S.SENDING) >= 1, what="a message in sending")
    dropped = terminate_cluster_connections()
    print(f"\n[db drop mid-send] terminated {dropped} connections")
    assert dropped >= 1
    time.sleep(3)
    c.kill()
    time.sleep(slow_smtp.delay + 0.5)
    print(f"  after the drop: {len(slow_smtp.received)} received")
    time_passes(LATER)
    print(f"  recover {outbound_message_recover()}, sweep {outbound_message_sweep()}")
    c2 = cluster().start()
    wait_until(
        lambda: not OutboundMessage.objects.filter(pk__in=ids, state__in=[S.QUEUED, S.SENDING]).exists(),
        what="every message to leave queued/sending",
    )
    c2.kill()
    time.sleep(slow_smtp.delay + 0.5)  # let the server finish any DATA it was still waiting on
    _assert_sending_promises(ids, slow_smtp, "db drop mid-send")


# --- (e) the Redis broker stopped for 30 s, then started again (empty) -----------------------------

OUTAGE_SECONDS = 30


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_redis_stopped_for_30_seconds_loses_no_approved_email_and_sends_none_twice(rep, cluster, slow_smtp, broker):
    before = _approve_messages(rep, 4)
    c = cluster().start()
    wait_until(lambda: len(slow_smtp.received) >= 1, what="a first delivery")
    broker.stop()
    outage_started = time.monotonic()
    # Approvals go on while the broker is away: the rows commit, the nudges are lost (and logged).
    during = _approve_messages(rep, 4)
    ids = before + during
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage_started)))
    print(
        f"\n[redis outage] {OUTAGE_SECONDS} s down; {len(slow_smtp.received)} received; cluster alive: {c.process.poll() is None}"
    )
    broker.start()  # empty: every task that was waiting in it is gone
    # Rows are the truth: once the sweepers' grace period has passed, they nudge every row again.
    time_passes(LATER)
    print(f"  recover {outbound_message_recover()}, sweep re-enqueued {outbound_message_sweep()}")
    if c.process.poll() is not None:  # a supervisor (honcho, systemd) would restart it
        print(f"  the cluster exited during the outage:\n{c.output()}")
        c.process = None
        c.start()
    wait_until(
        lambda: not OutboundMessage.objects.filter(pk__in=ids, state__in=[S.QUEUED, S.SENDING]).exists(),
        timeout=60,
        what="every message to leave queued/sending",
    )
    c.kill()
    time.sleep(slow_smtp.delay + 0.5)
    _assert_sending_promises(ids, slow_smtp, "redis outage")
    assert _count(OutboundMessage, pk__in=ids, state=S.SENT) == len(ids)
