"""/healthz, /readyz and /metrics: what a load balancer, an orchestrator and Prometheus read.
No login, no secrets in the health answers; metrics only with the token. (The real worker
stopping and coming back is in tests/faults/test_readiness.py.)"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from outreach.logs import JsonFormatter
from outreach.mail.models import OutboundMessage
from outreach.models import WorkerHeartbeat
from review.models import Draft
from tests.factories import ApprovedDraftFactory, DraftFactory

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests-0123456789"


def _beat(age_seconds: float = 1.0) -> WorkerHeartbeat:
    now = timezone.now()
    return WorkerHeartbeat.objects.create(
        cluster_id=f"c-{age_seconds}",
        host="worker-1",
        pid=4242,
        broker="orm",
        started_at=now - timedelta(hours=1),
        seen_at=now - timedelta(seconds=age_seconds),
    )


def _ready(client: Client) -> tuple[int, dict]:
    response = client.get("/readyz")
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def test_healthz_answers_without_login_and_says_nothing_else():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_is_ready_with_a_fresh_worker_heartbeat_and_nothing_waiting_long():
    _beat(2)
    status, body = _ready(Client())
    assert status == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "worker", "drafts", "sends", "webhooks"}
    assert body["checks"]["worker"]["clusters"] == 1
    assert body["checks"]["worker"]["heartbeat_age_seconds"] >= 2
    assert body["checks"]["broker"]["broker"] == "orm"


def test_readyz_is_unavailable_without_a_worker_and_with_a_stale_heartbeat(settings):
    status, body = _ready(Client())
    assert status == 503
    assert body["checks"]["worker"] == {
        "ok": False,
        "heartbeat_age_seconds": None,
        "clusters": 0,
        "max_age_seconds": 60,
    }
    _beat(settings.READY_WORKER_MAX_AGE_SECONDS + 5)
    status, body = _ready(Client())
    assert status == 503
    assert body["checks"]["worker"]["heartbeat_age_seconds"] > settings.READY_WORKER_MAX_AGE_SECONDS


def test_readyz_reports_the_oldest_waiting_draft_and_send_and_fails_past_the_limit(rep, settings):
    _beat()
    draft = DraftFactory(sender=rep, state=Draft.State.QUEUED)
    Draft.objects.filter(pk=draft.pk).update(updated_at=timezone.now() - timedelta(minutes=10))
    from review.services import outbound_message_from_draft

    message = outbound_message_from_draft(draft=ApprovedDraftFactory(sender=rep), approved_by=rep)
    OutboundMessage.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    status, body = _ready(Client())
    assert status == 200, body
    assert 600 <= body["checks"]["drafts"]["oldest_age_seconds"] < 660
    assert 300 <= body["checks"]["sends"]["oldest_age_seconds"] < 360
    assert body["checks"]["webhooks"]["oldest_age_seconds"] is None

    settings.READY_QUEUE_MAX_AGE_SECONDS = 400
    status, body = _ready(Client())
    assert status == 503
    assert body["checks"]["drafts"]["ok"] is False
    assert body["checks"]["sends"]["ok"] is True


def test_readyz_shows_no_secret_even_when_a_check_fails(settings, monkeypatch):
    """The broker's error text (which may hold a URL with a password) goes to the log only."""
    _beat()
    settings.Q_BROKER = "redis"
    monkeypatch.setattr("django_q.conf.Conf.ORM", None)
    monkeypatch.setattr("django_q.conf.Conf.REDIS", "redis://:hunter2-secret@127.0.0.1:1/0?socket_connect_timeout=1")
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == {"ok": False, "error": "ConnectionError"}
    assert b"hunter2" not in response.content
    assert b"127.0.0.1" not in response.content


def test_metrics_is_off_without_a_token_and_refuses_a_wrong_one(settings):
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 404
    settings.METRICS_TOKEN = TOKEN
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    # A logged-in admin is not enough either: Prometheus has no session.
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401


