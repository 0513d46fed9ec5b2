"""Review queue benchmark: 10,000 ready drafts, server time of the queue page and of approve.

Not collected by default (pyproject `norecursedirs`). Run against PostgreSQL:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/outreach \
        python -m pytest tests/benchmarks/bench_review.py -s -p no:cacheprovider

Targets on the development machine: p95 <= 50 ms for the page, <= 30 ms for an approve.
Time is measured around Django's test client (the whole request/response cycle in-process,
including middleware, sessions, template rendering and the database), without a network hop.
Each approve commits, so the commit and the work that waits for it are measured too.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from outreach.people.models import Account, Recipient
from review.models import Draft
from tests.factories import DEFAULT_PASSWORD, CampaignFactory, UserFactory

# Real transactions: an approve commits and runs what waits for the commit (the send task is
# enqueued, the draft_edit_signal event recorded), as it does in production.
pytestmark = [pytest.mark.benchmark, pytest.mark.django_db(transaction=True)]

# The scaling line: the same measures at each size (BENCH_DRAFT_SIZES="1000,10000,100000").
SIZES = [int(n) for n in os.environ.get("BENCH_DRAFT_SIZES", "1000,10000,100000").split(",")]
PAGE_RUNS = 300
APPROVE_RUNS = 300
WARMUP = 20
PAGE_TARGET_MS, APPROVE_TARGET_MS = 50.0, 30.0

BODY = (
    "Hi {name},\n\nFrom our records: you logged in 14 times in October and downloaded the Churn Playbook. "
    "Your contract renews on 2026-12-20.\n\nWe would like to hear what is working for your team before your "
    "renewal, and what is not.\n\nWould a 20-minute call next week suit you?\n\nBest,\nRita Ramos\nAccount Executive"
)


def _seed(rep, others, total: int) -> None:
    campaigns = [CampaignFactory(name=f"Bench campaign {i}") for i in range(5)]
    accounts = Account.objects.bulk_create(
        [Account(name=f"Bench account {i}", domain=f"b{i}.example") for i in range(50)]
    )
    recipients = Recipient.objects.bulk_create(
        [
            Recipient(
                email=f"p{i}@b{i % 50}.example", first_name=f"First{i}", last_name="Last", account=accounts[i % 50]
            )
            for i in range(total)
        ],
        batch_size=2000,
    )
    facts = [
        {"id": str(n), "kind": "usage", "text": f"Fact number {n} about usage", "observed_at": "2026-11-01"}
        for n in range(12)
    ]
    grounding = [
        {"text": "14", "start": 40, "end": 42, "supported": True, "fact_ids": ["1"], "field": "body_text"},
        {"text": "October", "start": 52, "end": 59, "supported": True, "fact_ids": ["1"], "field": "body_text"},
        {"text": "Churn Playbook", "start": 79, "end": 93, "supported": False, "fact_ids": [], "field": "body_text"},
    ]
    now = timezone.now()
    senders = [rep, *others]
    drafts = [
        Draft(
            recipient=recipients[i],
            sender=senders[i % len(senders)],
            campaign=campaigns[i % len(campaigns)],
            state=Draft.State.READY,
            subject=f"Before your renewal, First{i}",
            preview_text="A short note",
            body_text=BODY.format(name=f"First{i}"),
            body_html="<p>" + BODY.format(name=f"First{i}").replace("\n\n", "</p><p>") + "</p>",
            grounding=grounding,
            unsupported_claim_count=1,
            facts_snapshot=facts,
            cited_fact_ids=["1", "2"],
            provider="offline",
            model_name="offline-template-v1",
            ready_at=now - timedelta(seconds=total - i),
        )
        for i in range(total)
    ]
    Draft.objects.bulk_create(drafts, batch_size=2000)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _measure(call, runs: int) -> tuple[list[float], list[float], int]:
    """Wall-clock and CPU milliseconds per call (CPU time of this process: the Django side alone,
    which stays meaningful when other work competes for the machine), and the most queries."""
    times, cpu, queries = [], [], 0
    for i in range(runs + WARMUP):
        with CaptureQueriesContext(connection) as ctx:
            start, start_cpu = time.perf_counter(), time.process_time()
            call(i)
            elapsed, elapsed_cpu = (time.perf_counter() - start) * 1000, (time.process_time() - start_cpu) * 1000
        if i >= WARMUP:
            times.append(elapsed)
            cpu.append(elapsed_cpu)
            queries = max(queries, len(ctx))
    return times, cpu, queries


@pytest.fixture
def uninstrumented_templates(monkeypatch):
    """Render templates as production does: the test runner wraps rendering to record contexts
    for assertions, which would add its own cost to every page measured here."""
    from django.template import Template
    from django.test.utils import _TestState

    monkeypatch.setattr(Template, "_render", _TestState.saved_data.template_render)


@pytest.mark.parametrize("total", SIZES, ids=lambda n: f"{n // 1000}k")
def test_review_queue_benchmark(settings, uninstrumented_templates, bench_report, total):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.DEBUG = False
    rep = UserFactory(username="bench-rep", role="rep")
    others = [UserFactory(username=f"bench-other{i}", role="rep") for i in range(3)]
    seed_started = time.perf_counter()
    _seed(rep, others, total)
    seed_seconds = time.perf_counter() - seed_started
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")  # what autovacuum would have done by now
    client = Client()
    assert client.login(username="bench-rep", password=DEFAULT_PASSWORD)
    mine = Draft.objects.filter(sender=rep, state=Draft.State.READY).count()

    def page(_i):
        response = client.get(reverse("review_queue"))
        assert response.status_code == 200

    ids = list(Draft.objects.filter(sender=rep).order_by("ready_at", "id").values_list("pk", flat=True))

    def approve(i):
        response = client.post(reverse("draft_approve", args=[ids[i]]), {"version": 1}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200, response.content

    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        for name, call in (("page", page), ("approve", approve)):
            with CaptureQueriesContext(connection) as ctx:
                call(0 if name == "page" else len(ids) - 1)
            for q in ctx.captured_queries:
                print(q["time"], q["sql"][:300])
                if (
                    connection.vendor == "postgresql"
                    and q["sql"].lstrip("(").startswith("SELECT")
                    and "review_draft" in q["sql"]
                ):
                    with connection.cursor() as cursor:
                        cursor.execute("EXPLAIN ANALYZE " + q["sql"])
                        print("\n".join("    " + row[0] for row in cursor.fetchall()))
            if os.environ.get("BENCH_PROFILE") == "sql":
                continue
            profiler = cProfile.Profile()
            profiler.enable()
            for i in range(20):
                call(i if name == "page" else len(ids) - 2 - i)
            profiler.disable()
            pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "cumulative")).print_stats(45)
        return
    approve_runs = min(APPROVE_RUNS, len(ids) - WARMUP - 1)
    # As outreach/wsgi.py does after startup: what exists before the first request is not rescanned
    # by the garbage collector (here that is also pytest's and the seeding's objects).
    gc.collect()
    gc.freeze()
    try:
        page_times, page_cpu, page_queries = _measure(page, PAGE_RUNS)
        approve_times, approve_cpu, approve_queries = _measure(approve, approve_runs)
    finally:
        gc.unfreeze()

    rows = [
        ("queue page (GET /review/)", page_times, page_cpu, page_queries, PAGE_TARGET_MS),
        ("approve (POST, renders next)", approve_times, approve_cpu, approve_queries, APPROVE_TARGET_MS),
    ]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\n\nReview queue benchmark on {connection.vendor}: {total:,} ready drafts, {mine:,} for this rep"
        f" (seeded in {seed_seconds:.0f} s)"
    )
    print(f"(load average {load:.1f} on {os.cpu_count()} CPUs; wall time suffers when the machine is busy)")
    print(
        f"{'action':30} {'runs':>5} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'cpu p50':>8} {'cpu p95':>8}"
        f" {'queries':>8} {'target p95':>11}"
    )
    for name, times, cpu, queries, target in rows:
        p95 = _pct(times, 95)
        print(
            f"{name:30} {len(times):5d} {statistics.median(times):7.1f} {p95:7.1f} {max(times):7.1f}"
            f" {statistics.median(cpu):8.1f} {_pct(cpu, 95):8.1f} {queries:8d}"
            f" {f'<= {target:.0f} ms':>11} {'ok' if p95 <= target else 'MISSED'}"
        )
        bench_report.add(
            f"{name.split(' (')[0]} at {total // 1000}k drafts",
            f"p50 {statistics.median(times):.0f} / p95 {p95:.0f} ms (cpu p50 {statistics.median(cpu):.0f}), {queries} q",
            f"p95 <= {target:.0f} ms",
            p95 <= target,
        )
    assert Draft.objects.filter(state=Draft.State.APPROVED).count() == approve_runs + WARMUP
