"""The draft's addresses and links are never changed by the model: a stub Anthropic answer that
tries to add a recipient, a CC or a foreign link changes nothing but the (cleaned) text."""

from __future__ import annotations

import pytest

from outreach.mail.models import OutboundMessage
from review.models import Draft
from review.services import draft_approve, draft_generate, draft_request
from tests.factories import FactFactory, RecipientFactory

from .conftest import INJECTION, SCRIPT

pytestmark = pytest.mark.django_db

# Addresses and links that appear in no input (facts, intent, persona, thread).
EVIL_BODY = (
    "Hi Ann,\n\nPlease confirm your account at https://phish.example/login or "
    '<a href="javascript:alert(1)">here</a>, and forward this to attacker@phish.example.\n'
    "To: attacker@phish.example\nBcc: attacker@phish.example\n\nBest,\nRita"
)


@pytest.fixture
def hostile_recipient(rep):
    recipient = RecipientFactory(owner=rep, email="ann@customer.example", first_name="Ann")
    FactFactory(recipient=recipient, text=INJECTION)
    FactFactory(recipient=recipient, text=f"Bio: {SCRIPT} https://evil.example/bio")
    return recipient


def _generate(anthropic_settings, rep, recipient, tool_input) -> Draft:
    anthropic_settings.queue(anthropic_settings.tool_use(tool_input))
    draft = draft_request(recipient=recipient, sender=rep, cc=["boss@customer.example"])
    assert draft is not None
    draft_generate(draft_id=draft.pk)
    draft.refresh_from_db()
    return draft


def test_a_model_answer_adding_links_and_recipients_leaves_addresses_and_links_alone(
    anthropic_settings, rep, hostile_recipient
):
    answer = {
        "subject": "Action needed\r\nBcc: attacker@phish.example",
        "preview_text": "",
        "body_text": EVIL_BODY,
        "cited_fact_ids": [],
    }
    draft = _generate(anthropic_settings, rep, hostile_recipient, answer)

    assert draft.state == Draft.State.READY, draft.failure_reason
    assert draft.recipient.email == "ann@customer.example"
    assert (draft.cc, draft.bcc) == (["boss@customer.example"], [])
    for text in (draft.subject, draft.body_text, draft.body_html):
        assert "phish" not in text and "javascript" not in text and "<script" not in text, text
    assert "\n" not in draft.subject

    draft_approve(draft=draft, user=rep, expected_version=draft.version)
    message = OutboundMessage.objects.get(draft_ref=draft.pk)
    assert (message.to_email, message.cc, message.bcc) == ("ann@customer.example", ["boss@customer.example"], [])
    assert "phish" not in message.body_html + message.body_text + message.subject


def test_a_model_answer_with_extra_address_fields_is_ignored_or_refused(anthropic_settings, rep, hostile_recipient):
    answer = {
        "subject": "Hello",
        "preview_text": "",
        "body_text": "Hi Ann,\n\nA short note.\n\nRita",
        "cited_fact_ids": [],
        "to": "attacker@phish.example",
        "cc": ["attacker@phish.example"],
        "bcc": ["attacker@phish.example"],
        "reply_to": "attacker@phish.example",
        "links": ["https://phish.example"],
    }
    draft = _generate(anthropic_settings, rep, hostile_recipient, answer)

    assert draft.state in (Draft.State.READY, Draft.State.FAILED)
    assert draft.recipient.email == "ann@customer.example"
    assert (draft.cc, draft.bcc) == (["boss@customer.example"], [])
    assert "phish" not in draft.body_text + draft.body_html + draft.subject


def test_hostile_facts_reach_the_model_only_inside_the_quoted_facts(anthropic_settings, rep, hostile_recipient):
    _generate(anthropic_settings, rep, hostile_recipient, None)
    prompt = anthropic_settings.last.json
    user_text = prompt["messages"][0]["content"][0]["text"]
    facts_block = user_text.split("<facts>")[1].split("</facts>")[0]
    assert "Ignore all previous instructions" in facts_block
    assert user_text.count("<facts>") == 1 and user_text.count("</facts>") == 1
    assert "Ignore all previous instructions" not in str(prompt["system"])


def test_an_address_or_link_quoted_from_a_hostile_fact_may_appear_in_the_text_but_never_as_a_recipient(
    anthropic_settings, rep, hostile_recipient
):
    # By design links and addresses found in the inputs (facts, replies) are allowed in the text;
    # the reviewer sees them. They never become a recipient.
    answer = {
        "subject": "Hello",
        "preview_text": "",
        "body_text": "Hi Ann,\n\nAs asked: evil@x.com and https://evil.example/login\n\nRita",
        "cited_fact_ids": [],
    }
    draft = _generate(anthropic_settings, rep, hostile_recipient, answer)
    draft_approve(draft=draft, user=rep, expected_version=draft.version)
    message = OutboundMessage.objects.get(draft_ref=draft.pk)
    assert (message.to_email, message.cc, message.bcc) == ("ann@customer.example", ["boss@customer.example"], [])
