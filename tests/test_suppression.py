from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from outreach.core.errors import ApplicationError
from outreach.suppression import selectors as suppression_selectors
from outreach.suppression import services
from outreach.suppression.models import Suppression, SuppressionList
from outreach.suppression.signals import suppression_added
from tests.factories import RecipientFactory

pytestmark = pytest.mark.django_db


def add(kind, value, reason=Suppression.Reason.MANUAL, **kwargs):
    return services.suppression_add(kind=kind, value=value, reason=reason, **kwargs)


def test_it_suppresses_an_address_whatever_its_case():
    recipient = RecipientFactory(email="ann@customer.example")
    add(Suppression.Kind.ADDRESS, "ANN@Customer.Example", reason=Suppression.Reason.UNSUBSCRIBED)
    hit = suppression_selectors.suppression_check(recipient=recipient)
    assert hit is not None
    assert hit.reason == Suppression.Reason.UNSUBSCRIBED
    assert hit.kind == "address"


def test_a_domain_entry_covers_the_domain_and_its_subdomains_but_not_lookalikes():
    add(Suppression.Kind.DOMAIN, "Acme.com")
    at_domain = RecipientFactory(email="a@acme.com")
    at_subdomain = RecipientFactory(email="b@eu.mail.ACME.com")
    lookalike = RecipientFactory(email="c@notacme.com")
    parent_only = RecipientFactory(email="d@com.example")
    hits = suppression_selectors.suppression_check_bulk(recipients=[at_domain, at_subdomain, lookalike, parent_only])
    assert set(hits) == {at_domain.pk, at_subdomain.pk}


def test_a_recipient_id_entry_suppresses_that_recipient_even_after_an_address_change():
    recipient = RecipientFactory(email="old@customer.example")
    add(Suppression.Kind.RECIPIENT, str(recipient.pk), reason=Suppression.Reason.DO_NOT_CONTACT)
    recipient.email = "new@customer.example"
    recipient.save()
    hit = suppression_selectors.suppression_check(recipient=recipient)
    assert hit is not None and hit.reason == Suppression.Reason.DO_NOT_CONTACT


def test_the_most_specific_entry_explains_the_suppression():
    recipient = RecipientFactory(email="x@acme.com")
    add(Suppression.Kind.DOMAIN, "acme.com", reason=Suppression.Reason.CUSTOMER_FREEZE)
    add(Suppression.Kind.ADDRESS, "x@acme.com", reason=Suppression.Reason.HARD_BOUNCE)
    assert suppression_selectors.suppression_check(recipient=recipient).reason == Suppression.Reason.HARD_BOUNCE


def test_a_removed_entry_no_longer_suppresses_but_stays_in_history(admin_user):
    recipient = RecipientFactory(email="ann@customer.example")
    entry = add(Suppression.Kind.ADDRESS, "ann@customer.example")
    services.suppression_remove(entry=entry, removed_by=admin_user, reason="added by mistake")
    assert suppression_selectors.suppression_check(recipient=recipient) is None
    entry.refresh_from_db()
    assert entry.removed_by == admin_user and entry.removal_reason == "added by mistake"


def test_removing_an_entry_needs_a_reason(admin_user):
    entry = add(Suppression.Kind.ADDRESS, "ann@customer.example")
    with pytest.raises(ApplicationError):
        services.suppression_remove(entry=entry, removed_by=admin_user, reason="  ")


