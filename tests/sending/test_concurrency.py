"""Two workers racing over the same rows send each email once (PostgreSQL row locks)."""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.db import connection

from outreach.mail.models import OutboundMessage
from outreach.mail.services.sending import outbound_message_send
from tests.factories import ApprovedDraftFactory


@pytest.mark.broker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_the_same_rows_send_each_once(approve, mailoutbox, rep):
    rep.sender.daily_send_limit = 1000
    rep.sender.save()
    ids = [approve(ApprovedDraftFactory(sender=rep)).pk for _ in range(20)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker(order):
        try:
            barrier.wait()
            for pk in order:
                outbound_message_send(message_id=pk)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(ids,)), threading.Thread(target=worker, args=(ids[::-1],))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    sent_ids = [m.extra_headers["Message-ID"] for m in mail.outbox]
    assert len(sent_ids) == len(set(sent_ids)) == 20
    assert set(OutboundMessage.objects.values_list("state", flat=True)) == {"sent"}
    assert all(m.attempts == 1 for m in OutboundMessage.objects.all())


@pytest.mark.broker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_daily_limit_holds_across_two_workers(approve, mailoutbox, rep):
    rep.sender.daily_send_limit = 5
    rep.sender.save()
    ids = [approve(ApprovedDraftFactory(sender=rep)).pk for _ in range(12)]
    barrier = threading.Barrier(2)

    def worker(order):
        barrier.wait()
        for pk in order:
            outbound_message_send(message_id=pk)
        connection.close()

    threads = [threading.Thread(target=worker, args=(ids[0::2],)), threading.Thread(target=worker, args=(ids[1::2],))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert OutboundMessage.objects.filter(state="sent").count() == 5
    assert OutboundMessage.objects.filter(state="queued", code="daily_limit_reached").count() == 7
    assert len(mail.outbox) == 5
