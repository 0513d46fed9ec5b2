"""Import recipients, accounts and facts from a CSV file, as the browser import does."""

from __future__ import annotations

import json

from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from outreach.core.errors import ApplicationError
from outreach.people.services import imports


class Command(BaseCommand):
    help = (
        "Import recipients, accounts and facts from a CSV file. Columns are recognized from their headers "
        "(or the mapping remembered for these headers); --mapping overrides some or all of them."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the CSV file")
        parser.add_argument(
            "--mapping",
            help='column → field overrides: a JSON object (\'{"E-mail": "email"}\'), a path to a JSON file, '
            f"or Header=field,Header=field. Fields: {', '.join(imports.ImportField.values)}",
        )
        parser.add_argument("--user", help="username recorded as who ran the import")
        parser.add_argument(
            "--preview", action="store_true", help="show the mapping and the first rows; import nothing"
        )
        parser.add_argument("--batch-size", type=int, default=imports.BATCH_SIZE)

    def handle(self, *args, **options):
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user {options['user']!r}.")
        try:
            with open(options["path"], "rb") as fh:
                job = imports.import_job_create(file=File(fh), user=user, name=options["path"])
        except OSError as exc:
            raise CommandError(f"Cannot read {options['path']}: {exc.strerror}") from None
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        mapping = dict(job.mapping)
        try:
            if options["mapping"]:
                mapping.update(imports.mapping_parse_option(options["mapping"]))
            preview = imports.import_preview(job=job, mapping=mapping)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        for note in preview.notes:
            self.stdout.write(f"Note: {note}")
        self.stdout.write("Mapping: " + json.dumps(preview.mapping, ensure_ascii=False))
        if options["preview"]:
            for row in preview.rows:
                status = f"error: {row.error}" if row.error else row.action
                self.stdout.write(f"  line {row.line}: {status}")
            job.file.delete(save=False)
            job.delete()
            return
        try:
            imports.import_job_confirm(job=job, mapping=mapping, enqueue=False)
        except ApplicationError as exc:
            job.file.delete(save=False)
            job.delete()
            raise CommandError(exc.message) from None

        def progress(job):
            self.stdout.write(f"  {job.processed_rows}/{job.total_rows} rows", ending="\r")
            self.stdout.flush()

        imports.import_job_run(job_id=job.pk, batch_size=options["batch_size"], on_progress=progress)
        job.refresh_from_db()
        self.stdout.write("")
        if job.status != job.Status.DONE:
            raise CommandError(f"Import {job.pk} {job.get_status_display().lower()}: {job.failure_reason}")
        for error in job.errors:
            self.stdout.write(f"line {error['line']}: {error['reason']}")
        if job.error_count > len(job.errors):
            self.stdout.write(f"… and {job.error_count - len(job.errors)} more rows with errors")
        self.stdout.write(
            self.style.SUCCESS(
                f"Import {job.pk}: {job.processed_rows} rows, {job.created_count} created, "
                f"{job.updated_count} updated, {job.error_count} not imported."
            )
        )