def test_an_expired_soft_entry_no_longer_suppresses():
    recipient = RecipientFactory(email="ann@customer.example")
    entry = add(Suppression.Kind.ADDRESS, "ann@customer.example", expires_at=timezone.now() + timedelta(days=1))
    Suppression.objects.filter(pk=entry.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert suppression_selectors.suppression_check(recipient=recipient) is None


def test_only_soft_reasons_may_expire():
    with pytest.raises(ApplicationError):
        add(
            Suppression.Kind.ADDRESS,
            "a@b.example",
            reason=Suppression.Reason.COMPLAINT,
            expires_at=timezone.now() + timedelta(days=3),
        )


def test_adding_the_same_entry_twice_keeps_one_active_entry():
    first = add(Suppression.Kind.ADDRESS, "ann@customer.example")
    second = add(Suppression.Kind.ADDRESS, "Ann@customer.example")
    assert first.pk == second.pk
    assert Suppression.objects.count() == 1


def test_a_campaign_list_applies_only_when_the_campaign_names_it():
    recipient = RecipientFactory(email="ann@customer.example")
    campaign_list = SuppressionList.objects.create(name="Renewals campaign")
    add(Suppression.Kind.ADDRESS, "ann@customer.example", suppression_list=campaign_list)
    assert suppression_selectors.suppression_check(recipient=recipient) is None
    assert suppression_selectors.suppression_check(recipient=recipient, list_ids=[campaign_list.pk]) is not None


def test_a_recipient_in_a_regulated_country_without_consent_is_suppressed():
    no_consent = RecipientFactory(country="DE", consent_recorded_at=None)
    consented = RecipientFactory(country="DE", consent_recorded_at=timezone.now())
    elsewhere = RecipientFactory(country="US", consent_recorded_at=None)
    hits = suppression_selectors.suppression_check_bulk(recipients=[no_consent, consented, elsewhere])
    assert set(hits) == {no_consent.pk}
    assert hits[no_consent.pk].reason == Suppression.Reason.NO_CONSENT


def test_an_invalid_address_or_domain_is_refused_with_a_clear_message():
    with pytest.raises(ApplicationError, match="not a valid email"):
        add(Suppression.Kind.ADDRESS, "not-an-address@")
    with pytest.raises(ApplicationError, match="not a valid domain"):
        add(Suppression.Kind.DOMAIN, "nodots")


def test_adding_an_entry_emits_the_suppression_added_signal_on_commit(django_capture_on_commit_callbacks):
    received = []

    def listener(sender, entry, **kwargs):
        received.append(entry.value)

    suppression_added.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            add(Suppression.Kind.ADDRESS, "ann@customer.example")
    finally:
        suppression_added.disconnect(listener)
    assert received == ["ann@customer.example"]


def test_bulk_add_reports_bad_lines_by_number_and_adds_the_rest():
    result = services.suppression_bulk_add(
        text="email\nann@customer.example\nnot an address@@\n@acme.com; bob@b.example\nann@customer.example\n",
        reason=Suppression.Reason.MANUAL,
    )
    assert result.added == 3
    assert result.already_present == 1
    assert [e["line"] for e in result.errors] == [3]


@pytest.mark.slow
def test_the_bulk_check_uses_one_query_for_thousands_of_recipients(django_assert_num_queries):
    recipients = RecipientFactory.create_batch(3000)
    for i in range(0, 3000, 10):
        add(Suppression.Kind.ADDRESS, recipients[i].email)
    add(Suppression.Kind.DOMAIN, recipients[5].domain)
    with django_assert_num_queries(1):
        hits = suppression_selectors.suppression_check_bulk(recipients=recipients)
    assert len(hits) == 301


def test_a_rep_cannot_reach_the_suppression_pages(rep_client):
    assert rep_client.get(reverse("suppression_index")).status_code == 403
    response = rep_client.post(
        reverse("suppression_add"), {"kind": "address", "value": "a@b.example", "reason": "manual"}
    )
    assert response.status_code == 403
    assert not Suppression.objects.exists()


def test_an_admin_adds_searches_and_removes_entries_in_the_page(admin_client_):
    response = admin_client_.post(
        reverse("suppression_add"),
        {"kind": "domain", "value": "@Spam.example", "reason": "complaint", "note": "board decision"},
    )
    assert response.status_code == 302
    entry = Suppression.objects.get()
    assert entry.value == "spam.example"
    page = admin_client_.get(reverse("suppression_index"), {"q": "spam"})
    assert b"spam.example" in page.content
    # A spam complaint is lifted only with the admin's explicit confirmation of what it means.
    refused = admin_client_.post(reverse("suppression_remove", args=[entry.pk]), {"reason": "resolved"}, follow=True)
    assert "reported our email as spam" in refused.content.decode()
    entry.refresh_from_db()
    assert entry.removed_at is None
    admin_client_.post(reverse("suppression_remove", args=[entry.pk]), {"reason": "resolved", "confirm_legal": "on"})
    entry.refresh_from_db()
    assert entry.removed_at is not None and entry.removal_reason.startswith("resolved [admin confirmed: ")


def test_lifting_an_unsubscribe_needs_an_admin_and_an_explicit_confirmation(admin_user, csm):
    entry = add(Suppression.Kind.ADDRESS, "ann@customer.example", reason=Suppression.Reason.UNSUBSCRIBED)
    with pytest.raises(ApplicationError, match="Only an admin"):
        services.suppression_remove(entry=entry, removed_by=csm, reason="asked again", confirmed_legal=True)
    with pytest.raises(ApplicationError, match="may email them again"):
        services.suppression_remove(entry=entry, removed_by=admin_user, reason="asked again")
    services.suppression_remove(entry=entry, removed_by=admin_user, reason="asked again", confirmed_legal=True)
    entry.refresh_from_db()
    assert entry.removed_by == admin_user and "admin confirmed" in entry.removal_reason


def test_the_lift_form_names_the_legal_meaning(admin_client_):
    entry = add(Suppression.Kind.ADDRESS, "ann@customer.example", reason=Suppression.Reason.UNSUBSCRIBED)
    html = admin_client_.get(reverse("suppression_index")).content.decode()
    assert f'aria-describedby="legal-{entry.pk}"' in html and f'id="legal-{entry.pk}"' in html
    assert "This person unsubscribed. Lifting it means we may email them again" in html


def test_a_bad_expiry_keeps_everything_typed_and_says_what_to_do(admin_client_):
    response = admin_client_.post(
        reverse("suppression_add"),
        {
            "kind": "address",
            "value": "ann@customer.example",
            "reason": "manual",
            "note": "CEO asked",
            "expires_at": "soon",
        },
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'value="ann@customer.example"' in html and "CEO asked" in html
    assert "Pick a date and time with the date picker" in html
    assert 'type="datetime-local"' in html and 'aria-invalid="true"' in html
    assert not Suppression.objects.exists()


def test_the_admin_check_answers_why_an_address_is_suppressed(admin_client_):
    add(Suppression.Kind.DOMAIN, "acme.com", reason=Suppression.Reason.LEGAL_REQUEST)
    response = admin_client_.get(reverse("suppression_check"), {"address": "x@eu.acme.com"}, HTTP_HX_REQUEST="true")
    assert b"Legal request" in response.content
