"""Upgrading a database from the schema with upward foreign keys keeps every row and every value."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# The last migrations before drafts and messages stopped pointing up at campaigns.
BEFORE = [
    ("outreach", "0005_merge_api_tokens"),
    ("review", "0002_queue_indexes"),
    ("campaigns", "0003_enrollment_history_rules_sender"),
]

pytestmark = pytest.mark.django_db(transaction=True)


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def _old_rows(old):
    """A campaign with its rules, a sent step, an open follow-up, a skip and an ad-hoc draft, as the
    old schema held them."""
    User = old.get_model("auth", "User")
    sender = User.objects.create(username="rita", email="rita@team.example")
    old.get_model("outreach", "SenderProfile").objects.create(user=sender, display_name="Rita", email=sender.email)
    Recipient = old.get_model("outreach", "Recipient")
    avery = Recipient.objects.create(email="avery@customer.example", first_name="Avery", owner=sender)
    blake = Recipient.objects.create(email="blake@customer.example", owner=sender)
    frozen = old.get_model("outreach", "SuppressionList").objects.create(name="Frozen accounts")
    campaign = old.get_model("campaigns", "Campaign").objects.create(
        name="Renewals",
        goal="Book renewal calls",
        key_message="Forecasting is included",
        call_to_action="20 minutes next week?",
        trigger_description="Renews within 30 days",
        persona_tone="warm",
        open_tracking=True,
        complete_on_send_failure=True,
        send_window={"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"},
        status="active",
    )
    campaign.suppression_lists.add(frozen)
    Step = old.get_model("campaigns", "SequenceStep")
    first = Step.objects.create(campaign=campaign, position=1, subject="Hi", body="Hello")
    second = Step.objects.create(campaign=campaign, position=2, prompt="Follow up on the renewal")
    enrollment = old.get_model("campaigns", "Enrollment").objects.create(
        campaign=campaign,
        recipient=avery,
        state="waiting_review",
        current_step=2,
        source={"subject": "Pricing?", "body_text": "What does it cost?"},
    )
    Draft = old.get_model("review", "Draft")
    sent_draft = Draft.objects.create(
        recipient=avery, sender=sender, campaign=campaign, enrollment=enrollment, step=first, state="approved"
    )
    message = old.get_model("outreach", "OutboundMessage").objects.create(
        draft=sent_draft,
        recipient=avery,
        sender=sender,
        campaign=campaign,
        enrollment=enrollment,
        step=first,
        from_email="Rita <rita@team.example>",
        to_email=avery.email,
        subject="Hi",
        body_html="<p>Hello</p>",
        body_text="Hello",
        content_hash="0" * 64,
        message_id="<1@team.example>",
        idempotency_key="k1",
        state="sent",
    )
    follow_up = Draft.objects.create(
        recipient=avery, sender=sender, campaign=campaign, enrollment=enrollment, step=second, state="ready"
    )
    ad_hoc = Draft.objects.create(recipient=blake, sender=sender, state="ready", subject="Just a note")
    skip = old.get_model("review", "DraftSkip").objects.create(
        recipient=blake, campaign=campaign, enrollment=enrollment, code="suppressed", reason="Hard bounce"
    )
    return {
        "campaign": campaign.pk,
        "frozen": frozen.pk,
        "enrollment": enrollment.pk,
        "first": first.pk,
        "second": second.pk,
        "sent_draft": sent_draft.pk,
        "message": message.pk,
        "follow_up": follow_up.pk,
        "ad_hoc": ad_hoc.pk,
        "skip": skip.pk,
    }


@pytest.mark.slow
def test_upgrading_from_upward_foreign_keys_keeps_every_row_and_the_rules_each_email_had():
    ids = _old_rows(_migrate(BEFORE))

    new = _migrate(_latest())

    Draft = new.get_model("review", "Draft")
    message = new.get_model("outreach", "OutboundMessage").objects.get(pk=ids["message"])
    assert (message.draft_ref, message.campaign_ref, message.enrollment_ref, message.step_ref) == (
        ids["sent_draft"],
        ids["campaign"],
        ids["enrollment"],
        ids["first"],
    )
    assert message.send_window == {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}
    assert message.suppression_list_ids == [ids["frozen"]]
    assert message.open_tracking and message.complete_on_send_failure

    sent = Draft.objects.select_related("origin").get(pk=ids["sent_draft"])
    assert sent.outbound_message_id == ids["message"]
    assert (sent.origin.campaign_ref, sent.origin.name) == (ids["campaign"], "Renewals")

    follow_up = Draft.objects.get(pk=ids["follow_up"])
    assert (follow_up.enrollment_ref, follow_up.step_ref, follow_up.origin_id) == (
        ids["enrollment"],
        ids["second"],
        sent.origin_id,
    )
    assert follow_up.brief == {
        "campaign": "Renewals",
        "goal": "Book renewal calls",
        "key_message": "Forecasting is included",
        "call_to_action": "20 minutes next week?",
        "why_now": "Renews within 30 days",
        "persona_tone": "warm",
        "step_prompt": "Follow up on the renewal",
        "source_message": {
            "direction": "inbound",
            "subject": "Pricing?",
            "body_text": "What does it cost?",
            "sent_at": "",
        },
    }
    assert follow_up.send_rules["suppression_list_ids"] == [ids["frozen"]]
    assert follow_up.outbound_message_id is None

    ad_hoc = Draft.objects.get(pk=ids["ad_hoc"])
    assert (ad_hoc.origin_id, ad_hoc.enrollment_ref, ad_hoc.brief, ad_hoc.subject) == (None, None, {}, "Just a note")

    skip = new.get_model("review", "DraftSkip").objects.select_related("origin").get(pk=ids["skip"])
    assert (skip.origin.campaign_ref, skip.enrollment_ref, skip.reason) == (
        ids["campaign"],
        ids["enrollment"],
        "Hard bounce",
    )
    assert Draft.objects.count() == 3
