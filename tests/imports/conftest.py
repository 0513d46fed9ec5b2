from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from outreach.people.models import ImportJob
from outreach.people.services import imports


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Uploaded CSV files go to a temporary folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def csv_upload(content: str | bytes, name: str = "contacts.csv") -> ContentFile:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return ContentFile(data, name=name)


def run_import(content: str | bytes, *, mapping: dict | None = None, user=None, batch_size: int = 1000) -> ImportJob:
    """Upload, confirm with the proposed mapping (plus overrides) and run the import as the task would."""
    job = imports.import_job_create(file=csv_upload(content), user=user)
    imports.import_job_confirm(job=job, mapping={**job.mapping, **(mapping or {})}, enqueue=False)
    imports.import_job_run(job_id=job.pk, batch_size=batch_size)
    job.refresh_from_db()
    return job


@pytest.fixture
def team(db):
    """Team members an Owner column can name."""
    from tests.factories import UserFactory

    return {"carl": UserFactory(username="carl", email="carl@team.example", role="csm")}
