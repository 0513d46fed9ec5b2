"""Every emitted event matches the schema the API publishes for its type: the emitters' real
payloads (engagement, draft decisions, suppression additions, sending paused/resumed, send
results) validate against `outreach.integrations.api_events`, with no undocumented key, and come
out of it unchanged (the events feed answers byte for byte what the webhooks carry)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from outreach.integrations.api_events import EMITTED_DECISIONS, EVENT_SCHEMAS, WEBHOOK_SCHEMAS
from outreach.integrations.api_support import encode_cursor
from outreach.integrations.models import EmittedEvent
from outreach.integrations.services.events import send_result_emit, sending_pause_emit
from outreach.mail.models import EngagementEvent, SendingPause
from outreach.mail.services.engagement import engagement_event_process, engagement_event_record
from outreach.suppression.services import suppression_add
from review import events as review_events
from review.services import draft_approve, draft_reject
from tests.factories import DraftFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db


def documented_keys(model) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def emit_one_of_each(django_capture_on_commit_callbacks, rep) -> None:
    edited = DraftFactory(sender=rep)
    draft_approve(draft=edited, user=rep, expected_version=edited.version, body_text=edited.body_text + "\nThanks")
    rejected = DraftFactory(sender=rep)
    draft_reject(draft=rejected, user=rep, expected_version=rejected.version, reason="tone")
    message = OutboundMessageFactory(provider_response={"id": "re_1"})
    send_result_emit(message=message)
    with django_capture_on_commit_callbacks(execute=True):
        reply = engagement_event_record(
            kind=EngagementEvent.Kind.REPLIED, provider="imap", occurred_at=timezone.now(), message=message
        )
        engagement_event_process(event_id=reply.pk)
        suppression_add(kind="address", value="gone@example.com", reason="unsubscribed", source="test")
    pause = SendingPause.objects.create(
        scope="sender", sender=rep, cause="bounces", events=6, sends=100, threshold=0.05, reason="six bounces"
    )
    sending_pause_emit(pause=pause, type=EmittedEvent.Type.SENDING_PAUSED, count=3)
    pause.resumed_at, pause.resumed_by, pause.resume_note = timezone.now(), rep, "list cleaned"
    pause.save()
    sending_pause_emit(pause=pause, type=EmittedEvent.Type.SENDING_RESUMED, count=3)


def test_it_emits_every_event_type_in_the_shape_its_schema_documents(rep, django_capture_on_commit_callbacks):
    emit_one_of_each(django_capture_on_commit_callbacks, rep)
    events = list(EmittedEvent.objects.order_by("pk"))
    assert {e.type for e in events} == set(EmittedEvent.Type.values)
    for event in events:
        model = EVENT_SCHEMAS[event.type]
        parsed = model.model_validate({**event.as_body(), "cursor": encode_cursor(event.pk)})
        # The feed answers exactly what the webhooks carry, and a delivery's body is its webhook schema.
        assert parsed.model_dump(by_alias=True, mode="json")["data"] == event.payload, event.type
        delivered = WEBHOOK_SCHEMAS[event.type].model_validate(event.as_body())
        assert delivered.model_dump(by_alias=True, mode="json") == event.as_body(), event.type
        data_model = type(parsed.data)
        assert set(event.payload) == documented_keys(data_model), event.type
        for name, field in data_model.model_fields.items():
            nested = getattr(parsed.data, name)
            if hasattr(type(nested), "model_fields"):
                assert set(event.payload[field.alias or name]) == documented_keys(type(nested)), (event.type, name)


def test_the_documented_decisions_are_the_ones_review_emits():
    assert set(EMITTED_DECISIONS) == {str(a) for a in review_events.EMITTED_ACTIONS}
