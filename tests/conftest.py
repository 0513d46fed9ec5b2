from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client, override_settings

from .anthropic_stub import AnthropicStub

# The run's django-q2 broker (TEST_BROKER), the `broker` mark's check, a stoppable Redis.
from .broker import _broker_for_the_run, _broker_queue_per_test, stoppable_redis  # noqa: F401
from .database import django_db_setup  # noqa: F401 (one migrated template per run, copied per worker)
from .factories import UserFactory
from .network import ConnectionLog, FakeDns


def pytest_collection_modifyitems(config, items):
    """Randomized tests are marked `property` (so `make test-fast` can leave them out); tests about
    locking or SQL only PostgreSQL has skip, visibly, on SQLite; the order is _spread_out's."""
    for item in items:
        randomized = (
            getattr(getattr(item, "obj", None), "is_hypothesis_test", False)
            or item.path.name.endswith("_fuzz.py")
            or item.path.parent.name == "properties"
        )
        if randomized:
            item.add_marker(pytest.mark.property)
    if settings.IS_SQLITE:
        skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://... (CI does)")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)
    items[:] = _spread_out(items)


def _spread_out(items: list) -> list:
    """The order pytest-xdist hands tests out in (one at a time: --maxschedchunk=1). The tests that
    mostly wait (on worker and server processes first, then on Chromium) are spread evenly over the
    first four fifths of the run's estimated time, so that about one worker at a time waits while
    the others keep both cores busy; the long ones (`property`, `slow`) start first, so that no long
    test ends the run alone. Otherwise the collection order is kept, module by module."""

    def waits(item) -> int:
        return 0 if item.get_closest_marker("processes") else 1 if item.get_closest_marker("browser") else 2

    def seconds(item) -> float:
        """A rough cost estimate from the CI machine's durations: only where tests fall matters."""
        return 15.0 if item.get_closest_marker("slow") else 2.0 if item.get_closest_marker("property") else 0.3

    waiting = sorted((i for i in items if waits(i) < 2), key=waits)
    rest = sorted((i for i in items if waits(i) == 2), key=lambda i: seconds(i) == 0.3)
    if not waiting:
        return rest
    gap = sum(map(seconds, rest)) * 4 / 5 / len(waiting)
    out, elapsed, due = [], 0.0, 0.0
    pending = iter(waiting)
    for item in rest:
        while elapsed >= due and (next_waiting := next(pending, None)) is not None:
            out.append(next_waiting)
            due += gap
        out.append(item)
        elapsed += seconds(item)
    return out + list(pending)


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    """Test users' passwords are hashed with MD5: the production hasher (PBKDF2, a million
    iterations, ~0.35 s a password on the CI machine) made creating users the largest single cost of
    the suite. Logging in still checks the password; nothing here tests the hasher's strength."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _no_undo_hold(settings):
    """Most tests send right after approving; the undo hold (APPROVE_UNDO_SECONDS) has its own tests,
    which turn it back on with the `undo_hold` fixture."""
    settings.APPROVE_UNDO_SECONDS = 0


@pytest.fixture
def undo_hold(settings):
    settings.APPROVE_UNDO_SECONDS = 10
    return 10


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


@pytest.fixture
def anthropic_stub():
    """A local Anthropic Messages API over real HTTP; the real SDK talks to it via base_url."""
    with AnthropicStub() as stub:
        yield stub


@pytest.fixture
def anthropic_settings(settings, anthropic_stub):
    """Point the configured drafting provider at the local stub."""
    settings.DRAFTING_PROVIDER = "anthropic"
    settings.ANTHROPIC_API_KEY = "test-key"
    settings.ANTHROPIC_BASE_URL = anthropic_stub.url
    settings.ANTHROPIC_TIMEOUT_SECONDS = 2
    return anthropic_stub


# --- Outbound connections to typed hosts ------------------------------------------------------


@pytest.fixture
def fake_dns(monkeypatch):
    """fake_dns.answer(name, *addresses): what the resolver says for that name (in turn)."""
    dns = FakeDns()
    monkeypatch.setattr("socket.getaddrinfo", dns.getaddrinfo)
    return dns


@pytest.fixture
def connection_log(monkeypatch):
    """Every TCP connection opened (host, port); only loopback ones really connect."""
    log = ConnectionLog()
    monkeypatch.setattr("socket.create_connection", log.create_connection)
    return log


@pytest.fixture
def production_network(settings):
    """As in production: hosts that resolve to loopback, private or link-local addresses are refused."""
    settings.ALLOW_PRIVATE_NETWORK_DESTINATIONS = False
