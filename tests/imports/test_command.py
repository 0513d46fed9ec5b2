"""`manage.py import_csv PATH [--mapping ...]`: the same import from the command line."""

import pytest
from django.core.management import CommandError, call_command

from outreach.people.models import ImportJob, ImportMapping, Recipient

pytestmark = pytest.mark.django_db


@pytest.fixture
def contacts(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("Mail,Name,Employer\nann@a.example,Ann Archer,Acme\nbroken,Bob,Acme\n", encoding="utf-8")
    return path


def test_it_imports_a_file_with_a_mapping_and_reports_errors_by_line(contacts, capsys):
    call_command("import_csv", str(contacts), "--mapping", '{"Mail": "email", "Employer": "account_name"}')
    out = capsys.readouterr().out
    assert "line 3: 'broken' is not a valid email address" in out
    assert "2 rows, 1 created, 0 updated, 1 not imported" in out
    ann = Recipient.objects.get()
    assert (ann.first_name, ann.last_name, ann.account.name) == ("Ann", "Archer", "Acme")
    assert ImportJob.objects.get().status == ImportJob.Status.DONE


def test_the_mapping_given_once_is_remembered_for_the_next_run(contacts, capsys):
    call_command("import_csv", str(contacts), "--mapping", "Mail=email,Employer=account_name")
    call_command("import_csv", str(contacts))
    assert "0 created, 1 updated" in capsys.readouterr().out
    assert ImportMapping.objects.count() == 1


def test_preview_imports_nothing(contacts, capsys):
    call_command("import_csv", str(contacts), "--mapping", "Mail=email", "--preview")
    out = capsys.readouterr().out
    assert "line 2: create" in out and "line 3: error: 'broken' is not a valid email address" in out
    assert not Recipient.objects.exists() and not ImportJob.objects.exists()


def test_a_mapping_without_email_is_refused(contacts):
    with pytest.raises(CommandError, match="Map one column to Email"):
        call_command("import_csv", str(contacts))
    assert not ImportJob.objects.exists()


def test_a_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_csv", str(tmp_path / "nope.csv"))
