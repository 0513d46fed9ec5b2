"""Person-facing text is stored without characters that hide or reorder it, and names in any
script (and emoji sequences) are stored exactly as given."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.forms import modelform_factory

from campaigns.models import Campaign
from outreach.core.text import clean_display_text
from outreach.people.models import Account, Fact, Label, Recipient, SenderProfile
from tests.factories import AccountFactory, CampaignFactory, FactFactory, RecipientFactory, UserFactory

HIDDEN = "\u202e\u200b"  # RIGHT-TO-LEFT OVERRIDE and ZERO WIDTH SPACE
NAMES_IN_OTHER_SCRIPTS = [
    "محمد عبد الله",  # Arabic
    "李小龙",  # Chinese
    "Сяолун",  # Cyrillic
    "श्याओ",  # Devanagari (virama, conjuncts)
    "र्‍य",  # Devanagari with a ZWJ that selects the eyelash form
    "محمد‌رضا",  # Persian with a ZWNJ, as the name is written
    "שלום",  # Hebrew
    "Zoë Åsa Ñúñez",
    "Ann 👩🏽‍💻🏳️‍🌈",  # emoji ZWJ sequences
]


def test_bidi_overrides_zero_width_and_tag_characters_are_removed():
    assert clean_display_text(f"Ann{HIDDEN}\u2066e\u2069\u00ad\ufeff\U000e0041") == "Anne"


@pytest.mark.parametrize("name", NAMES_IN_OTHER_SCRIPTS)
def test_a_name_in_another_script_or_with_emoji_is_unchanged(name):
    assert clean_display_text(name) == name


def test_a_joiner_between_latin_letters_is_removed():
    assert clean_display_text("Ac\u200dme A\u200cB") == "Acme AB"


def test_one_line_text_loses_line_breaks_and_multi_line_text_keeps_them():
    assert clean_display_text(" Ann\r\nBcc: x@y.example\t") == "Ann Bcc: x@y.example"
    assert clean_display_text("Best,\r\nRita\u2028Team Co\u200b", multiline=True) == "Best,\nRita\nTeam Co"


def test_the_drafting_engine_still_imports_without_django():
    code = "import sys, outreach.drafting; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# --- Stored through the models ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_recipient_saved_through_the_model_comes_back_clean():
    recipient = RecipientFactory(first_name=f"An{HIDDEN}n", last_name=f"{HIDDEN}Lee", title=f"CT{HIDDEN}O")
    recipient.refresh_from_db()
    assert (recipient.first_name, recipient.last_name, recipient.title) == ("Ann", "Lee", "CTO")


@pytest.mark.django_db
@pytest.mark.parametrize("name", NAMES_IN_OTHER_SCRIPTS)
def test_a_recipient_named_in_another_script_is_stored_as_given(name):
    recipient = RecipientFactory(first_name=name)
    recipient.refresh_from_db()
    assert recipient.first_name == name


@pytest.mark.django_db
def test_accounts_labels_facts_sender_profiles_and_campaigns_are_stored_clean():
    account = AccountFactory(name=f"Acme{HIDDEN}")
    label = Label.objects.create(name=f"v{HIDDEN}ip")
    fact = FactFactory(text=f"Renewed{HIDDEN}\nfor two years")
    user = UserFactory(sender=False)
    profile = SenderProfile.objects.create(
        user=user,
        email="rita@team.example",
        display_name=f"Rita{HIDDEN} Ramos",
        title=f"{HIDDEN}AE",
        company=f"Team{HIDDEN} Co",
        signature=f"Rita{HIDDEN}\nTeam Co",
    )
    campaign = CampaignFactory(name=f"Renewals{HIDDEN} Q3")
    assert Account.objects.get(pk=account.pk).name == "Acme"
    assert Label.objects.get(pk=label.pk).name == "vip"
    assert Fact.objects.get(pk=fact.pk).text == "Renewed\nfor two years"
    stored = SenderProfile.objects.get(pk=profile.pk)
    assert (stored.display_name, stored.title, stored.company, stored.signature) == (
        "Rita Ramos",
        "AE",
        "Team Co",
        "Rita\nTeam Co",
    )
    assert Campaign.objects.get(pk=campaign.pk).name == "Renewals Q3"


@pytest.mark.django_db
def test_the_admin_form_treats_an_invisible_twin_of_an_account_as_the_same_name():
    AccountFactory(name="Acme")
    form = modelform_factory(Account, fields=["name", "state"])(data={"name": f"Ac{HIDDEN}me", "state": "active"})
    assert not form.is_valid()
    assert "already exists" in str(form.errors["name"])


# --- Rows stored before: the data migration ------------------------------------------------------


@pytest.mark.django_db
def test_the_data_migration_cleans_rows_stored_before_and_keeps_invisible_twins_apart():
    migration = importlib.import_module("outreach.migrations.0009_clean_display_text")
    ann = RecipientFactory(first_name="Ann")
    acme = AccountFactory(name="Acme")
    twin = AccountFactory(name="Acme-twin")
    other = AccountFactory(name="Other")
    # As the rows were stored before: update() skips save().
    Recipient.objects.filter(pk=ann.pk).update(first_name=f"A{HIDDEN}nn", title=f"{HIDDEN}CEO")
    Account.objects.filter(pk=twin.pk).update(name=f"Acme{HIDDEN}")
    Account.objects.filter(pk=other.pk).update(name=f"Oth{HIDDEN}er")
    migration.clean_display_text(apps, None)
    ann.refresh_from_db()
    assert (ann.first_name, ann.title) == ("Ann", "CEO")
    assert Account.objects.get(pk=other.pk).name == "Other"
    assert Account.objects.get(pk=acme.pk).name == "Acme"
    assert Account.objects.get(pk=twin.pk).name == f"Acme (#{twin.pk})"
