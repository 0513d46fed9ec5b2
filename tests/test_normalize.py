import pytest

from outreach.core.normalize import normalize_domain, normalize_email, parent_domains
from tests.factories import RecipientFactory


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ann.Lee@Example.COM ", "ann.lee@example.com"),
        ("<bob@EXAMPLE.org>", "bob@example.org"),
        ("carl@Bücher.example", "carl@xn--bcher-kva.example"),
        ("dana@example.com.", "dana@example.com"),
    ],
)
def test_it_normalizes_addresses_to_one_canonical_form(raw, expected):
    assert normalize_email(raw) == expected


def test_it_normalizes_domains_with_a_leading_at_and_trailing_dot():
    assert normalize_domain("@Mail.Example.COM.") == "mail.example.com"


def test_a_subdomain_lists_every_parent_domain_but_not_the_bare_tld():
    assert parent_domains("eu.mail.acme.com") == ["eu.mail.acme.com", "mail.acme.com", "acme.com"]


@pytest.mark.django_db
def test_a_recipient_is_stored_with_a_normalized_unique_address():
    recipient = RecipientFactory(email=" Liu.Yang@ACME.example ")
    assert recipient.email == "liu.yang@acme.example"
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        RecipientFactory(email="LIU.YANG@acme.example")
