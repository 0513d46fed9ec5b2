"""What an import writes: recipients, accounts, owners, labels, facts; errors by line; re-imports."""

from datetime import UTC, date, datetime

import pytest

from outreach.people.models import Account, Fact, ImportJob, Label, Recipient
from outreach.people.services import imports
from outreach.people.services.imports import ImportField as F
from tests.broker import queued_tasks
from tests.factories import AccountFactory, FactFactory, RecipientFactory

from .conftest import csv_upload, run_import

pytestmark = pytest.mark.django_db

CRM_EXPORT = (
    "First Name,Last Name,Email,Company,Job Title,Country,Time Zone,Contact Owner,Tags,Plan,Renewal Date,"
    "Account State,Website,Fact,Fact Kind,Fact Date,Fact Source,Lead Source\n"
    "Ann,Archer,Ann@NewCo.example,NewCo,CTO,de,Europe/Berlin,carl,vip; beta,Growth,2026-03-01,At risk,"
    "https://www.newco.example/about,Connected the CRM integration,milestone_reached,2025-11-02,product analytics,Webinar\n"
)


def test_it_imports_a_recipient_with_account_owner_labels_fact_and_properties(team):
    job = run_import(CRM_EXPORT)

    assert (job.status, job.created_count, job.updated_count, job.error_count) == (ImportJob.Status.DONE, 1, 0, 0)
    ann = Recipient.objects.get()
    assert (ann.email, ann.first_name, ann.last_name, ann.title) == ("ann@newco.example", "Ann", "Archer", "CTO")
    assert (ann.country, ann.time_zone, ann.owner) == ("DE", "Europe/Berlin", team["carl"])
    assert ann.properties == {"Lead Source": "Webinar"}
    assert sorted(ann.labels.values_list("name", flat=True)) == ["beta", "vip"]
    account = ann.account
    assert (account.name, account.domain, account.plan) == ("NewCo", "newco.example", "Growth")
    assert (account.renewal_date, account.state) == (date(2026, 3, 1), Account.State.AT_RISK)
    fact = ann.facts.get()
    assert (fact.kind, fact.text, fact.source) == (
        "milestone_reached",
        "Connected the CRM integration",
        "product analytics",
    )
    assert fact.observed_at == datetime(2025, 11, 2, tzinfo=UTC)


def test_malformed_rows_are_reported_by_line_and_the_valid_rows_still_import(team):
    content = (
        "Email,First Name,Renewal Date,Company,Owner\n"
        "ok1@a.example,Ok,2026-01-01,Acme,carl\n"
        "not-an-email,Bad,,,\n"
        ",Empty,,,\n"
        "ok2@a.example,Ok,31/02/2026,Acme,\n"
        "ok3@a.example,Ok,,Acme,nobody\n"
        "ok4@a.example,Too,many,columns,carl,extra\n"
        "ok5@a.example,Few\n"
        "ok6@a.example,Ok,,Acme,carl@team.example\n"
    )
    job = run_import(content)

    assert sorted(Recipient.objects.values_list("email", flat=True)) == ["ok1@a.example", "ok6@a.example"]
    assert (job.processed_rows, job.created_count, job.error_count) == (8, 2, 6)
    assert job.errors == [
        {"line": 3, "reason": "'not-an-email' is not a valid email address"},
        {"line": 4, "reason": "email is empty"},
        {
            "line": 5,
            "reason": "bad renewal date '31/02/2026': use YYYY-MM-DD (also accepted: MM/DD/YYYY, DD.MM.YYYY, 15 Jan 2025)",
        },
        {"line": 6, "reason": "unknown owner 'nobody' (use a team member's username or email)"},
        {"line": 7, "reason": "expected 5 columns, found 6"},
        {"line": 8, "reason": "expected 5 columns, found 2"},
    ]


def test_line_numbers_count_quoted_newlines_and_blank_lines():
    content = 'Email,Fact\nann@a.example,"Said:\n""call me in March""\nthen left"\n\nbroken,x\n'
    job = run_import(content)
    assert Fact.objects.get().text == 'Said:\n"call me in March"\nthen left'
    assert job.errors == [{"line": 6, "reason": "'broken' is not a valid email address"}]
    assert job.processed_rows == 2  # the blank line is not a row


def test_reimporting_the_same_file_updates_instead_of_duplicating(team):
    first = run_import(CRM_EXPORT)
    second = run_import(CRM_EXPORT)

    assert (first.created_count, second.created_count, second.updated_count) == (1, 0, 1)
    assert Recipient.objects.count() == 1
    assert Account.objects.count() == 1
    assert Fact.objects.count() == 1
    assert Label.objects.count() == 2
    assert Recipient.objects.get().labels.count() == 2


def test_a_reimport_changes_what_the_file_changed_and_keeps_what_it_leaves_empty():
    ann = RecipientFactory(email="ann@a.example", first_name="Ann", title="CTO", properties={"Size": "10"})
    run_import(
        "Email,First Name,Job Title,Team Size,Note\nANN@a.example,Annie,,50,new\n", mapping={"Team Size": F.PROPERTY}
    )
    ann.refresh_from_db()
    assert (ann.first_name, ann.title) == ("Annie", "CTO")
    assert ann.properties == {"Size": "10", "Team Size": "50", "Note": "new"}


