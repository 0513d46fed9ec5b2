"""The browser flow: upload → mapping and preview → confirm → progress, for CSMs and admins only."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from outreach.people.models import ImportJob, ImportMapping, Recipient
from outreach.people.services import imports
from outreach.people.services.imports import ImportField as F
from outreach.people.tasks import import_job_run
from tests.broker import queued_tasks, run_queued_tasks

from .conftest import csv_upload

pytestmark = pytest.mark.django_db

CONTENT = b"Email,First Name,Employer,Owner\nann@a.example,Ann,Acme,csm1\nbroken,Bob,Acme,\ncy@a.example,Cy,Birch,\n"


def upload(client, content=CONTENT, name="contacts.csv"):
    return client.post(reverse("import_index"), {"csv_file": SimpleUploadedFile(name, content, "text/csv")})


def posted(mapping: dict[str, str], headers: list[str]) -> dict[str, str]:
    return {f"col-{i}": mapping[h] for i, h in enumerate(headers)}


HEADERS = ["Email", "First Name", "Employer", "Owner"]


def test_a_csm_imports_a_file_through_the_pages(csm, csm_client):
    response = upload(csm_client)
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("import_detail", args=[job.pk])
    assert (job.created_by, job.original_name, job.status) == (csm, "contacts.csv", ImportJob.Status.PREVIEW)

    page = csm_client.get(response.url).content.decode()
    assert 'name="col-2"' in page and "Start the import" in page
    assert "&#x27;broken&#x27; is not a valid email address" in page  # row 3, validated in the preview
    assert page.count(">new</span>") == 2

    # Adjust the mapping: the unrecognized "Employer" column is the account name.
    mapping = {**job.mapping, "Employer": F.ACCOUNT_NAME}
    fragment = csm_client.post(
        reverse("import_mapping", args=[job.pk]), posted(mapping, HEADERS), headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200 and "<html" not in fragment.content.decode()
    job.refresh_from_db()
    assert job.mapping["Employer"] == F.ACCOUNT_NAME

    with_commit = csm_client.post(reverse("import_confirm", args=[job.pk]), posted(mapping, HEADERS))
    assert with_commit.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.QUEUED
    assert ImportMapping.objects.get().mapping["Employer"] == F.ACCOUNT_NAME

    queued = csm_client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in queued

    import_job_run(job.pk)  # what the worker does

    progress = csm_client.get(reverse("import_detail", args=[job.pk]), headers={"HX-Request": "true"}).content.decode()
    assert 'id="progress"' in progress and "<html" not in progress
    assert "every 1s" not in progress  # done: polling stops
    assert "<strong>3</strong> of 3 rows processed" in progress
    assert "<strong>2</strong> created" in progress and "<strong>1</strong> not imported" in progress
    assert "<td>3</td><td>&#x27;broken&#x27; is not a valid email address</td>" in progress
    ann = Recipient.objects.get(email="ann@a.example")
    assert (ann.account.name, ann.owner) == ("Acme", csm)


def test_an_invalid_mapping_is_refused_and_kept_for_correction(csm_client):
    upload(csm_client)
    job = ImportJob.objects.get()
    mapping = {**job.mapping, "Email": F.IGNORE}
    response = csm_client.post(reverse("import_confirm", args=[job.pk]), posted(mapping, HEADERS), follow=True)
    assert "Map one column to Email" in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEW and job.mapping["Email"] == F.IGNORE


def test_an_unreadable_upload_is_explained_on_the_upload_page(csm_client):
    response = upload(csm_client, content="Email\n".encode("utf-16"))
    assert response.status_code == 400
    assert "Save it as CSV" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_an_admin_may_import(admin_client_):
    assert upload(admin_client_).status_code == 302


def test_a_rep_may_not_import(rep_client, csm):
    job = imports.import_job_create(file=csv_upload(CONTENT), user=csm)
    assert rep_client.get(reverse("import_index")).status_code == 403
    assert upload(rep_client).status_code == 403
    assert rep_client.get(reverse("import_detail", args=[job.pk])).status_code == 403
    assert rep_client.post(reverse("import_confirm", args=[job.pk]), {}).status_code == 403
    assert not ImportJob.objects.exclude(pk=job.pk).exists()


def test_the_import_link_shows_only_for_those_who_may_import(rep_client, csm_client):
    link = f'href="{reverse("import_index")}"'
    assert link not in rep_client.get(reverse("home")).content.decode()
    assert link in csm_client.get(reverse("home")).content.decode()


def test_a_csm_sees_only_their_own_imports_and_an_admin_sees_all(csm, csm_client, admin_user, admin_client_):
    theirs = imports.import_job_create(file=csv_upload(CONTENT), user=admin_user)
    mine = imports.import_job_create(file=csv_upload(CONTENT), user=csm)
    assert csm_client.get(reverse("import_detail", args=[theirs.pk])).status_code == 404
    assert csm_client.get(reverse("import_detail", args=[mine.pk])).status_code == 200
    assert admin_client_.get(reverse("import_detail", args=[mine.pk])).status_code == 200


def test_a_failed_import_can_be_resumed(csm, csm_client):
    job = imports.import_job_create(file=csv_upload(CONTENT), user=csm)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.FAILED, failure_reason="worker lost")
    page = csm_client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert "worker lost" in page and "Resume the import" in page
    csm_client.post(reverse("import_resume", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.QUEUED


def test_the_progress_poll_uses_a_constant_number_of_queries(csm, csm_client, django_assert_max_num_queries):
    job = imports.import_job_create(file=csv_upload("Email\n" + "bad\n" * 300), user=csm)
    imports.import_job_confirm(job=job, mapping=job.mapping, enqueue=False)
    imports.import_job_run(job_id=job.pk)
    with django_assert_max_num_queries(7):
        response = csm_client.get(reverse("import_detail", args=[job.pk]), headers={"HX-Request": "true"})
    assert response.content.decode().count("not a valid email address") == 300


def test_the_preview_and_the_import_list_use_a_constant_number_of_queries(
    csm, csm_client, django_assert_max_num_queries
):
    for _ in range(5):
        job = imports.import_job_create(file=csv_upload(CONTENT), user=csm)
    with django_assert_max_num_queries(8):
        assert csm_client.get(reverse("import_index")).status_code == 200
    with django_assert_max_num_queries(11):
        assert csm_client.get(reverse("import_detail", args=[job.pk])).status_code == 200


def test_the_import_pages_require_login(client):
    response = client.get(reverse("import_index"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


# --- The broker down: the job waits in its row, the sweep enqueues it once --------------------------


@pytest.mark.broker
def test_an_import_confirmed_while_the_broker_is_down_is_queued_and_runs_once_after_it_returns(
    csm_client, stoppable_redis, django_capture_on_commit_callbacks, caplog
):
    upload(csm_client)
    job = ImportJob.objects.get()
    stoppable_redis.stop()

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = csm_client.post(reverse("import_confirm", args=[job.pk]), posted(job.mapping, HEADERS))

    assert confirmed.status_code == 302
    page = csm_client.get(confirmed.url).content.decode()
    assert "Queued" in page and 'hx-trigger="every 1s"' in page
    assert "outreach.people.tasks.import_job_run not enqueued" in caplog.text

    stoppable_redis.start()  # back, and empty
    assert queued_tasks() == []
    assert imports.import_jobs_sweep() == 0  # its task may still be on the way
    later = timezone.now() + timedelta(minutes=3)
    assert imports.import_jobs_sweep(now=later) == 1
    assert imports.import_jobs_sweep(now=later) == 0  # nudged once per grace period

    ran = run_queued_tasks()

    assert [(t.func, t.args) for t in ran] == [("outreach.people.tasks.import_job_run", (job.pk,))]
    job.refresh_from_db()
    assert (job.status, job.created_count, job.error_count) == (ImportJob.Status.DONE, 2, 1)
    assert Recipient.objects.count() == 2
    assert "Done" in csm_client.get(confirmed.url).content.decode()
    assert imports.import_jobs_sweep(now=later + timedelta(minutes=30)) == 0


@pytest.mark.broker
def test_an_import_whose_chain_was_lost_mid_file_is_nudged_after_the_task_timeout(settings):
    job = imports.import_job_create(file=csv_upload("Email\na@a.example\nb@a.example\nc@a.example\n"))
    imports.import_job_confirm(job=job, mapping=job.mapping, enqueue=False)
    # The first task imported a batch, then its next link could not be enqueued (or its worker died).
    imports.import_job_run(job_id=job.pk, batch_size=1, time_budget=1e-9)
    job.refresh_from_db()
    assert (job.status, job.processed_rows) == (ImportJob.Status.RUNNING, 1)

    soon = timezone.now() + timedelta(seconds=settings.Q_TASK_TIMEOUT)
    assert imports.import_jobs_sweep(now=soon) == 0  # a running task may still be at it
    assert imports.import_jobs_sweep(now=soon + timedelta(seconds=61)) == 1

    import_job_run(job.pk)  # what the nudged worker does: it carries on after the saved batch
    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.created_count) == (ImportJob.Status.DONE, 3, 3)


def test_the_import_sweep_is_scheduled_every_two_minutes_after_migrate():
    from django_q.models import Schedule

    from outreach.people.tasks import import_jobs_sweep

    schedule = Schedule.objects.get(func="outreach.people.tasks.import_jobs_sweep")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 2, -1)
    assert import_jobs_sweep() == 0
