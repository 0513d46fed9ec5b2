"""Which column means what: recognition of CRM headers, checks of a mapping, and remembering it."""

import pytest

from outreach.core.errors import ApplicationError
from outreach.people.models import ImportMapping
from outreach.people.services import imports
from outreach.people.services.imports import ImportField as F

from .conftest import csv_upload, run_import

pytestmark = pytest.mark.django_db


def test_it_recognizes_the_headers_of_common_crm_exports():
    headers = [
        "First Name",
        "Last Name",
        "Email Address",
        "Company Name",
        "Job Title",
        "Country/Region",
        "Time Zone",
        "Contact Owner",
        "Tags",
        "Plan",
        "Renewal Date",
        "Account State",
        "Website",
        "Fact",
        "Fact Kind",
        "Fact Date",
        "Fact Source",
    ]
    assert imports.recognize_headers(headers) == {
        "First Name": F.FIRST_NAME,
        "Last Name": F.LAST_NAME,
        "Email Address": F.EMAIL,
        "Company Name": F.ACCOUNT_NAME,
        "Job Title": F.TITLE,
        "Country/Region": F.COUNTRY,
        "Time Zone": F.TIME_ZONE,
        "Contact Owner": F.OWNER,
        "Tags": F.LABELS,
        "Plan": F.ACCOUNT_PLAN,
        "Renewal Date": F.ACCOUNT_RENEWAL_DATE,
        "Account State": F.ACCOUNT_STATE,
        "Website": F.ACCOUNT_DOMAIN,
        "Fact": F.FACT_TEXT,
        "Fact Kind": F.FACT_KIND,
        "Fact Date": F.FACT_DATE,
        "Fact Source": F.FACT_SOURCE,
    }


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ("Email", F.EMAIL),
        ("E-mail", F.EMAIL),
        ("EMAIL", F.EMAIL),
        ("first_name", F.FIRST_NAME),
        ("Company", F.ACCOUNT_NAME),
        ("Account Name", F.ACCOUNT_NAME),
        ("Title", F.TITLE),
        ("Owner", F.OWNER),
        ("Labels", F.LABELS),
        ("Domain", F.ACCOUNT_DOMAIN),
    ],
)
def test_it_recognizes_a_header_whatever_its_case_and_punctuation(header, target):
    assert imports.recognize_headers([header]) == {header: target}


def test_unknown_columns_become_custom_properties():
    assert imports.recognize_headers(["Email", "Favourite Colour"])["Favourite Colour"] == F.PROPERTY


def test_a_second_column_with_the_same_meaning_becomes_a_property():
    mapping = imports.recognize_headers(["Email", "E-mail Address"])
    assert mapping == {"Email": F.EMAIL, "E-mail Address": F.PROPERTY}


def test_duplicate_and_blank_headers_get_distinct_names():
    assert imports.unique_headers(["Email", "", "Email", " Note "]) == ["Email", "Column 2", "Email (2)", "Note"]


def test_a_mapping_without_an_email_column_cannot_import():
    with pytest.raises(ApplicationError, match="Map one column to Email"):
        imports.mapping_clean(headers=["Name"], mapping={"Name": F.FULL_NAME})


def test_a_field_may_be_mapped_from_only_one_column():
    problems = imports.mapping_problems(
        headers=["Email", "Work Email"], mapping={"Email": F.EMAIL, "Work Email": F.EMAIL}
    )
    assert problems == ["Email is mapped from more than one column: 'Email' and 'Work Email'."]


def test_fact_details_need_a_fact_column():
    problems = imports.mapping_problems(headers=["Email", "When"], mapping={"Email": F.EMAIL, "When": F.FACT_DATE})
    assert problems == ["Fact kind, date, source and value need a column mapped to Fact."]


def test_a_confirmed_mapping_is_remembered_for_the_next_file_with_the_same_headers():
    first = "Email,Employer,Nickname\nann@a.example,Acme,Annie\n"
    run_import(first, mapping={"Employer": F.ACCOUNT_NAME, "Nickname": F.IGNORE})
    assert ImportMapping.objects.count() == 1

    # Same headers (in another case), other rows: the adjusted mapping comes back.
    second = imports.import_job_create(file=csv_upload("EMAIL,employer,NICKNAME\nbob@b.example,Birch,Bobby\n"))
    assert second.mapping == {"EMAIL": F.EMAIL, "employer": F.ACCOUNT_NAME, "NICKNAME": F.IGNORE}
    assert imports.import_preview(job=second).remembered_at is not None


def test_a_file_with_other_headers_gets_a_fresh_guess():
    run_import("Email,Employer\nann@a.example,Acme\n", mapping={"Employer": F.ACCOUNT_NAME})
    job = imports.import_job_create(file=csv_upload("Email,Employer,Extra\nbob@b.example,Birch,x\n"))
    assert job.mapping["Employer"] == F.PROPERTY
    assert imports.import_preview(job=job).remembered_at is None


def test_the_command_option_accepts_json_or_pairs(tmp_path):
    assert imports.mapping_parse_option('{"E-mail": "email"}') == {"E-mail": "email"}
    assert imports.mapping_parse_option("Mail=email, Org=account_name") == {"Mail": "email", "Org": "account_name"}
    path = tmp_path / "mapping.json"
    path.write_text('{"Org": "account_name"}')
    assert imports.mapping_parse_option(str(path)) == {"Org": "account_name"}
