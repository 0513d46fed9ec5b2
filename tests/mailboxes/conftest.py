"""A rep's own mailbox for real: Dovecot serving IMAP and an aiosmtpd submission server that
requires AUTH, both on 127.0.0.1, started per test in a temporary directory."""

from __future__ import annotations

import shutil

import pytest
from django.db import transaction

from outreach.mail.services.mailboxes import mailbox_connect_imap
from review.services import outbound_message_from_draft
from tests.mail_servers import SmtpSubmission, dovecot_available, start_dovecot
from tests.sending.conftest import smtp_server  # noqa: F401 - the organization's provider, for comparison

REP_ADDRESS = "rep1@team.example"
REP_PASSWORD = "app-password-1"


@pytest.fixture
def dovecot():
    if not dovecot_available():
        pytest.fail("Dovecot is not installed: apt-get install dovecot-imapd (.ci/run does)")
    server = start_dovecot()
    yield server
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)


@pytest.fixture
def submission():
    server = SmtpSubmission({REP_ADDRESS: REP_PASSWORD})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def rep_account(dovecot):
    dovecot.add_user(REP_ADDRESS, REP_PASSWORD)
    return REP_ADDRESS


def connect_fields(dovecot, submission, **overrides) -> dict:
    fields = {
        "email_address": REP_ADDRESS,
        "imap_host": "127.0.0.1",
        "imap_port": dovecot.port,
        "imap_security": "none",
        "smtp_host": "127.0.0.1",
        "smtp_port": submission.port,
        "smtp_security": "none",
        "username": REP_ADDRESS,
        "password": REP_PASSWORD,
    }
    return {**fields, **overrides}


@pytest.fixture
def rep_mailbox(rep, dovecot, submission, rep_account):
    """The rep's mailbox, connected through the service as the My mailboxes page does."""
    return mailbox_connect_imap(user=rep, **connect_fields(dovecot, submission))


@pytest.fixture
def approve():
    def _approve(draft, approved_by=None):
        with transaction.atomic():
            return outbound_message_from_draft(draft=draft, approved_by=approved_by or draft.sender)

    return _approve
