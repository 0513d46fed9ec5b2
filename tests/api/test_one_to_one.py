"""POST /v1/one-to-one-emails/ mirrors the one-to-one send node: to_id, from_id, a prompt or
content, cc, bcc, complete_on_send_failure. It becomes a draft in the sender's review queue (the
human checkpoint stays), or an immediate `skipped` result with its code; GET follows it to its
send result."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from outreach.core.public_ids import encode as pid
from outreach.mail.models import OutboundMessage
from outreach.suppression.services import suppression_add
from review import services as review_services
from review.models import Draft
from tests.factories import RecipientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact(rep):
    return RecipientFactory(owner=rep, email="buyer@example.com")


def test_content_becomes_a_ready_draft_in_the_senders_queue_and_then_a_send_result(
    rep, contact, api_client_for, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    api = api_client_for(rep, "email:send")
    response = api.post_json(
        "/v1/one-to-one-emails/",
        {
            "to_id": pid("ctc", contact.pk),
            "from_id": pid("inb", rep.sender.pk),
            "content": {
                "subject": "The renewal quote",
                "text": "Here is the quote we discussed.",
                "preview_text": "Numbers inside",
            },
            "cc": ["Boss@Customer.example"],
            "bcc": ["crm@team.example"],
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["send_result"]) == ("awaiting_review", None)
    draft = Draft.objects.get()
    assert body["id"] == pid("drf", draft.pk)
    assert (draft.state, draft.sender, draft.subject, draft.preview_text) == (
        "ready",
        rep,
        "The renewal quote",
        "Numbers inside",
    )
    assert (draft.cc, draft.bcc) == (["boss@customer.example"], ["crm@team.example"])
    assert not OutboundMessage.objects.exists()  # nothing is sent without the person's approval

    review_services.draft_approve(draft=draft, user=rep, expected_version=draft.version)
    message = OutboundMessage.objects.get()
    from outreach.mail.services.sending import outbound_message_send

    with django_capture_on_commit_callbacks(execute=True):
        outbound_message_send(message_id=message.pk)
    followed = api.get(f"/v1/one-to-one-emails/{body['id']}/").json()
    assert followed["status"] == "success"
    result = followed["send_result"]
    assert (result["to_id"], result["from_id"], result["email_id"]) == (
        pid("ctc", contact.pk),
        pid("inb", rep.sender.pk),
        pid("msg", message.pk),
    )
    assert result["create_email_options"]["preview_text"] == "Numbers inside"
    assert result["create_email_options"]["cc"] == ["boss@customer.example"]


def test_a_prompt_is_drafted_by_the_engine_and_keeps_no_subject_of_its_own(rep, contact, api_client_for):
    response = api_client_for(rep, "email:send").post_json(
        "/v1/one-to-one-emails/",
        {"to_id": pid("ctc", contact.pk), "prompt": "Thank them for the call and propose next steps."},
    )
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "awaiting_review"
    draft = Draft.objects.get()
    assert draft.state == "queued" and draft.sender == rep  # the contact owner's inbox by default
    review_services.draft_generate(draft_id=draft.pk)
    draft.refresh_from_db()
    assert draft.state == "ready" and draft.subject


@pytest.mark.parametrize(
    ("reason", "code"), [("unsubscribed", "user_marketing_email_opt_out"), ("manual", "suppressed")]
)
def test_a_suppressed_contact_is_skipped_at_once_with_its_code(rep, contact, api_client_for, reason, code):
    suppression_add(kind="address", value="buyer@example.com", reason=reason)
    response = api_client_for(rep, "email:send").post_json(
        "/v1/one-to-one-emails/",
        {"to_id": pid("ctc", contact.pk), "content": {"subject": "Hi", "text": "Hello"}},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"], body["code"]) == (None, "skipped", code)
    assert body["error_message"]
    assert not Draft.objects.exists()


def test_another_reps_inbox_is_refused(rep, other_rep, contact, api_client_for):
    response = api_client_for(rep, "email:send").post_json(
        "/v1/one-to-one-emails/",
        {"to_id": pid("ctc", contact.pk), "from_id": pid("inb", other_rep.sender.pk), "prompt": "Say hi"},
    )
    assert response.status_code == 403
    assert response.json()["field"] == "from_id"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": "Say hi", "content": {"subject": "Hi", "text": "Hello"}}, None),
        ({}, None),
        ({"content": {"subject": "Hi"}}, "content"),
        ({"prompt": "Say hi", "cc": ["not an address"]}, "cc"),
    ],
)
def test_bad_bodies_are_422s(rep, contact, api_client_for, body, field):
    response = api_client_for(rep, "email:send").post_json(
        "/v1/one-to-one-emails/", {"to_id": pid("ctc", contact.pk), **body}
    )
    assert response.status_code == 422, response.json()
    if field:
        assert (response.json()["field"] or "").startswith(field)
    assert not Draft.objects.exists()


def test_a_contact_you_may_not_see_is_a_field_error(rep, other_rep, api_client_for):
    theirs = RecipientFactory(owner=other_rep)
    rep.user_permissions.add(Permission.objects.get(codename="add_draft"))
    response = api_client_for(rep, "email:send").post_json(
        "/v1/one-to-one-emails/", {"to_id": pid("ctc", theirs.pk), "prompt": "Say hi"}
    )
    assert response.status_code == 422
    assert response.json()["field"] == "to_id"
