"""Connecting one's own IMAP/SMTP mailbox: checked before it is saved, password encrypted and never
shown again, test email, disconnect, and who sees which mailbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from outreach.core.errors import ApplicationError
from outreach.mail.models import MailboxConnection
from outreach.mail.selectors import mailboxes_visible_to
from outreach.mail.services.mailboxes import mailbox_connect_imap, mailbox_disconnect, mailbox_send_test
from tests.factories import UserFactory

from .conftest import REP_PASSWORD, connect_fields

pytestmark = pytest.mark.django_db


def test_a_connected_mailbox_keeps_its_password_encrypted_and_finds_its_sent_folder(rep_mailbox, dovecot):
    mailbox = MailboxConnection.objects.get(pk=rep_mailbox.pk)
    assert mailbox.state == MailboxConnection.State.CONNECTED
    assert REP_PASSWORD not in mailbox.secret_encrypted
    assert mailbox.get_secret() == REP_PASSWORD
    assert mailbox.sent_folder == "Sent"
    assert mailbox.is_default


def test_reading_starts_with_what_arrives_after_connecting(rep, dovecot, submission, rep_account):
    dovecot.append(rep_account, "From: old@customer.example\r\nSubject: before\r\n\r\nold\r\n")
    mailbox = mailbox_connect_imap(user=rep, **connect_fields(dovecot, submission))
    assert mailbox.sync_uidvalidity == dovecot.uidvalidity(rep_account)
    assert mailbox.sync_uidnext == 2  # the one message already there is not read


def test_a_wrong_password_is_refused_and_nothing_is_saved(rep, dovecot, submission, rep_account):
    with pytest.raises(ApplicationError, match="refused the username or password"):
        mailbox_connect_imap(user=rep, **connect_fields(dovecot, submission, password="wrong"))
    assert not MailboxConnection.objects.exists()


def test_a_host_inside_our_network_is_refused_before_any_connection(
    rep, dovecot, submission, rep_account, production_network, connection_log
):
    with pytest.raises(ApplicationError, match="private/loopback"):
        mailbox_connect_imap(user=rep, **connect_fields(dovecot, submission))
    assert connection_log.opened == []
    assert not MailboxConnection.objects.exists()


def test_the_test_email_goes_out_through_the_mailbox_with_its_login(rep, rep_mailbox, submission):
    mailbox_send_test(mailbox=rep_mailbox, user=rep)
    [received] = submission.received
    assert received.login == rep_mailbox.username
    assert received.rcpt_tos == [rep_mailbox.email_address]
    assert received.message["Auto-Submitted"] == "auto-generated"


def test_disconnecting_deletes_the_password_and_keeps_the_row(rep, rep_mailbox):
    mailbox_disconnect(mailbox=rep_mailbox, user=rep)
    rep_mailbox.refresh_from_db()
    assert rep_mailbox.state == MailboxConnection.State.DISCONNECTED
    assert rep_mailbox.secret_encrypted == ""
    assert not rep_mailbox.is_default


def test_a_rep_sees_only_their_own_mailboxes_and_csms_and_admins_see_all(rep, other_rep, csm, admin_user):
    own = MailboxConnection.objects.create(user=rep, email_address="rep1@team.example")
    theirs = MailboxConnection.objects.create(user=other_rep, email_address="rep2@team.example")
    assert list(mailboxes_visible_to(rep)) == [own]
    assert set(mailboxes_visible_to(csm)) == {own, theirs}
    assert set(mailboxes_visible_to(admin_user)) == {own, theirs}


# --- Pages ------------------------------------------------------------------------------------


def test_my_mailboxes_connects_a_mailbox_and_never_shows_the_password(rep_client, dovecot, submission, rep_account):
    response = rep_client.post("/settings/mailboxes/", connect_fields(dovecot, submission))
    assert response.status_code == 302
    page = rep_client.get("/settings/mailboxes/").content.decode()
    assert "rep1@team.example" in page
    assert "Connected" in page
    assert REP_PASSWORD not in page
    assert "stored (encrypted)" in page


def test_my_mailboxes_shows_why_a_connection_failed(rep_client, dovecot, submission, rep_account):
    response = rep_client.post("/settings/mailboxes/", connect_fields(dovecot, submission, password="nope"))
    assert response.status_code == 200
    assert "refused the username or password" in response.content.decode()
    assert not MailboxConnection.objects.exists()


def test_a_rep_cannot_test_or_disconnect_someone_elses_mailbox(rep_client, other_rep):
    theirs = MailboxConnection.objects.create(user=other_rep, email_address="rep2@team.example")
    assert rep_client.post(f"/settings/mailboxes/{theirs.pk}/test/").status_code == 404
    assert rep_client.post(f"/settings/mailboxes/{theirs.pk}/disconnect/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == MailboxConnection.State.CONNECTED


def test_the_mailbox_list_is_for_csms_and_admins(
    rep_client, admin_client_, rep, other_rep, django_assert_max_num_queries
):
    MailboxConnection.objects.create(user=rep, email_address="rep1@team.example")
    MailboxConnection.objects.create(
        user=other_rep, email_address="rep2@team.example", state="needs_reauth", state_reason="Password changed"
    )
    for n in range(3):
        MailboxConnection.objects.create(user=UserFactory(role="rep"), email_address=f"more{n}@team.example")
    assert rep_client.get("/mailboxes/").status_code == 403
    with django_assert_max_num_queries(8):
        page = admin_client_.get("/mailboxes/").content.decode()
    assert "rep2@team.example" in page
    assert "Needs re-authorization" in page
    assert "Password changed" in page


def test_a_broken_mailbox_shows_a_banner_to_its_owner(rep_client, rep):
    MailboxConnection.objects.create(
        user=rep, email_address="rep1@team.example", state="needs_reauth", state_reason="The server refused it"
    )
    page = rep_client.get("/review/").content.decode()
    assert 'id="mailbox-banner"' in page
    assert "The server refused it" in page


def test_no_banner_while_the_mailbox_works(rep_client, rep):
    MailboxConnection.objects.create(user=rep, email_address="rep1@team.example")
    assert 'id="mailbox-banner"' not in rep_client.get("/review/").content.decode()


def test_reconnect_fills_in_the_form_with_the_mailboxs_settings_but_never_the_password(rep_client, rep, other_rep):
    settings_ = {
        "imap_host": "imap.team.example",
        "imap_port": 143,
        "imap_security": "starttls",
        "smtp_host": "smtp.team.example",
        "smtp_port": 465,
        "smtp_security": "ssl",
        "username": "rep1",
    }
    mine = MailboxConnection.objects.create(
        user=rep, email_address="rep1@team.example", state="needs_reauth", state_reason="Password changed", **settings_
    )
    mine.set_secret("old-password")
    mine.save()
    theirs = MailboxConnection.objects.create(user=other_rep, email_address="rep2@team.example", **settings_)

    page = rep_client.get("/settings/mailboxes/").content.decode()
    assert f'href="?reconnect={mine.pk}#connect-imap"' in page

    response = rep_client.get(f"/settings/mailboxes/?reconnect={mine.pk}")
    form = response.context["form"]
    assert {name: form[name].value() for name in settings_} == settings_
    assert form["email_address"].value() == "rep1@team.example"
    assert "old-password" not in response.content.decode()
    # Someone else's mailbox, or a made-up id, fills in nothing.
    for other in (theirs.pk, "99999999", "١٢"):
        assert rep_client.get(f"/settings/mailboxes/?reconnect={other}").context["form"]["imap_host"].value() is None


def test_last_sync_reads_as_a_person_would_say_it(rep_client, rep):
    mailbox = MailboxConnection.objects.create(user=rep, email_address="rep1@team.example")
    synced = timezone.now()
    MailboxConnection.objects.filter(pk=mailbox.pk).update(last_synced_at=synced)

    with time_machine.travel(synced, tick=False):
        assert "Last sync</dt><dd>now</dd>" in rep_client.get("/settings/mailboxes/").content.decode()
    with time_machine.travel(synced + timedelta(minutes=2), tick=False):
        page = rep_client.get("/settings/mailboxes/").content.decode().replace("\xa0", " ")
    assert "Last sync</dt><dd>2 minutes ago</dd>" in page
