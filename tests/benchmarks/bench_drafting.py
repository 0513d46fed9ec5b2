"""Drafting throughput: a real django-q2 cluster (`manage.py qcluster`, N workers) drafting 100
drafts through the Anthropic provider, with the API stubbed at 1 s latency per call.

Drafting is I/O bound (the worker waits on the API), so throughput grows with Q_WORKERS until the
database or the CPU is the limit. Drafts per minute are measured from the first draft that became
ready to the last (cluster start-up excluded). BENCH_DRAFT_WORKERS="2,4" sets the worker counts (default 2).
"""

from __future__ import annotations

import os

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
    assert len(stub.requests) == DRAFTS
