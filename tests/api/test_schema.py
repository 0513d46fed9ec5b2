"""The served schema is one a client can be generated from: it validates (openapi-spec-validator),
its enums are the right ones under their own names, operationIds are the view names, every
operation names its scope, the headers the API reads and answers with are declared, and the
documented examples are its request examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from outreach import integrations
from outreach.integrations.models import EmittedEvent
from outreach.people.models import Fact
from outreach.suppression.models import Suppression

pytestmark = pytest.mark.django_db

EXAMPLES = json.loads((Path(integrations.__file__).parent / "documented_examples.json").read_text())


@pytest.fixture
def schema(client):
    response = client.get("/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, details in methods.items():
            yield path, method, details


def test_the_served_schema_is_valid_openapi(schema):
    validate(schema)


def test_each_field_is_typed_with_its_own_enum_and_defaults_fit(schema):
    fact_kind = schema["components"]["schemas"]["FactIn"]["properties"]["kind"]
    assert fact_kind["enum"] == list(Fact.Kind.values)
    assert fact_kind["default"] in fact_kind["enum"]
    suppression_kind = schema["components"]["schemas"]["SuppressionIn"]["properties"]["kind"]
    assert suppression_kind["enum"] == list(Suppression.Kind.values)
    statuses = {
        p["name"]: p["schema"]
        for p in schema["paths"]["/v1/webhooks/{subscription_id}/deliveries/"]["get"]["parameters"]
    }
    assert statuses["status"]["anyOf"][0]["enum"] == ["pending", "retrying", "succeeded", "failed"]
    # No Django class name left as a shared component (Kind, State, Status overwrote each other).
    assert not {"Kind", "State", "Status", "Reason", "Code", "Type"} & set(schema["components"]["schemas"])


def test_operation_ids_are_the_view_names(schema):
    ids = {details["operationId"] for _, _, details in operations(schema)}
    assert {"contact_upsert", "sequence_create", "enrollment_create", "enrollment_update", "message_detail"} <= ids
    assert not [i for i in ids if "outreach" in i or "." in i]


def test_every_operation_names_the_scope_it_needs(schema):
    for path, method, details in operations(schema):
        assert "Required scope:" in details["description"], (path, method)
        assert details["x-required-scopes"], (path, method)
    enroll = schema["paths"]["/v1/sequences/enrollments/"]["post"]
    assert enroll["x-required-scopes"] == ["sequences:write"]
    read_back = schema["paths"]["/v1/sequences/enrollments/{enrollment_id}/"]["get"]
    assert read_back["x-required-scopes"] == ["sequences:read", "sequences:write"]


def test_the_headers_are_declared(schema):
    create = schema["paths"]["/v1/contacts/"]["post"]
    assert [p["name"] for p in create["parameters"] if p["in"] == "header"] == ["Idempotency-Key"]
    assert "Idempotent-Replayed" in create["responses"]["201"]["headers"]
    assert "Retry-After" in create["responses"]["429"]["headers"]


# Fields that name a state or a choice: in an answer they are enums, so a generated client gets typed
# values. Open-ended on purpose (a test below says why): an enrollment history entry's kind (every
# part of the flow records its own) and the outside system's own name for what started an enrollment.
CHOICE_FIELDS = {"status", "state", "kind", "type", "trigger", "action", "via", "decision", "event_type", "origin"}
OPEN_ENDED = {("HistoryOut", "kind"), ("EnrollmentSourceOut", "type")}


def resolve(schema, node):
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def answered_components(schema):
    """Every component some operation answers with, and the components those contain."""
    seen, todo = set(), []
    for _, _, details in operations(schema):
        for response in details["responses"].values():
            todo.append(response.get("content", {}).get("application/json", {}).get("schema", {}))
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref and ref.rsplit("/", 1)[1] not in seen:
                seen.add(ref.rsplit("/", 1)[1])
                todo.append(schema["components"]["schemas"][ref.rsplit("/", 1)[1]])
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return seen


def test_every_answered_state_or_choice_is_an_enum(schema):
    untyped = []
    for name in answered_components(schema):
        for field, prop in schema["components"]["schemas"][name].get("properties", {}).items():
            if field not in CHOICE_FIELDS or (name, field) in OPEN_ENDED:
                continue
            branches = [resolve(schema, b) for b in prop.get("anyOf", [prop]) if b.get("type") != "null"]
            if not all("enum" in b or "const" in b for b in branches):
                untyped.append(f"{name}.{field}")
    assert not untyped, f"answered as plain strings: {sorted(untyped)}"


def test_the_open_ended_fields_say_what_they_hold(schema):
    for name, field in OPEN_ENDED:
        assert schema["components"]["schemas"][name]["properties"][field].get("description")


def test_each_event_type_has_its_own_schema_told_apart_by_type(schema):
    events = schema["components"]["schemas"]["EventPage"]["properties"]["items"]["items"]
    assert events["discriminator"]["propertyName"] == "type"
    mapping = events["discriminator"]["mapping"]
    assert set(mapping) == set(EmittedEvent.Type.values)
    for event_type, ref in mapping.items():
        event = resolve(schema, {"$ref": ref})
        assert event["properties"]["type"]["const"] == event_type
        data = resolve(schema, event["properties"]["data"])
        assert data["properties"] and data["required"], event_type
    send_result = resolve(schema, {"$ref": mapping["email_send_result"]})
    data = resolve(schema, send_result["properties"]["data"])
    assert data["properties"]["status"]["enum"] == ["success", "failure", "skipped"]


def test_the_webhooks_each_event_type_posts_are_declared(schema):
    assert set(schema["webhooks"]) == set(EmittedEvent.Type.values)
    for event_type, hook in schema["webhooks"].items():
        body = resolve(schema, hook["post"]["requestBody"]["content"]["application/json"]["schema"])
        assert body["properties"]["type"]["const"] == event_type
        assert set(body["required"]) == {"id", "type", "timestamp", "data"}
        assert "webhook-signature" in hook["post"]["description"]


def test_every_validation_error_lists_its_problems(schema):
    validation = schema["components"]["schemas"]["ValidationErrorOut"]
    assert "errors" in validation["required"]
    for path, _method, details in operations(schema):
        answer = details["responses"].get("422")
        if answer is not None:
            assert answer["content"]["application/json"]["schema"]["$ref"].endswith("/ValidationErrorOut"), path


def test_operations_list_only_the_refusals_they_can_make_everywhere(schema):
    for path, method, details in operations(schema):
        codes = set(details["responses"])
        if "requestBody" not in details:
            assert not {"400", "413"} & codes, (method, path)
        if "{" not in path and method != "delete":
            assert "404" not in codes, (method, path)
        if method == "get":
            assert "409" not in codes, (method, path)
        if details.get("x-required-scopes"):
            assert {"401", "403", "429"} <= codes, (method, path)


def test_the_alias_serves_the_same_schema(client, schema):
    assert client.get("/api/v1/openapi.json").json() == schema


def test_operations_list_only_the_refusals_they_can_make(schema):
    listing = schema["paths"]["/v1/contacts/"]["get"]["responses"]
    assert not {"404", "409", "413"} & set(listing)
    assert "404" in schema["paths"]["/v1/contacts/{contact_id}/"]["get"]["responses"]
    assert "409" in schema["paths"]["/v1/sequences/enrollments/"]["post"]["responses"]
    validation = schema["paths"]["/v1/contacts/"]["post"]["responses"]["422"]["content"]["application/json"]
    assert validation["schema"]["$ref"].endswith("/ValidationErrorOut")
    assert "errors" in schema["components"]["schemas"]["ValidationErrorOut"]["properties"]


def test_the_documented_examples_are_the_request_examples(schema):
    content = schema["paths"]["/v1/sequences/enrollments/"]["post"]["requestBody"]["content"]["application/json"]
    assert content["examples"]["ad_hoc_enrollment"]["value"] == EXAMPLES["ad_hoc_enrollment"]
    contact = schema["paths"]["/v1/contacts/"]["post"]["requestBody"]["content"]["application/json"]
    assert contact["examples"]["contact"]["value"] == EXAMPLES["contact"]


def test_the_send_result_is_typed(schema):
    result = schema["components"]["schemas"]["SendResultOut"]["properties"]
    assert set(result) == {
        "status",
        "to_id",
        "from_id",
        "email_id",
        "sender_config_id",
        "mailbox_id",
        "create_email_options",
        "create_email_response",
        "code",
        "error_message",
    }
    options = schema["components"]["schemas"]["SendEmailOptionsOut"]["properties"]
    assert {"from", "to", "subject", "preview_text", "text", "html", "cc", "bcc", "headers"} == set(options)
