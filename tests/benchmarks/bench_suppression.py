"""Bulk suppression check: 10,000 recipients against 100,000 suppression entries (addresses,
domains, recipient ids), as a campaign launch or a bulk draft request does it."""

from __future__ import annotations

import statistics
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from outreach.people.models import Account, Recipient
from outreach.suppression.models import Suppression, SuppressionList
from outreach.suppression.selectors import suppression_check_bulk

pytestmark = [pytest.mark.benchmark, pytest.mark.django_db]

RECIPIENTS, ENTRIES, RUNS = 10_000, 100_000, 5
TARGET_MS = 1000.0


def _seed() -> tuple[list[Recipient], list[int]]:
    lists = SuppressionList.objects.bulk_create(
        [SuppressionList(name=f"Bench list {i}", is_global=i == 0) for i in range(3)]
    )
    accounts = Account.objects.bulk_create(
        [Account(name=f"Bench account {i}", domain=f"acct{i}.example") for i in range(500)]
    )
    recipients = Recipient.objects.bulk_create(
        [
            Recipient(email=f"p{i}@acct{i % 500}.example", first_name=f"P{i}", account=accounts[i % 500])
            for i in range(RECIPIENTS)
        ],
        batch_size=5000,
    )
    kinds = Suppression.Kind
    entries = []
    for i in range(ENTRIES):
        # Mostly addresses of people not in this batch; every 50th hits one of the recipients.
        if i % 50 == 0:
            entries.append((kinds.ADDRESS, f"p{i // 10}@acct{(i // 10) % 500}.example"))
        elif i % 1000 == 1:
            entries.append((kinds.DOMAIN, f"acct{(i // 1000) * 5}.example"))
        elif i % 100 == 2:
            entries.append((kinds.RECIPIENT, str(recipients[i % RECIPIENTS].pk)))
        else:
            entries.append((kinds.ADDRESS, f"someone{i}@elsewhere{i % 3000}.example"))
    Suppression.objects.bulk_create(
        [
            Suppression(suppression_list=lists[n % 3], kind=kind, value=value, reason=Suppression.Reason.MANUAL)
            for n, (kind, value) in enumerate(entries)
        ],
        batch_size=5000,
        ignore_conflicts=True,
    )
    return recipients, [lists[1].pk, lists[2].pk]


def test_bulk_suppression_check_of_10k_recipients_against_100k_entries(bench_report):
    started = time.perf_counter()
    recipients, campaign_lists = _seed()
    seeded = time.perf_counter() - started
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    entries = Suppression.objects.count()
    recipients = list(Recipient.objects.select_related("account").filter(pk__in=[r.pk for r in recipients]))
    times, queries, hits = [], 0, {}
    for _ in range(RUNS):
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            # A campaign's check: the global list plus the campaign's own two lists.
            hits = suppression_check_bulk(recipients=recipients, list_ids=campaign_lists)
            times.append((time.perf_counter() - start) * 1000)
        queries = max(queries, len(ctx))
    median = statistics.median(times)
    print(f"\nSuppression benchmark: {len(recipients):,} recipients, {entries:,} entries (seeded in {seeded:.0f} s)")
    bench_report.add(
        f"bulk suppression check, {len(recipients) // 1000}k vs {entries // 1000}k entries",
        f"{median:.0f} ms median, {len(hits):,} hits",
        f"<= {TARGET_MS:.0f} ms",
        median <= TARGET_MS,
    )
    bench_report.add("bulk suppression check: queries", str(queries), "<= 4", queries <= 4)
    assert hits, "the seed suppresses some recipients"
