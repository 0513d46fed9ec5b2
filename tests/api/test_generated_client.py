"""A client generated from our served schema works: openapi-python-client generates a Python client
from `/v1/openapi.json` as a live server answers it, and the documented flow runs through that
client against the same server — the contact, both sequences, the three enrollments, reading them
back, the rep's approval and send, the send result and the events, and a cancel — every answer
parsed into the generated (typed) models. If this fails, fix the schema, not this test."""

from __future__ import annotations

import enum
import importlib
import json
import subprocess
import sys
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from campaigns.services import enrollment_advance_due
from outreach import integrations
from outreach.core.public_ids import decode
from outreach.integrations.services.tokens import api_token_create
from outreach.mail.services.sending import outbound_message_send
from tests.api.test_documented_flow import substitute

EXAMPLES = json.loads((Path(integrations.__file__).parent / "documented_examples.json").read_text())
PACKAGE = "outreach_generated_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture(scope="module")
def generated(live_server, tmp_path_factory):
    """The client package generated from the served schema, imported (kept in a temporary directory)."""
    tmp_path = tmp_path_factory.mktemp("generated_client")
    # (pytest-django lets the live server's host in per test; this runs once per module, before.)
    with (
        override_settings(ALLOWED_HOSTS=["localhost"]),
        urllib.request.urlopen(f"{live_server.url}/v1/openapi.json", timeout=30) as response,
    ):
        (tmp_path / "openapi.json").write_bytes(response.read())
    # No formatter hooks: generation needs only the spec (no network, no tools on PATH).
    (tmp_path / "config.yaml").write_text("post_hooks: []\n")
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(tmp_path / "openapi.json"),
            "--meta",
            "none",
            "--config",
            str(tmp_path / "config.yaml"),
            "--output-path",
            str(tmp_path / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # A schema the generator had to skip parts of is a broken schema.
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    try:
        package = importlib.import_module(PACKAGE)
        importlib.import_module(f"{PACKAGE}.models")
        yield package
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def operation(name: str):
    """An operation module of the generated client, by tag and operationId: 'contacts.contact_upsert'."""
    return importlib.import_module(f"{PACKAGE}.api.{name}")


@pytest.fixture
def client_for(generated, live_server):
    """client_for(user, *scopes, strict=True) -> a generated client with a new token of that user;
    closed after the test (an open keep-alive connection keeps a server thread's database session)."""
    opened = []

    def make(user, *scopes, strict=True):
        secret = api_token_create(user=user, name="generated client", scopes=list(scopes)).secret
        client = generated.AuthenticatedClient(
            base_url=live_server.url, token=secret, raise_on_unexpected_status=strict
        )
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.get_httpx_client().close()


def value(field) -> str:
    """A typed enum field's value (and proof that it is typed, not a plain string)."""
    assert isinstance(field, enum.Enum), f"{field!r} is not typed as an enum"
    return field.value


@pytest.mark.broker
def test_it_runs_the_documented_flow_through_a_client_generated_from_the_served_schema(
    generated, client_for, csm, rep, settings, transactional_db
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    models = generated.models
    carl = client_for(csm, *EXAMPLES["scopes"])
    rita = client_for(rep, *EXAMPLES["scopes"])

    inboxes = operation("inboxes.inbox_list").sync(client=carl)
    inbox = next(i.id for i in inboxes.items if i.owner == rep.username)
    ids = {"inb_123": inbox}

    body = models.ContactIn.from_dict(substitute(EXAMPLES["contact"], ids))
    assert body.to_dict() == substitute(EXAMPLES["contact"], ids)  # the generated model sends it verbatim
    created = operation("contacts.contact_upsert").sync_detailed(
        client=carl, body=body, idempotency_key="crm-contact-avery"
    )
    assert created.status_code == 201
    contact = created.parsed
    assert isinstance(contact, models.ContactOut)
    assert (contact.inbox_id, contact.owner, contact.notes) == (inbox, rep.username, EXAMPLES["contact"]["notes"])
    ids["ctc_123"] = contact.id
    replayed = operation("contacts.contact_upsert").sync_detailed(
        client=carl, body=body, idempotency_key="crm-contact-avery"
    )
    assert (replayed.parsed.id, replayed.headers["Idempotent-Replayed"]) == (contact.id, "true")

    sequences = {}
    for name in ("sequence", "prompt_sequence"):
        sent = substitute(EXAMPLES[name], ids)
        assert models.SequenceIn.from_dict(sent).to_dict() == sent
        sequence = operation("sequences.sequence_create").sync(client=carl, body=models.SequenceIn.from_dict(sent))
        assert isinstance(sequence, models.SequenceOut), sequence
        assert (sequence.sender_inbox_id, value(sequence.status)) == (inbox, "active")
        sequences[name] = sequence
    assert [e.subject for e in sequences["prompt_sequence"].emails] == ["Following up"]

    enrollments = {}
    for name, sequence in (
        ("template_enrollment", "sequence"),
        ("ad_hoc_enrollment", None),
        ("automation_enrollment", "prompt_sequence"),
    ):
        sent = substitute(EXAMPLES[name], {**ids, "seq_123": sequences[sequence].id} if sequence else ids)
        assert models.EnrollmentIn.from_dict(sent).to_dict() == sent
        enrollment = operation("sequences.enrollment_create").sync(
            client=carl, body=models.EnrollmentIn.from_dict(sent)
        )
        assert isinstance(enrollment, models.EnrollmentOut), enrollment
        assert (enrollment.contact_id, enrollment.inbox_id, enrollment.sender) == (ids["ctc_123"], inbox, rep.username)
        assert (enrollment.source.message_id, enrollment.source.thread_id) == ("msg_123", "thr_123")
        assert value(enrollment.state) == "active"
        enrollments[name] = enrollment
    assert [value(e.kind) for e in enrollments.values()] == ["template", "ad_hoc", "template"]
    assert enrollments["template_enrollment"].source.subject == "Proposal for review"

    # The documented scopes read back everything they created, typed.
    read = operation("contacts.contact_detail").sync(client=carl, contact_id=ids["ctc_123"])
    assert read.id == ids["ctc_123"] and read.emails[0].address == "buyer@example.com"
    for sequence in sequences.values():
        assert operation("sequences.sequence_detail").sync(client=carl, sequence_id=sequence.id).name == sequence.name
    for enrollment in enrollments.values():
        again = operation("sequences.enrollment_detail").sync(client=carl, enrollment_id=enrollment.id)
        assert (again.id, value(again.history[0].to_state) in {"", "active"}) == (enrollment.id, True)
    listed = operation("sequences.enrollment_list").sync(client=carl, contact_id=ids["ctc_123"])
    assert {e.id for e in listed.items} == {e.id for e in enrollments.values()}

    # The template's first email is due two days later: Rita approves its draft through the client.
    template = enrollments["template_enrollment"]
    with time_machine.travel(timezone.now() + timedelta(days=2, hours=1)):
        enrollment_advance_due()
        drafts = operation("drafts.draft_list").sync(client=rita, enrollment_id=template.id)
        assert [(d.subject, value(d.status)) for d in drafts.items] == [("Following up on the proposal", "ready")]
        draft = drafts.items[0]
        approved = operation("drafts.draft_approve").sync(
            client=rita, draft_id=draft.id, body=models.ApproveIn(expected_version=draft.version)
        )
        assert value(approved.status) == "approved"
        outbound_message_send(message_id=decode("msg", approved.message.id))
        # (Rita's token reads on in the same two days on: its rate bucket is kept by the clock.)
        message = operation("messages.message_detail").sync(client=rita, message_id=approved.message.id)
    result = message.send_result
    assert (value(result.status), result.to_id, result.from_id, result.email_id) == (
        "success",
        ids["ctc_123"],
        inbox,
        approved.message.id,
    )
    assert result.create_email_options.subject == "Following up on the proposal"
    assert result.create_email_options.from_ == message.from_email

    # The events feed: one schema per type, told apart by `type`.
    watcher = client_for(csm, "events:read")
    events = operation("events.event_list").sync(client=watcher).items
    by_type = {type(e).__name__: e for e in events}
    assert {"DraftEditSignalEvent", "EmailSendResultEvent"} <= set(by_type)
    assert value(by_type["DraftEditSignalEvent"].data.decision) == "approve"
    assert by_type["DraftEditSignalEvent"].data.draft_id == draft.id
    sent_event = by_type["EmailSendResultEvent"].data
    assert (value(sent_event.status), sent_event.email_id, sent_event.enrollment_id) == (
        "success",
        approved.message.id,
        template.id,
    )

    # "Cancel manually when work changes."
    ad_hoc = enrollments["ad_hoc_enrollment"]
    cancelled = operation("sequences.enrollment_update").sync(
        client=carl, enrollment_id=ad_hoc.id, body=models.EnrollmentPatch.from_dict(EXAMPLES["cancel"])
    )
    assert value(cancelled.state) == "cancelled"


def test_refusals_parse_into_the_generated_error_models(generated, client_for, csm, transactional_db):
    models = generated.models
    client = client_for(csm, "contacts:read", strict=False)

    invalid = operation("contacts.contact_detail").sync_detailed(client=client, contact_id="ctc_not-an-id")
    assert invalid.status_code == 422
    assert isinstance(invalid.parsed, models.ValidationErrorOut)
    assert [(e.field, bool(e.detail)) for e in invalid.parsed.errors] == [("contact_id", True)]

    missing_scope = operation("contacts.contact_upsert").sync_detailed(
        client=client, body=models.ContactIn.from_dict({"emails": [{"address": "a@example.com"}]})
    )
    assert missing_scope.status_code == 403
    assert isinstance(missing_scope.parsed, models.ErrorOut) and missing_scope.parsed.field == "scope"
