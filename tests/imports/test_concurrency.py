"""Two workers running the same import at once write each batch once."""

import threading

import pytest
from django.db import connection

from outreach.people.models import ImportJob, Recipient
from outreach.people.services import imports

from .conftest import csv_upload


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_runs_of_one_import_count_every_row_once():
    rows = "".join(f"p{i}@a.example,Fact {i}\n" for i in range(600))
    job = imports.import_job_create(file=csv_upload("Email,Fact\n" + rows))
    imports.import_job_confirm(job=job, mapping=job.mapping, enqueue=False)
    start = threading.Barrier(2)
    failures = []

    def run():
        try:
            start.wait()
            imports.import_job_run(job_id=job.pk, batch_size=50)
        except Exception as exc:  # surfaced below: an exception in a thread would pass silently
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert failures == []
    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.created_count, job.updated_count) == (
        ImportJob.Status.DONE,
        600,
        600,
        0,
    )
    assert Recipient.objects.count() == 600
