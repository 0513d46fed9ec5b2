"""Drafting throughput: a real django-q2 cluster (`manage.py qcluster`, N workers) drafting 100
drafts through the Anthropic provider, with the API stubbed at 1 s latency per call.

Drafting is I/O bound (the worker waits on the API), so throughput grows with Q_WORKERS until the
database or the CPU is the limit. Drafts per minute are measured from the first draft that became
ready to the last (cluster start-up excluded). BENCH_DRAFT_WORKERS="2,4" sets the worker counts (default 2).
"""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from django.db.models import Max, Min

from review import services
from review.models import Draft
from tests.anthropic_stub import AnthropicStub
from tests.factories import CampaignFactory, FactFactory, RecipientFactory, UserFactory, from_campaign
from tests.qcluster import Cluster, cluster_base_env, wait_until

pytestmark = [pytest.mark.benchmark, pytest.mark.django_db(transaction=True)]

DRAFTS = int(os.environ.get("BENCH_DRAFTS", "100"))
WORKERS = [int(n) for n in os.environ.get("BENCH_DRAFT_WORKERS", "2").split(",")]
LATENCY = 1.0
TARGET_PER_MINUTE = 100


@pytest.mark.parametrize("workers", WORKERS)
def test_drafting_throughput_with_the_api_at_1s_latency(bench_report, workers):
    rep = UserFactory(role="rep", password=None)
    campaign = CampaignFactory()
    recipients = [RecipientFactory(first_name=f"Liu{i}", owner=rep) for i in range(DRAFTS)]
    for r in recipients:
        FactFactory(recipient=r, text="Logged in 14 times in October")
    result = services.draft_request_bulk(recipients=recipients, sender_for=lambda r: rep, **from_campaign(campaign))
    ids = [d.pk for d in result.created]
    with AnthropicStub(latency=LATENCY) as stub:
        env = {
            **cluster_base_env(workers=workers),
            "DRAFTING_PROVIDER": "anthropic",
            "ANTHROPIC_API_KEY": "x",
            "ANTHROPIC_BASE_URL": stub.url,
        }
        cluster = Cluster(env=env).start()
        try:
            wait_until(
                lambda: Draft.objects.filter(pk__in=ids, state=Draft.State.READY).count() == DRAFTS,
                timeout=DRAFTS * LATENCY * 1.5 + 30,
                what=f"{DRAFTS} ready drafts",
            )
        except AssertionError:
            print(cluster.output())
            raise
        finally:
            cluster.kill()
            cluster.log.unlink(missing_ok=True)
    span = Draft.objects.filter(pk__in=ids).aggregate(first=Min("ready_at"), last=Max("ready_at"))
    seconds = (span["last"] - span["first"]).total_seconds()
    per_minute = (DRAFTS - 1) / seconds * 60
    bench_report.add(
        f"drafting throughput, Q_WORKERS={workers}, API at {LATENCY:.0f} s",
        f"{per_minute:.0f} drafts/min ({DRAFTS} in {seconds:.0f} s)",
        f">= {TARGET_PER_MINUTE}/min",
        per_minute >= TARGET_PER_MINUTE,
    )
    assert len(stub.message_requests) == DRAFTS


BATCH_DRAFTS = int(os.environ.get("BENCH_BATCH_DRAFTS", "1000"))


def test_drafting_1000_drafts_through_a_message_batch(bench_report, settings):
    """A 1,000-draft request goes through one Message Batch against the stub: a real cluster
    submits it, the poller (the schedule's service, run here at once rather than on the next
    minute) stores every result. Submit -> all ready, and the cost against single calls."""
    import time

    from outreach.drafting.pricing import cost_usd
    from review.models import DraftBatch

    rep = UserFactory(role="rep", password=None)
    campaign = CampaignFactory()
    recipients = [RecipientFactory(first_name=f"Liu{i}", owner=rep) for i in range(BATCH_DRAFTS)]
    for r in recipients:
        FactFactory(recipient=r, text="Logged in 14 times in October")
    with AnthropicStub() as stub:
        settings.DRAFTING_PROVIDER, settings.ANTHROPIC_API_KEY = "anthropic", "x"
        settings.ANTHROPIC_BASE_URL, settings.DRAFT_BATCH_THRESHOLD = stub.url, 20
        env = {
            **cluster_base_env(workers=2),
            "DRAFTING_PROVIDER": "anthropic",
            "ANTHROPIC_API_KEY": "x",
            "ANTHROPIC_BASE_URL": stub.url,
        }
        cluster = Cluster(env=env).start()
        try:
            started = time.monotonic()
            result = services.draft_request_bulk(
                recipients=recipients, sender_for=lambda r: rep, **from_campaign(campaign)
            )
            requested = time.monotonic() - started
            ids = [d.pk for d in result.created]
            wait_until(
                lambda: DraftBatch.objects.filter(state=DraftBatch.State.SUBMITTED).exists(),
                timeout=180,
                what="the batch submitted by the cluster",
            )
            submitted = time.monotonic() - started
            services.draft_batches_poll()
            ready = time.monotonic() - started
        except AssertionError:
            print(cluster.output())
            raise
        finally:
            cluster.kill()
            cluster.log.unlink(missing_ok=True)
    drafts = Draft.objects.filter(pk__in=ids)
    assert drafts.filter(state=Draft.State.READY).count() == BATCH_DRAFTS
    assert len(stub.message_requests) == 0
    batch = DraftBatch.objects.get()
    paid = sum(d.cost_usd for d in drafts)
    single = sum(
        cost_usd(
            d.model_name,
            input_tokens=d.input_tokens - d.cache_read_tokens - d.cache_write_tokens,
            output_tokens=d.output_tokens,
            cache_read_tokens=d.cache_read_tokens,
            cache_write_tokens=d.cache_write_tokens,
        )
        for d in drafts
    )
    bench_report.add(
        f"{BATCH_DRAFTS} drafts through one Message Batch (stub): request -> submitted",
        f"{submitted:.1f} s (request {requested:.1f} s)",
    )
    bench_report.add(
        f"{BATCH_DRAFTS} drafts: batch ended -> all stored ready",
        f"{ready - submitted:.1f} s ({BATCH_DRAFTS / (ready - submitted):.0f} drafts/s)",
    )
    bench_report.add(
        f"{BATCH_DRAFTS} drafts: cost through the batch vs single calls",
        f"${paid:.2f} vs ${single:.2f} ({paid / single:.0%})",
        "50 %",
        paid * 2 == single or abs(paid / single - Decimal("0.5")) < Decimal("0.001"),
    )
    assert batch.stored_count == BATCH_DRAFTS