def test_metrics_count_drafts_sends_webhooks_tokens_and_ages(rep, settings):
    settings.METRICS_TOKEN = TOKEN
    _beat(3)
    DraftFactory.create_batch(2, sender=rep, state=Draft.State.READY, input_tokens=1000, output_tokens=200)
    DraftFactory(sender=rep, state=Draft.State.QUEUED)
    from review.services import outbound_message_from_draft

    outbound_message_from_draft(draft=ApprovedDraftFactory(sender=rep), approved_by=rep)
    Client().get("/healthz")  # a request for django-prometheus to count
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    text = response.content.decode()
    lines = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line[:1] not in "#"}
    ready = Draft.objects.filter(state=Draft.State.READY).count()
    assert lines['outreach_drafts{state="ready"}'] == ready
    assert lines['outreach_drafts{state="queued"}'] == 1
    assert lines['outreach_outbound_messages{code="",state="queued"}'] == 1
    assert lines['outreach_outbound_messages{code="",state="sent"}'] == 0
    assert lines['outreach_webhook_deliveries{status="failed"}'] == 0
    assert lines['outreach_llm_tokens_total{kind="input"}'] >= 2000
    assert 3 <= lines['outreach_age_seconds{of="worker_heartbeat"}'] < 60
    assert lines['outreach_age_seconds{of="oldest_waiting_webhook"}'] == -1
    assert lines['outreach_age_seconds{of="mailbox_sync_lag"}'] == -1
    assert any(name.startswith("django_http_requests_total_by_method_total") for name in lines)


def test_metrics_show_the_mailbox_sync_lag_of_the_least_recently_synced_mailbox(rep, other_rep, settings):
    from outreach.mail.models import MailboxConnection

    settings.METRICS_TOKEN = TOKEN
    now = timezone.now()
    MailboxConnection.objects.create(
        user=rep, email_address="rep1@team.example", last_synced_at=now - timedelta(seconds=30)
    )
    MailboxConnection.objects.create(
        user=other_rep, email_address="rep2@team.example", last_synced_at=now - timedelta(seconds=600)
    )
    MailboxConnection.objects.create(
        user=other_rep,
        email_address="old@team.example",
        is_default=False,
        state=MailboxConnection.State.DISCONNECTED,
        last_synced_at=now - timedelta(days=30),
    )
    text = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    lines = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line[:1] not in "#"}
    assert 600 <= lines['outreach_age_seconds{of="mailbox_sync_lag"}'] < 660  # the disconnected one does not count
    assert lines['outreach_mailboxes{state="connected"}'] == 2
    assert lines['outreach_mailboxes{state="disconnected"}'] == 1


def test_json_logs_are_one_object_per_line_with_the_traceback():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("outreach.test").makeRecord(
            "outreach.test", logging.ERROR, __file__, 1, "failed %s", ("x",), exc_info=__import__("sys").exc_info()
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["message"] == "failed x" and entry["logger"] == "outreach.test"
    assert "ValueError: boom" in entry["exception"]


def test_the_deployment_checklist_stays_clean_with_redis_metrics_and_json_logs():
    import os
    import subprocess
    import sys

    from tests.qcluster import BASE_DIR

    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "k" * 20 + "production-secret-for-the-deploy-check-7f3a9c",
        "ALLOWED_HOSTS": "outreach.example.com",
        "ANYMAIL_WEBHOOK_SECRET": "hook:5f0c7e9a2b",
        "REDIS_URL": "redis://redis.internal:6379/0",
        "METRICS_TOKEN": "a-long-random-metrics-token-0123456789abcdef",
        "LOG_FORMAT": "json",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_short_metrics_token_is_flagged_by_the_deployment_checklist(settings):
    from outreach.checks import metrics_token_strong

    settings.METRICS_TOKEN = "secret"
    assert [w.id for w in metrics_token_strong(None)] == ["outreach.W002"]
    settings.METRICS_TOKEN = TOKEN  # 34 characters
    assert metrics_token_strong(None) == []
