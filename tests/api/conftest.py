from __future__ import annotations

import pytest
from django.test import Client

from outreach.api_tokens import api_token_create
from outreach.models import ApiToken

ALL_SCOPES = list(ApiToken.Scope.values)


class ApiClient(Client):
    """A test client that sends a bearer token and JSON bodies."""

    def __init__(self, secret: str, **kwargs):
        super().__init__(headers={"Authorization": f"Bearer {secret}"}, **kwargs)

    def post_json(self, path, data=None, **kwargs):
        return self.post(path, data, content_type="application/json", **kwargs)

    def patch_json(self, path, data=None, **kwargs):
        return self.patch(path, data, content_type="application/json", **kwargs)

    def delete_json(self, path, data=None, **kwargs):
        return self.delete(path, data, content_type="application/json", **kwargs)


@pytest.fixture
def token_for():
    """token_for(user, *scopes) -> (ApiToken, secret); all scopes when none are named."""

    def make(user, *scopes):
        created = api_token_create(user=user, name="test", scopes=list(scopes) or ALL_SCOPES)
        return created.token, created.secret

    return make


@pytest.fixture
def api_client_for(token_for):
    """api_client_for(user, *scopes) -> an ApiClient acting as that user with those scopes."""

    def make(user, *scopes):
        _, secret = token_for(user, *scopes)
        return ApiClient(secret)

    return make
