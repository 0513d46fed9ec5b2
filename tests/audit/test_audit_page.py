"""The audit page: a CSM or admin answers "why did, or didn't, this person get this email?"."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.urls import reverse

from campaigns import services as campaign_services
from campaigns.models import Enrollment
from outreach.mail.models import OutboundMessage
from outreach.suppression import services
from outreach.suppression.models import Suppression
from review.models import Draft
from review.services import outbound_message_from_draft
from tests.factories import ApprovedDraftFactory, RecipientFactory

pytestmark = pytest.mark.django_db


def _page(client, recipient):
    return client.get(reverse("recipient_audit", args=[recipient.pk]))


def test_a_rep_may_not_open_the_audit_or_its_search(rep, rep_client):
    mine = RecipientFactory(owner=rep)
    assert _page(rep_client, mine).status_code == 403
    assert rep_client.get(reverse("audit_index"), {"q": mine.email}).status_code == 403


def test_csms_and_admins_open_the_audit(csm_client, admin_client_):
    recipient = RecipientFactory()
    assert _page(csm_client, recipient).status_code == 200
    assert _page(admin_client_, recipient).status_code == 200


def test_the_recipient_page_links_to_the_audit_for_csms_only(rep, rep_client, csm_client):
    recipient = RecipientFactory(owner=rep)
    link = reverse("recipient_audit", args=[recipient.pk])
    assert link in csm_client.get(reverse("recipient_detail", args=[recipient.pk])).content.decode()
    assert link not in rep_client.get(reverse("recipient_detail", args=[recipient.pk])).content.decode()


def test_searching_an_exact_address_opens_that_audit(csm_client):
    recipient = RecipientFactory(email="ann@customer.example")
    response = csm_client.get(reverse("audit_index"), {"q": "Ann@Customer.example"})
    assert response.status_code == 302 and response.url == reverse("recipient_audit", args=[recipient.pk])


def test_searching_part_of_an_address_lists_the_matches(csm_client):
    RecipientFactory(email="ann@customer.example")
    RecipientFactory(email="bob@customer.example")
    RecipientFactory(email="cy@elsewhere.example")
    page = csm_client.get(reverse("audit_index"), {"q": "customer"}).content.decode()
    assert "ann@customer.example" in page and "bob@customer.example" in page
    assert "cy@elsewhere.example" not in page


def test_it_says_whether_the_person_is_suppressed_now_and_why(csm_client, admin_user):
    recipient = RecipientFactory(email="ann@acme.example")
    assert '<span class="badge ok">No</span>' in _page(csm_client, recipient).content.decode()
    services.suppression_add(
        kind="domain", value="acme.example", reason=Suppression.Reason.LEGAL_REQUEST, added_by=admin_user
    )
    page = _page(csm_client, recipient).content.decode()
    assert '<span class="badge bad">Yes</span>' in page and "acme.example" in page


def test_the_timeline_shows_the_enrollment_history_and_who_approved_and_sent(csm, csm_client, rep, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    recipient = RecipientFactory(owner=rep)
    enrollment = campaign_services.enrollment_create(
        recipient=recipient,
        kind=Enrollment.Kind.AD_HOC,
        steps=[{"delay_days": 0, "subject": "Hi", "body": "Hello"}],
        sender=rep,
        user=csm,
    )
    campaign_services.enrollment_cancel(enrollment=enrollment, user=csm, reason="asked us to stop")
    with transaction.atomic():
        message = outbound_message_from_draft(
            draft=ApprovedDraftFactory(sender=rep, recipient=recipient), approved_by=rep
        )
    OutboundMessage.objects.filter(pk=message.pk).update(state="failed", code="provider_error")
    message.log.create(from_state="sending", to_state="failed", code="provider_error", note="550 mailbox unavailable")

    page = _page(csm_client, recipient).content.decode()

    assert "asked us to stop" in page and "cancelled" in page
    assert f"Message #{message.pk}: sending → failed (provider_error)" in page
    assert "550 mailbox unavailable" in page
    assert '<span class="badge bad">send</span>' in page
    assert "Enrolled in an ad-hoc sequence" in page


def test_the_audit_page_uses_a_fixed_number_of_queries(csm_client, rep, django_assert_max_num_queries):
    recipient = RecipientFactory(owner=rep)
    for _ in range(5):
        ApprovedDraftFactory(sender=rep, recipient=recipient)
        with transaction.atomic():
            outbound_message_from_draft(
                draft=Draft.objects.filter(recipient=recipient).order_by("-pk").first(), approved_by=rep
            )
    # session, user, role, 12 for the timeline, nav role and permissions; not one per entry.
    with django_assert_max_num_queries(18):
        assert _page(csm_client, recipient).status_code == 200
