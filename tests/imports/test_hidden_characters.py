"""Names, titles, accounts, labels and facts from a CSV are stored without bidi and zero-width
characters, and a hidden character cannot make a second account or label of the same name."""

from __future__ import annotations

import pytest

from outreach.people.models import Account, Label, Recipient
from tests.factories import AccountFactory

from .conftest import run_import

pytestmark = pytest.mark.django_db

HIDDEN = "\u202e\u200b"


def test_a_name_with_bidi_and_zero_width_characters_is_imported_clean():
    job = run_import(
        "Email,First name,Last name,Title,Company,Labels,Fact\n"
        f"ann@newco.example,An{HIDDEN}n,Ar{HIDDEN}cher,{HIDDEN}CTO,New{HIDDEN}Co,vi{HIDDEN}p,Renewed{HIDDEN} early\n"
    )
    assert job.error_count == 0, job.errors
    ann = Recipient.objects.get()
    assert (ann.first_name, ann.last_name, ann.title, ann.account.name) == ("Ann", "Archer", "CTO", "NewCo")
    assert list(ann.labels.values_list("name", flat=True)) == ["vip"]
    assert ann.facts.get().text == "Renewed early"


def test_a_full_name_with_hidden_characters_is_split_and_stored_clean():
    run_import(f"Email,Name\nann@newco.example,{HIDDEN}Ann{HIDDEN} Archer\u200b\n")
    ann = Recipient.objects.get()
    assert (ann.first_name, ann.last_name) == ("Ann", "Archer")


def test_an_invisible_twin_of_an_account_or_label_imports_into_the_existing_one():
    acme = AccountFactory(name="Acme")
    Label.objects.create(name="vip")
    job = run_import(f"Email,Company,Labels\nann@acme.example,Acme{HIDDEN},vip\u200b\n")
    assert job.error_count == 0 and job.status == "done", (job.errors, job.failure_reason)
    assert list(Account.objects.values_list("pk", flat=True)) == [acme.pk]
    assert list(Label.objects.values_list("name", flat=True)) == ["vip"]
    assert Recipient.objects.get().account == acme


@pytest.mark.parametrize("name", ["محمد", "李小龙", "محمد‌رضا", "श्याओ", "Zoë 👩🏽‍💻"])
def test_a_name_in_another_script_is_imported_unchanged(name):
    run_import(f"Email,First name\nann@newco.example,{name}\n")
    assert Recipient.objects.get().first_name == name
