"""The sender-configuration page and the local mailbox, as users see them."""

from __future__ import annotations

import pytest
from django.core.mail import EmailMultiAlternatives, get_connection
from django.urls import reverse

from outreach.mail.models import LocalMailboxMessage, OutboundMessage, SenderConfig
from outreach.mail.services.sending import outbound_message_send
from tests.factories import ApprovedDraftFactory

pytestmark = pytest.mark.django_db

SMTP_FORM = {
    "kind": "smtp",
    "smtp_host": "smtp.fastmail.example",
    "smtp_port": "465",
    "smtp_username": "rita@team.example",
    "smtp_password": "s3cret-app-password",
    "smtp_use_ssl": "on",
}


def test_a_rep_saves_their_own_smtp_mailbox_and_the_password_is_stored_encrypted(rep, rep_client):
    response = rep_client.post(reverse("sender_config"), SMTP_FORM)
    assert response.status_code == 302
    config = SenderConfig.objects.get(user=rep)
    assert (config.kind, config.smtp_host, config.smtp_port, config.smtp_use_ssl) == (
        "smtp",
        "smtp.fastmail.example",
        465,
        True,
    )
    assert "s3cret" not in config.smtp_password_encrypted
    assert config.get_smtp_password() == "s3cret-app-password"


def test_the_stored_password_is_never_shown_again(rep_client):
    rep_client.post(reverse("sender_config"), SMTP_FORM)
    page = rep_client.get(reverse("sender_config")).content.decode()
    assert "s3cret-app-password" not in page
    assert "stored (encrypted)" in page


def test_saving_without_a_password_keeps_the_stored_one(rep, rep_client):
    rep_client.post(reverse("sender_config"), SMTP_FORM)
    rep_client.post(reverse("sender_config"), {**SMTP_FORM, "smtp_password": "", "smtp_port": "587"})
    config = SenderConfig.objects.get(user=rep)
    assert (config.smtp_port, config.get_smtp_password()) == (587, "s3cret-app-password")


def test_an_smtp_configuration_needs_a_host(rep, rep_client):
    response = rep_client.post(reverse("sender_config"), {**SMTP_FORM, "smtp_host": ""})
    assert response.status_code == 200
    assert "needs a host" in response.content.decode()
    assert not SenderConfig.objects.filter(user=rep).exists()


def test_the_secret_survives_with_a_dedicated_encryption_key(rep, settings):
    from cryptography.fernet import Fernet

    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    config = SenderConfig(user=rep, kind="smtp", smtp_host="h")
    config.set_smtp_password("pw")
    config.save()
    settings.SECRET_KEY = "rotated"
    assert SenderConfig.objects.get(pk=config.pk).get_smtp_password() == "pw"


def _local_send(from_email: str, subject: str) -> None:
    connection = get_connection("outreach.mail.local_mailbox.LocalMailboxBackend")
    EmailMultiAlternatives(subject, "Hello", from_email, ["someone@customer.example"], connection=connection).send()


def test_an_approved_draft_arrives_in_the_local_mailbox_from_the_reps_name(rep, rep_client, approve, settings):
    settings.EMAIL_BACKEND = "outreach.mail.local_mailbox.LocalMailboxBackend"
    rep.sender.display_name = "Rita Ramos"
    rep.sender.save()
    message = approve(ApprovedDraftFactory(sender=rep, bcc=["crm@team.example"]))
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == OutboundMessage.State.SENT
    mail = LocalMailboxMessage.objects.get()
    assert (mail.from_email, mail.message_id, mail.bcc) == (
        "Rita Ramos <rep1@team.example>",
        message.message_id,
        ["crm@team.example"],
    )
    assert "Bcc" not in mail.headers
    page = rep_client.get(reverse("mailbox_detail", args=[mail.pk])).content.decode()
    assert "Rita Ramos" in page and message.subject in page and "Unsubscribe" in page


def test_a_rep_sees_only_the_mail_sent_from_their_address(rep, other_rep, rep_client):
    _local_send("Rep One <rep1@team.example>", "Mine")
    _local_send("Rep Two <rep2@team.example>", "Theirs")
    page = rep_client.get(reverse("mailbox")).content.decode()
    assert "Mine" in page and "Theirs" not in page
    theirs = LocalMailboxMessage.objects.get(subject="Theirs")
    assert rep_client.get(reverse("mailbox_detail", args=[theirs.pk])).status_code == 404


def test_an_admin_sees_every_mail(admin_client_, rep, other_rep, django_assert_max_num_queries):
    for n in range(5):
        _local_send("Rep One <rep1@team.example>", f"Mail {n}")
    _local_send("Rep Two <rep2@team.example>", "Theirs")
    with django_assert_max_num_queries(8):
        page = admin_client_.get(reverse("mailbox")).content.decode()
    assert "Mail 4" in page and "Theirs" in page


def test_the_mailbox_needs_a_login(client):
    response = client.get(reverse("mailbox"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_an_admin_marks_an_unknown_message_sent_from_the_admin_list(admin_client_, approve):
    message = approve(ApprovedDraftFactory())
    OutboundMessage.objects.filter(pk=message.pk).update(state="unknown")
    response = admin_client_.post(
        reverse("admin:outreach_outboundmessage_changelist"),
        {"action": "resolve_mark_sent", "_selected_action": [message.pk]},
    )
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.state == "sent"
    assert admin_client_.get(reverse("admin:outreach_outboundmessage_change", args=[message.pk])).status_code == 200


def test_the_admin_never_shows_a_stored_smtp_password(admin_client_, rep):
    config = SenderConfig(user=rep, kind="smtp", smtp_host="h")
    config.set_smtp_password("hunter2-secret")
    config.save()
    page = admin_client_.get(reverse("admin:outreach_senderconfig_change", args=[config.pk])).content.decode()
    assert "hunter2-secret" not in page and config.smtp_password_encrypted not in page
