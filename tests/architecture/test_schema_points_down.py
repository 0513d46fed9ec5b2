"""Dependencies point downwards in the schema too: a lower part's models hold no foreign key into a
higher part (campaigns → review → outreach's integrations → mail → people → suppression)."""

from __future__ import annotations

import pytest
from django.apps import apps

# From the top down; a model may point at its own part or any part below it (and at Django's auth).
LAYERS = (
    # The project's wiring (operations: the worker heartbeat) stands above every part.
    "outreach.models",
    "campaigns",
    "review",
    "outreach.integrations",
    "outreach.mail",
    "outreach.people",
    "outreach.suppression",
)
OUR_APPS = ("outreach", "review", "campaigns")


def _part(model) -> str:
    """The part a model lives in; "external" for Django's and libraries' models (users, for one)."""
    if model._meta.app_label not in OUR_APPS:
        return "external"
    module = model.__module__
    found = next((layer for layer in LAYERS if module == layer or module.startswith(layer + ".")), None)
    assert found is not None, f"{model.__name__} ({module}) lives in no part"
    return found


def _relations():
    for model in apps.get_models():
        part = _part(model)
        if part == "external":
            continue
        for field in model._meta.get_fields(include_hidden=True):
            if field.is_relation and field.concrete or getattr(field, "many_to_many", False) and not field.auto_created:
                yield model, part, field


@pytest.mark.parametrize("layer", LAYERS)
def test_no_model_holds_a_foreign_key_into_a_part_above_it(layer):
    allowed = set(LAYERS[LAYERS.index(layer) :]) | {"external"}
    upward = [
        f"{model.__name__}.{field.name} -> {field.related_model.__name__} ({_part(field.related_model)})"
        for model, part, field in _relations()
        if part == layer and _part(field.related_model) not in allowed
    ]
    assert upward == []


def test_a_message_knows_its_draft_only_by_id_and_the_draft_points_down_at_it():
    draft = apps.get_model("review", "Draft")
    message = apps.get_model("outreach", "OutboundMessage")
    assert draft._meta.get_field("outbound_message").related_model is message
    assert not message._meta.get_field("draft_ref").is_relation
    # No reverse accessor either: mail code cannot reach a draft through its message.
    assert not hasattr(message, "draft")
