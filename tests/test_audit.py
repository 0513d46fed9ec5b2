import pytest

from campaigns.audit import recipient_audit
from outreach.suppression import services
from outreach.suppression.models import Suppression
from review.models import Draft, DraftDecision, DraftSkip
from review.services import draft_request
from tests.factories import RecipientFactory

pytestmark = pytest.mark.django_db


def test_the_audit_explains_a_skip_by_its_suppression_and_its_removal(admin_user, rep):
    recipient = RecipientFactory(email="ann@acme.example")
    entry = services.suppression_add(
        kind="domain", value="acme.example", reason=Suppression.Reason.LEGAL_REQUEST, added_by=admin_user
    )
    assert draft_request(recipient=recipient, sender=rep) is None
    services.suppression_remove(entry=entry, removed_by=admin_user, reason="legal hold lifted")

    audit = recipient_audit(recipient=recipient)

    titles = [e.title for e in audit.entries]
    assert any("Legal request" in t for t in titles)
    assert any(t.startswith("No draft: suppressed") for t in titles)
    assert any("removed" in t for t in titles)
    assert audit.suppressed_now is None
    assert DraftSkip.objects.get().reason in [e.detail for e in audit.entries]


def test_the_audit_lists_drafts_and_who_decided_them(rep):
    recipient = RecipientFactory()
    draft = draft_request(recipient=recipient, sender=rep)
    Draft.objects.filter(pk=draft.pk).update(state=Draft.State.REJECTED)
    DraftDecision.objects.create(
        draft=draft, action=DraftDecision.Action.REJECT, user=rep, reason="wrong_person", note="left the company"
    )

    entries = recipient_audit(recipient=recipient).entries

    rejection = next(e for e in entries if e.category == "decision")
    assert "rejected" in rejection.title and "left the company" in rejection.detail
    assert rejection.actor == (rep.get_full_name() or rep.username)


def test_the_audit_uses_a_fixed_number_of_queries(rep, django_assert_max_num_queries):
    recipient = RecipientFactory()
    for _ in range(5):
        draft = draft_request(recipient=recipient, sender=rep)
        Draft.objects.filter(pk=draft.pk).update(state=Draft.State.REJECTED)
        DraftDecision.objects.create(draft=draft, action=DraftDecision.Action.REJECT, user=rep)
    with django_assert_max_num_queries(11):  # + enrollment history, + send log
        recipient_audit(recipient=recipient)
