from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from .factories import UserFactory


def pytest_collection_modifyitems(config, items):
    """Tests about locking or SQL only PostgreSQL has skip, visibly, on SQLite."""
    if settings.IS_SQLITE:
        skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://... (CI does)")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def rep(db):
    return UserFactory(username="rep1", role="rep")


@pytest.fixture
def other_rep(db):
    return UserFactory(username="rep2", role="rep")


@pytest.fixture
def csm(db):
    return UserFactory(username="csm1", role="csm")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin1", role="admin")


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def rep_client(rep):
    return _client_for(rep)


@pytest.fixture
def csm_client(csm):
    return _client_for(csm)


@pytest.fixture
def admin_client_(admin_user):
    return _client_for(admin_user)


@pytest.fixture
def login_client():
    """login_client(user) -> a Django test client logged in as that user."""
    return _client_for
