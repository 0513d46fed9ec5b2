"""The test database of each pytest-xdist worker, copied from one migrated template.

Migrating an empty database takes ~13 s of CPU; under `make test` every worker needs its own
(`test_<name>_gw0`, `_gw1`, ...). On PostgreSQL the first worker of a run migrates
`test_<name>_template` once, and every worker copies it with `CREATE DATABASE ... TEMPLATE`
(well under a second). A file lock keyed by the template's name orders the workers; the run's id
(shared by its workers) says whether the template is this run's or a stale one from an earlier run,
whose migrations may differ. Without xdist, or on SQLite, the database is created as pytest-django
does it.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker, django_db_modify_db_settings):
    from django.conf import settings
    from django.db import connections
    from django.test.utils import setup_databases, teardown_databases

    connection = connections["default"]
    run_id = getattr(request.config, "workerinput", {}).get("testrunuid")
    if run_id is None or connection.vendor != "postgresql":
        with django_db_blocker.unblock():
            created = setup_databases(verbosity=0, interactive=False, aliases={"default"})
        yield
        with django_db_blocker.unblock():
            teardown_databases(created, verbosity=0)
        return

    original_name = connection.settings_dict["NAME"]
    worker_db = connection.settings_dict["TEST"]["NAME"]  # test_<name>_gw0, set by pytest-django
    template_db = worker_db.rsplit("_", 1)[0] + "_template"
    quote = connection.ops.quote_name
    with django_db_blocker.unblock():
        with _locked(Path(tempfile.gettempdir()) / f"outreach-{template_db}.lock") as stamp:
            if stamp.read_text() != run_id:
                connection.settings_dict["TEST"]["NAME"] = template_db
                connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
                connection.settings_dict["TEST"]["NAME"] = worker_db
                stamp.write_text(run_id)
            connection.close()  # CREATE DATABASE ... TEMPLATE needs nobody connected to the template
            with connection.creation._nodb_cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {quote(worker_db)} WITH (FORCE)")
                cursor.execute(f"CREATE DATABASE {quote(worker_db)} TEMPLATE {quote(template_db)}")
        settings.DATABASES["default"]["NAME"] = connection.settings_dict["NAME"] = worker_db
    yield
    with django_db_blocker.unblock():
        connection.close()
        # FORCE: a process a test started (a server thread, a killed worker's session) may still
        # hold a connection for a moment.
        with connection.creation._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quote(worker_db)} WITH (FORCE)")
        settings.DATABASES["default"]["NAME"] = connection.settings_dict["NAME"] = original_name


class _locked:
    """An exclusive lock on `path` (created if missing), yielding the path to read and write."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> Path:
        self.handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self.path

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        os.close(self.handle)
