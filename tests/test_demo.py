import pytest
from django.core.management import call_command

from outreach.people.models import Fact, Recipient
from outreach.suppression.models import Suppression

pytestmark = pytest.mark.django_db


def test_demo_data_loads_twice_without_duplicating_anything():
    call_command("seed_demo")
    counts = (Recipient.objects.count(), Fact.objects.count(), Suppression.objects.count())
    call_command("seed_demo")
    assert (Recipient.objects.count(), Fact.objects.count(), Suppression.objects.count()) == counts
    assert counts[0] == 50
