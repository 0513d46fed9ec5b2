"""CSV import fuzzing: any bytes, and CSVs that look right but are wrong, end as rows imported or
per-line errors (or one clean refusal of the file), never an exception or a 500."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from outreach.core.errors import ApplicationError
from outreach.people.models import ImportJob, Recipient
from outreach.people.services import imports

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

HEADERS = ["Email", "First Name", "Last Name", "Company", "Website", "Title", "Country", "Time zone", "Owner",
           "Fact", "Labels", "Last contacted"]  # fmt: skip

# Cells that are structurally fine but wrong in content: bad addresses, dates, countries, owners,
# hostile text, huge and odd characters.
nasty_cell = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "not-an-email",
            "a@b",
            "@x.example",
            "ann@acme.example",
            "ANN@ACME.EXAMPLE",
            "x" * 5000,
            "2024-13-45",
            "31/02/2024",
            "yesterday",
            "ZZ",
            "Narnia",
            "Mars/Olympus",
            "nobody",
            "=cmd|' /C calc'!A0",
            "<script>alert(1)</script>",
            "Ann\r\nBcc: evil@x.com",
            "\x00\x01\x02",
            "\ufeff",
            "李小龙",
            "🙂" * 50,
            '"',
            '""',
            "a,b",
            "\n",
            "\r",
        ]
    ),
    st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.example", fullmatch=True),
)


@st.composite
def structured_csv(draw) -> bytes:
    """A CSV with a recognizable header row (in any order, some missing or repeated) and rows of
    any width, written by the csv module and then encoded in one of several encodings."""
    headers = draw(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=14))
    rows = draw(st.lists(st.lists(nasty_cell, max_size=len(headers) + 3), max_size=12))
    if draw(st.booleans()):
        # Mostly good rows: a valid address first, so some rows import beside the broken ones.
        headers = ["Email", *headers]
        addresses = st.one_of(st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.example", fullmatch=True), nasty_cell)
        rows = [[draw(addresses), *(draw(st.sampled_from(["", "", c])) for c in row)] for row in rows]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=draw(st.sampled_from([",", ";", "\t", "|"])))
    writer.writerow(headers)
    writer.writerows(rows)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]))
    return out.getvalue().encode(encoding, errors="replace")


any_csv = st.one_of(st.binary(max_size=2000), structured_csv())


def _import_as_the_task_does(content: bytes, user) -> ImportJob | None:
    """Upload, preview, confirm with the proposed mapping and run. None when the file itself is
    refused with a message (an ApplicationError is the clean "this is not a CSV we can read")."""
    try:
        job = imports.import_job_create(file=ContentFile(content, name="fuzz.csv"), user=user)
        imports.import_preview(job=job)
        imports.import_job_confirm(job=job, mapping=job.mapping, enqueue=False)
    except ApplicationError as exc:
        assert exc.message
        event("file refused")
        return None
    imports.import_job_run(job_id=job.pk, batch_size=5)
    job.refresh_from_db()
    return job


@FUZZ
@given(content=any_csv)
def test_any_bytes_import_as_rows_or_per_line_errors_through_the_services(media_root, csm, content):
    job = _import_as_the_task_does(content, csm)
    if job is None:
        return
    assert job.status == ImportJob.Status.DONE, job.failure_reason
    event("imported" if job.created_count else "only per-line errors" if job.error_count else "empty")
    assert job.processed_rows == job.total_rows
    assert job.error_count <= job.processed_rows
    assert job.created_count + job.updated_count <= job.processed_rows
    for error in job.errors:
        assert isinstance(error["line"], int) and error["reason"]
    assert Recipient.objects.count() >= job.created_count


@FUZZ
@given(content=any_csv, name=st.sampled_from(["contacts.csv", "../../etc/passwd", "a\r\nb.csv", "李.csv", "x.exe"]))
def test_any_bytes_uploaded_through_the_pages_never_give_a_server_error(media_root, csm_client, content, name):
    upload = SimpleUploadedFile(name, content, "text/csv")
    response = csm_client.post(reverse("import_index"), {"csv_file": upload})
    assert response.status_code in (302, 400), response.status_code
    if response.status_code == 400:
        return
    detail = csm_client.get(response.url)
    assert detail.status_code in (200, 302)
    job = ImportJob.objects.order_by("-pk").first()
    assert job is not None
    with imports.open_job_file(job) as opened:
        headers = opened.headers
    confirm = csm_client.post(
        reverse("import_confirm", args=[job.pk]), {f"col-{i}": job.mapping[h] for i, h in enumerate(headers)}
    )
    assert confirm.status_code == 302
    job.refresh_from_db()
    if job.status == ImportJob.Status.QUEUED:
        imports.import_job_run(job_id=job.pk)
        job.refresh_from_db()
        assert job.status == ImportJob.Status.DONE, job.failure_reason
        assert csm_client.get(reverse("import_detail", args=[job.pk])).status_code == 200
