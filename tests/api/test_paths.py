"""The API answers under /v1/ (documented) and /api/v1/ (the older prefix, same routes, same
schema), and every error under either root is JSON `{detail, field}`: unknown paths, methods a
route does not take, missing tokens."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_the_documented_prefix_and_the_alias_serve_one_schema_naming_v1(client):
    documented = client.get("/v1/openapi.json")
    alias = client.get("/api/v1/openapi.json")
    assert documented.status_code == alias.status_code == 200
    assert documented.json() == alias.json()
    paths = documented.json()["paths"]
    assert "/v1/contacts/" in paths and "/v1/sequences/enrollments/" in paths
    assert not [p for p in paths if not p.startswith("/v1/")]


@pytest.mark.parametrize("prefix", ["/v1/", "/api/v1/"])
def test_both_prefixes_reach_the_same_routes(prefix, api_client_for, rep):
    api = api_client_for(rep, "contacts:read")
    response = api.get(f"{prefix}contacts/")
    assert response.status_code == 200
    assert response.json()["items"] == []


@pytest.mark.parametrize("path", ["/v1/nope/", "/v1/contacts/extra/segments/", "/api/v1/nope/"])
def test_an_unknown_path_under_the_api_root_is_a_json_404(client, path):
    response = client.post(path, {}, content_type="application/json")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "Not found: no API route at this path.", "field": None}


def test_a_method_the_route_does_not_take_is_a_json_405_that_names_the_allowed_ones(client):
    response = client.put("/v1/contacts/", {}, content_type="application/json")
    assert response.status_code == 405
    assert response["Content-Type"].startswith("application/json")
    assert set(response["Allow"].split(", ")) == {"GET", "POST"}
    assert response.json()["detail"].startswith("Method PUT not allowed on this path; allowed:")
    assert response.json()["field"] is None


def test_a_missing_token_is_a_json_401_on_the_documented_prefix(client):
    response = client.post("/v1/contacts/", {}, content_type="application/json")
    assert response.status_code == 401
    assert response.json()["field"] == "Authorization"


def test_pages_outside_the_api_keep_their_html_404(admin_client):
    response = admin_client.get("/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")
