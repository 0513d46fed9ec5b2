"""An import streams its file: memory stays bounded by the batch, not by the file."""

import os
import tracemalloc

import pytest
from django.core.files import File

from outreach.people.models import ImportJob, Recipient
from outreach.people.services import imports
from outreach.people.services.imports import ImportField as F

pytestmark = pytest.mark.django_db

ROWS = 5_000
PADDING = 8_000  # characters per row in an ignored column: makes the file ~40 MB
BOUND = 4_000_000  # bytes, a tenth of the file: reading it whole (bytes, let alone text) breaks this


@pytest.mark.slow
def test_a_large_file_imports_in_bounded_memory(tmp_path):
    path = tmp_path / "large.csv"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("Email,First Name,Notes\n")
        for i in range(ROWS):
            fh.write(f"person{i}@customer{i % 97}.example,Person {i},{'x' * PADDING}\n")
    assert os.path.getsize(path) > 10 * BOUND

    with open(path, "rb") as fh:
        job = imports.import_job_create(file=File(fh, name="large.csv"))
    imports.import_job_confirm(job=job, mapping={**job.mapping, "Notes": F.IGNORE}, enqueue=False)

    tracemalloc.start()
    try:
        imports.import_job_run(job_id=job.pk)  # batches of 1,000 rows
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    job.refresh_from_db()
    assert (job.status, job.created_count, job.error_count) == (ImportJob.Status.DONE, ROWS, 0)
    assert Recipient.objects.count() == ROWS
    assert peak < BOUND, f"peak traced memory {peak / 1e6:.1f} MB"