CACHE_DRAFTS = int(os.environ.get("BENCH_CACHE_DRAFTS", "20"))


@pytest.mark.parametrize(
    "model, approved",
    [("claude-sonnet-4-6", 5), ("claude-sonnet-4-6", 0), ("claude-haiku-4-5", 5)],
    ids=["sonnet-4-6-with-approved-emails", "sonnet-4-6-new-sender", "haiku-4-5-with-approved-emails"],
)
def test_prompt_cache_reads_per_draft_across_one_campaign(bench_report, settings, model, approved):
    """N drafts of one campaign written one after another against the stub, which counts tokens
    and caches as the API does: the prefix's size and whether it is marked, then each draft's cache
    write and read, and the input cost against the same drafts without any cache."""
    from datetime import timedelta

    from django.utils import timezone

    from outreach.drafting.pricing import cost_usd
    from review.providers import configured_provider
    from tests.factories import DraftFactory

    rep = UserFactory(role="rep", password=None)
    campaign = CampaignFactory(target_description="Finance leads at accounts renewing this quarter")
    for i in range(approved):
        DraftFactory(
            sender=rep,
            state=Draft.State.APPROVED,
            subject=f"The reports you asked about ({i})",
            body_text=(
                "Hi Ana,\n\nThanks for the time on Tuesday. I put together the two reports your team asked "
                "about, with the numbers from the last quarter, so you can compare them side by side before "
                "the planning meeting. Nothing needs an answer today; when it suits you, tell me which one "
                "your finance lead prefers and I will set it up for everyone.\n\nBest,"
            ),
            decided_at=timezone.now() - timedelta(days=1, minutes=i),
        )
    recipients = [RecipientFactory(first_name=f"Liu{i}", owner=rep) for i in range(CACHE_DRAFTS)]
    for r in recipients:
        FactFactory(recipient=r, text="Logged in 14 times in October")
    with AnthropicStub() as stub:
        stub.emulate_caching = True
        settings.DRAFTING_PROVIDER, settings.ANTHROPIC_API_KEY, settings.ANTHROPIC_MODEL = "anthropic", "x", model
        settings.ANTHROPIC_BASE_URL, settings.DRAFT_BATCH_THRESHOLD = stub.url, 0
        result = services.draft_request_bulk(recipients=recipients, sender_for=lambda r: rep, **from_campaign(campaign))
        ids = [d.pk for d in result.created]
        for pk in ids:
            assert services.draft_generate(draft_id=pk) is not None
        first = services.draft_compose_request(draft=Draft.objects.get(pk=ids[0]))
        size = configured_provider().prefix_size(first)  # type: ignore[attr-defined]
    drafts = list(Draft.objects.filter(pk__in=ids).order_by("ready_at", "id"))
    marked = ["cache_control" in r.json["system"][-1] for r in stub.message_requests]
    print(
        f"\n  {model}, {approved} approved emails: prefix {size.tokens} tokens (minimum {size.minimum}), "
        f"{'marked' if size.marked else 'not marked'}; counted {len(stub.count_requests)} times for {len(drafts)} drafts"
    )
    for n, (d, m) in enumerate(zip(drafts, marked, strict=True), start=1):
        print(
            f"    draft {n:2}: marked={m!s:5} cache write {d.cache_write_tokens:5}  read {d.cache_read_tokens:5}  "
            f"input {d.input_tokens:5}  ${d.cost_usd}"
        )
    reads = sum(1 for d in drafts if d.cache_read_tokens)
    paid = sum(d.cost_usd for d in drafts)
    uncached = sum(cost_usd(d.model_name, input_tokens=d.input_tokens, output_tokens=d.output_tokens) for d in drafts)
    label = f"prompt cache, {len(drafts)} drafts of one campaign, {model}, {approved} approved emails"
    bench_report.add(
        label,
        f"prefix {size.tokens} tok {'marked' if size.marked else 'unmarked'}; {reads}/{len(drafts)} read",
        f"{len(drafts) - 1} reads" if size.marked else "0 reads",
        reads == (len(drafts) - 1 if size.marked else 0),
    )
    bench_report.add(f"{label}: cost vs no cache", f"${paid:.4f} vs ${uncached:.4f} ({paid / uncached:.0%})")
    assert all(m == size.marked for m in marked)
    assert len(stub.count_requests) == 2, "the prefix and the probe, counted once"