def test_an_existing_account_is_matched_by_name_and_updated():
    account = AccountFactory(name="Acme", plan="Starter", domain="acme.example")
    run_import("Email,Company,Plan\nann@acme.example,Acme,Enterprise\n")
    account.refresh_from_db()
    assert Account.objects.count() == 1
    assert account.plan == "Enterprise"
    assert Recipient.objects.get().account == account


def test_an_account_given_only_by_domain_is_found_by_its_domain():
    account = AccountFactory(name="Acme Corp", domain="acme.example")
    run_import("Email,Domain\nann@acme.example,acme.example\n")
    assert Recipient.objects.get().account == account


def test_a_fact_is_updated_by_the_fact_unique_constraint_not_added_again():
    ann = RecipientFactory(email="ann@a.example")
    FactFactory(
        recipient=ann, kind="usage", text="42 active seats", value="40", observed_at=datetime(2025, 10, 1, tzinfo=UTC)
    )
    job = run_import(
        "Email,Fact,Fact Kind,Fact Date,Fact Value\nann@a.example,42 active seats,Usage figure,2025-10-01,42\n"
    )
    assert job.error_count == 0
    assert ann.facts.get().value == "42"


def test_facts_without_a_date_are_matched_by_kind_and_text_on_reimport():
    content = "Email,Fact,Fact Kind\nann@a.example,Opened a support ticket about SSO,support ticket\n"
    run_import(content)
    run_import(content)
    fact = Fact.objects.get()
    assert fact.kind == Fact.Kind.SUPPORT_TICKET


def test_several_facts_for_one_recipient_in_one_file():
    content = (
        "Email,Fact,Fact Date\n"
        "ann@a.example,Logged in 14 times,2025-10-01\n"
        "ann@a.example,Logged in 20 times,2025-11-01\n"
    )
    job = run_import(content)
    assert (job.created_count, job.updated_count) == (1, 1)
    assert Recipient.objects.get().facts.count() == 2


def test_the_same_email_across_batches_is_one_recipient():
    rows = "".join(f"ann@a.example,Fact {i}\n" for i in range(5))
    job = run_import("Email,Fact\n" + rows, batch_size=2)
    assert (job.created_count, job.updated_count, job.processed_rows) == (1, 4, 5)
    assert Recipient.objects.count() == 1 and Fact.objects.count() == 5


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("Atlantis", "unknown country 'Atlantis'"),
        ("", None),
    ],
)
def test_countries_are_codes_or_known_names(cell, reason):
    job = run_import(f"Email,Country\nann@a.example,{cell}\n")
    if reason:
        assert job.errors[0]["reason"].startswith(reason)
    else:
        assert job.error_count == 0


def test_unknown_kinds_states_and_time_zones_are_row_errors():
    content = (
        "Email,Fact,Fact Kind,Account State,Company,Time Zone\n"
        "a@a.example,x,gossip,Active,Acme,UTC\n"
        "b@a.example,,,Zombie,Acme,UTC\n"
        "c@a.example,,,,,Mars/Olympus\n"
    )
    job = run_import(content)
    reasons = [e["reason"] for e in job.errors]
    assert reasons[0].startswith("unknown fact kind 'gossip'")
    assert reasons[1].startswith("unknown account state 'Zombie'")
    assert reasons[2].startswith("unknown time zone 'Mars/Olympus'")


def test_a_full_name_column_is_split_into_first_and_last_name():
    run_import('Name,Email\nMary Ann Smith,mary@a.example\n"Archer, Ann",ann@a.example\n')
    mary, ann = Recipient.objects.get(email="mary@a.example"), Recipient.objects.get(email="ann@a.example")
    assert (mary.first_name, mary.last_name) == ("Mary", "Ann Smith")
    assert (ann.first_name, ann.last_name) == ("Ann", "Archer")


def test_quoted_windows_newlines_become_plain_newlines():
    run_import('Email,Fact\r\nann@a.example,"two\r\nlines"\r\n')
    assert Fact.objects.get().text == "two\nlines"


# --- Encodings and delimiters ---------------------------------------------------------------


def test_utf8_with_a_byte_order_mark_is_read_without_it():
    job = run_import("\ufeffEmail,First Name\nzoe@a.example,Zoë\n".encode())
    assert job.error_count == 0
    assert Recipient.objects.get().first_name == "Zoë"


def test_a_latin1_file_is_read_as_such_with_a_note():
    content = "Email;First Name;Company\nrene@a.example;René;Café Müller\n".encode("latin-1")
    job = imports.import_job_create(file=csv_upload(content))
    preview = imports.import_preview(job=job)
    assert any("not UTF-8" in note for note in preview.notes)
    assert preview.rows[0].values == ["rene@a.example", "René", "Café Müller"]
    run_import(content)
    assert Recipient.objects.get().account.name == "Café Müller"


