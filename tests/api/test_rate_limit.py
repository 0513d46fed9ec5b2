"""The API rate limit is a token bucket in the database: a burst of at most the limit, refilled
continuously, the same for every process, with a Retry-After that says when the next one fits."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from outreach.integrations.services.tokens import api_token_rate_limit_hit

from .conftest import ApiClient

pytestmark = pytest.mark.django_db

LIMIT = 120
PER_SECOND = LIMIT / 60


def _hammer(token, times: list[datetime]) -> list[datetime]:
    """Ask for one request at each of these moments; the moments that were allowed."""
    allowed = []
    with time_machine.travel(times[0], tick=False) as traveller:
        for moment in times:
            traveller.move_to(moment)
            if api_token_rate_limit_hit(token=token, limit=LIMIT) is None:
                allowed.append(moment)
    return allowed


def _most_in_any_span(allowed: list[datetime], seconds: float) -> int:
    most, first = 0, 0
    for last in range(len(allowed)):
        while (allowed[last] - allowed[first]).total_seconds() >= seconds:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_a_burst_across_the_old_minute_boundary_gets_no_second_burst(rep, token_for):
    token, _ = token_for(rep, "contacts:read")
    # 100 requests a second from 12:00:58 to 12:01:01: the old fixed window let 220 through.
    start = datetime(2030, 1, 1, 12, 0, 58, tzinfo=UTC)
    allowed = _hammer(token, [start + timedelta(milliseconds=10 * i) for i in range(300)])
    assert len(allowed) <= LIMIT + 3 * PER_SECOND
    after_boundary = [t for t in allowed if t >= datetime(2030, 1, 1, 12, 1, tzinfo=UTC)]
    assert len(after_boundary) <= 1 * PER_SECOND + 1, "only what refilled in that second"


def test_in_any_span_at_most_the_limit_plus_what_refilled_gets_through(rep, token_for):
    token, _ = token_for(rep, "contacts:read")
    rng = random.Random(12)
    moment = datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC)
    times = []
    for _ in range(3000):  # about three minutes of bursts and pauses, across three minute boundaries
        moment += timedelta(seconds=rng.choice([0.001, 0.01, 0.05, 0.2, 1.5]))
        times.append(moment)
    allowed = _hammer(token, times)
    for i, first in enumerate(allowed):
        for j in range(i, len(allowed)):
            span = (allowed[j] - first).total_seconds()
            assert j - i + 1 <= LIMIT + span * PER_SECOND + 1e-6, (first, allowed[j], j - i + 1)
    assert _most_in_any_span(allowed, 3) <= LIMIT + 3 * PER_SECOND


def test_the_bucket_refills_continuously_not_at_the_minute(rep, token_for):
    token, _ = token_for(rep, "contacts:read")
    start = datetime(2030, 1, 1, 12, 0, 10, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        assert [api_token_rate_limit_hit(token=token, limit=60) for _ in range(60)] == [None] * 60
        assert api_token_rate_limit_hit(token=token, limit=60) == 1
        traveller.shift(timedelta(seconds=1))  # one request's worth refilled
        assert api_token_rate_limit_hit(token=token, limit=60) is None
        assert api_token_rate_limit_hit(token=token, limit=60) == 1
        traveller.shift(timedelta(seconds=30))
        assert [api_token_rate_limit_hit(token=token, limit=60) for _ in range(31)] == [None] * 30 + [1]


def test_retry_after_says_when_the_next_request_fits(rep, token_for, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 3  # one request every 20 seconds, bursts of 3
    _, secret = token_for(rep, "contacts:read")
    client = ApiClient(secret)
    with time_machine.travel(datetime(2030, 1, 1, 12, 0, 50, tzinfo=UTC), tick=False) as traveller:
        assert [client.get("/v1/contacts/").status_code for _ in range(3)] == [200, 200, 200]
        refused = client.get("/v1/contacts/")
        assert (refused.status_code, refused["Retry-After"]) == (429, "20")
        assert refused.json() == {"detail": "Rate limit exceeded; try again in 20 seconds.", "field": None}
        traveller.shift(timedelta(seconds=15))  # across the minute: nothing special happens there
        assert client.get("/v1/contacts/")["Retry-After"] == "5"
        traveller.shift(timedelta(seconds=5))
        assert client.get("/v1/contacts/").status_code == 200
        assert client.get("/v1/contacts/")["Retry-After"] == "20"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_from_many_threads_never_exceed_the_limit(rep, token_for, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 50
    _, secret = token_for(rep, "contacts:read")
    barrier = threading.Barrier(6)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def client_thread():
        client = ApiClient(secret)
        try:
            barrier.wait()
            for _ in range(20):
                statuses.append(client.get("/v1/contacts/").status_code)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    # Time stands still: nothing refills, so exactly the bucket's 50 may pass.
    with time_machine.travel(datetime(2030, 1, 1, 12, 0, 59, tzinfo=UTC), tick=False):
        threads = [threading.Thread(target=client_thread) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert (statuses.count(200), statuses.count(429), len(statuses)) == (50, 70, 120)
