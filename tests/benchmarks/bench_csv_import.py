"""Benchmark: import 100,000 CSV rows (a CRM export with accounts, owners, labels and a fact per row).

Prints rows per second and peak memory for a fresh import and a re-import of the same file.

    python -m pytest tests/benchmarks/bench_csv_import.py -s        (or `make bench`)
    python tests/benchmarks/bench_csv_import.py                       (the same, as a plain script)

It uses the test database (SQLite by default; set DATABASE_URL=postgres://... for PostgreSQL).
BENCH_ROWS changes the size; BENCH_TRACEMALLOC=0 skips the (slow) traced run.
"""

from __future__ import annotations

import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
TRACE = os.environ.get("BENCH_TRACEMALLOC", "1") != "0"

pytestmark = [pytest.mark.benchmark, pytest.mark.django_db(transaction=True)]

HEADER = (
    "First Name,Last Name,Email,Company,Job Title,Country,Contact Owner,Tags,Plan,Renewal Date,"
    "Account State,Website,Fact,Fact Kind,Fact Date,Lead Source\n"
)
STATES = ["Active", "At risk", "Onboarding", "Trial"]


def write_csv(path: Path, rows: int, *, prefix: str) -> int:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(HEADER)
        for i in range(rows):
            company = i // 20  # 20 people per account
            fh.write(
                f"First{i},Last{i},{prefix}{i}@customer{company}.example,Customer {company} GmbH,Head of Ops,DE,"
                f'bench_csm,"{"vip; " if i % 7 == 0 else ""}q{i % 4 + 1}",Growth,2026-0{i % 9 + 1}-15,'
                f"{STATES[company % 4]},https://www.customer{company}.example,Logged in {i % 50} times last month,"
                f"usage,2025-10-{i % 28 + 1:02d},Webinar {i % 12}\n"
            )
    return path.stat().st_size


def import_file(path: Path, *, traced: bool):
    from django.core.files import File

    from outreach.people.models import ImportJob
    from outreach.people.services import imports

    with open(path, "rb") as fh:
        job = imports.import_job_create(file=File(fh, name=path.name))
    imports.import_job_confirm(job=job, mapping=job.mapping, enqueue=False)
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    imports.import_job_run(job_id=job.pk)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if traced else 0
    if traced:
        tracemalloc.stop()
    job = ImportJob.objects.get(pk=job.pk)
    assert job.status == ImportJob.Status.DONE, job.failure_reason
    assert job.error_count == 0, job.errors[:3]
    return job, seconds, peak


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kilobytes


def test_import_100k_rows(tmp_path, settings, bench_report):
    from django.db import connection

    from outreach.people.models import Account, Fact, Recipient
    from tests.factories import UserFactory

    settings.MEDIA_ROOT = tmp_path / "media"
    UserFactory(username="bench_csm", role="csm")
    results = []

    if TRACE:
        traced_file = tmp_path / "traced.csv"
        write_csv(traced_file, ROWS, prefix="traced")
        job, seconds, peak = import_file(traced_file, traced=True)
        results.append(("fresh import, under tracemalloc", job, seconds, f"peak traced {peak / 1e6:.1f} MB"))

    path = tmp_path / "contacts.csv"
    size = write_csv(path, ROWS, prefix="person")
    rss_before = _maxrss_mb()
    job, seconds, _ = import_file(path, traced=False)
    results.append(("fresh import", job, seconds, f"max RSS {_maxrss_mb():.0f} MB (was {rss_before:.0f})"))
    assert job.created_count == ROWS
    job, seconds, _ = import_file(path, traced=False)
    results.append(("re-import (same file)", job, seconds, f"max RSS {_maxrss_mb():.0f} MB"))
    assert job.updated_count == ROWS and job.created_count == 0

    expected = ROWS * (2 if TRACE else 1)
    assert Recipient.objects.count() == expected
    assert Fact.objects.count() == expected
    assert Account.objects.count() == ROWS // 20  # both files name the same accounts

    print(f"\nCSV import benchmark on {connection.vendor}: {ROWS:,} rows, {size / 1e6:.1f} MB file")
    for label, job, seconds, memory in results:
        print(
            f"  {label:34s} {seconds:7.1f} s  {ROWS / seconds:8.0f} rows/s  "
            f"created {job.created_count:,} updated {job.updated_count:,}  {memory}"
        )
        bench_report.add(f"CSV import {ROWS // 1000}k rows: {label}", f"{seconds:.0f} s, {ROWS / seconds:,.0f} rows/s")
        bench_report.add(f"CSV import {ROWS // 1000}k rows: {label}, memory", memory)


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[2]
    os.chdir(root)
    sys.path.insert(0, str(root))
    sys.exit(pytest.main([str(Path(__file__).relative_to(root)), "-s", "-q", "-p", "no:cacheprovider"]))