def test_undecodable_bytes_in_a_utf8_file_are_a_row_error():
    content = "Email,First Name\nzoe@a.example,Zoë\n".encode() + b"bad@a.example,Ren\xe9\nok@a.example,Ok\n"
    job = run_import(content)
    assert job.errors == [{"line": 3, "reason": imports.UNDECODABLE}]
    assert sorted(Recipient.objects.values_list("email", flat=True)) == ["ok@a.example", "zoe@a.example"]


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_other_delimiters_are_detected(delimiter):
    content = f"Email{delimiter}Company{delimiter}Note\nann@a.example{delimiter}Acme, Inc.{delimiter}hi\n"
    job = run_import(content)
    assert job.error_count == 0
    assert Recipient.objects.get().account.name == "Acme, Inc."


def test_windows_line_endings_are_read():
    run_import("Email,First Name\r\nann@a.example,Ann\r\n")
    assert Recipient.objects.get().first_name == "Ann"


def test_a_spreadsheet_saved_as_utf16_is_refused_with_advice():
    with pytest.raises(imports.ApplicationError, match="Save it as CSV"):
        imports.import_job_create(file=csv_upload("Email\nann@a.example\n".encode("utf-16")))


def test_an_empty_file_is_refused():
    with pytest.raises(imports.ApplicationError, match="empty"):
        imports.import_job_create(file=csv_upload(b""))


# --- Running twice, resuming, progress ------------------------------------------------------


def test_running_the_task_twice_counts_nothing_twice():
    job = imports.import_job_create(file=csv_upload("Email\na@a.example\nb@a.example\n"))
    imports.import_job_confirm(job=job, mapping=job.mapping, enqueue=False)
    assert imports.import_job_run(job_id=job.pk) is True
    assert imports.import_job_run(job_id=job.pk) is True
    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.created_count) == (ImportJob.Status.DONE, 2, 2)


def test_an_interrupted_import_resumes_after_the_last_saved_batch():
    rows = "".join(f"p{i}@a.example\n" for i in range(10))
    job = imports.import_job_create(file=csv_upload("Email\n" + rows))
    imports.import_job_confirm(job=job, mapping=job.mapping, enqueue=False)
    # A tiny time budget stops after the first batch, as a task that ran out of time would.
    assert imports.import_job_run(job_id=job.pk, batch_size=4, time_budget=1e-9) is False
    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.total_rows) == (ImportJob.Status.RUNNING, 4, 10)

    assert imports.import_job_run(job_id=job.pk, batch_size=4) is True
    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.created_count) == (ImportJob.Status.DONE, 10, 10)
    assert Recipient.objects.count() == 10


def test_progress_is_saved_after_each_batch():
    seen = []
    job = imports.import_job_create(file=csv_upload("Email\n" + "".join(f"p{i}@a.example\n" for i in range(5))))
    imports.import_job_confirm(job=job, mapping=job.mapping, enqueue=False)
    imports.import_job_run(
        job_id=job.pk,
        batch_size=2,
        on_progress=lambda j: seen.append(ImportJob.objects.get(pk=j.pk).processed_rows),
    )
    assert seen == [2, 4, 5, 5]


def test_stored_errors_are_capped_but_counted(monkeypatch):
    monkeypatch.setattr(imports, "MAX_STORED_ERRORS", 3)
    job = run_import("Email\n" + "bad\n" * 10, batch_size=4)
    assert (job.error_count, len(job.errors)) == (10, 3)


def test_a_missing_file_fails_the_job_with_a_reason():
    job = imports.import_job_create(file=csv_upload("Email\na@a.example\n"))
    imports.import_job_confirm(job=job, mapping=job.mapping, enqueue=False)
    job.file.delete(save=False)
    imports.import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert "missing" in job.failure_reason


@pytest.mark.broker
def test_confirming_queues_the_task_on_commit(django_capture_on_commit_callbacks):
    job = imports.import_job_create(file=csv_upload("Email\na@a.example\n"))
    with django_capture_on_commit_callbacks(execute=True):
        imports.import_job_confirm(job=job, mapping=job.mapping)
    assert [(t.func, t.args) for t in queued_tasks()] == [("outreach.people.tasks.import_job_run", (job.pk,))]
    with pytest.raises(imports.ApplicationError, match="already confirmed"):
        imports.import_job_confirm(job=job, mapping=job.mapping)


def test_the_task_runs_the_import():
    from outreach.people.tasks import import_job_run

    job = imports.import_job_create(file=csv_upload("Email\na@a.example\n"))
    imports.import_job_confirm(job=job, mapping=job.mapping, enqueue=False)
    import_job_run(job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and Recipient.objects.filter(email="a@a.example").exists()


def test_a_batch_with_much_text_is_written_early(monkeypatch):
    monkeypatch.setattr(imports, "MAX_BATCH_CHARS", 250)
    seen = []
    notes = "".join(f"p{i}@a.example,{'n' * 100}\n" for i in range(6))
    job = imports.import_job_create(file=csv_upload("Email,Notes\n" + notes))
    imports.import_job_confirm(job=job, mapping=job.mapping, enqueue=False)
    imports.import_job_run(job_id=job.pk, on_progress=lambda j: seen.append(j.processed_rows))
    assert seen == [3, 6, 6]
