"""A team member's own SMTP server is a host they typed: it may not be inside our network, and the
worker connects to exactly the address it checked, still verifying TLS against the host name."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from django.urls import reverse

from outreach.core.errors import ApplicationError
from outreach.core.netguard import REFUSED
from outreach.mail.admin import SenderConfigAdminForm
from outreach.mail.models import OutboundMessage, SenderConfig
from outreach.mail.services.channels import sender_config_update
from outreach.mail.services.sending import outbound_message_send
from tests.factories import ApprovedDraftFactory
from tests.network import PUBLIC_IP, make_tls

from .conftest import CapturingHandler, _free_port

pytestmark = pytest.mark.django_db

INTERNAL_SETTINGS = [
    ("127.0.0.1", 5432),  # the database
    ("169.254.169.254", 80),  # cloud metadata
    ("[::1]", 25),
    ("localhost", 25),  # a name that resolves to 127.0.0.1
    ("10.0.0.5", 587),
]


def _own_smtp(user, host: str, port: int, **fields) -> SenderConfig:
    """An SMTP configuration stored as it was when saved (the check at saving is not repeated)."""
    config = SenderConfig(user=user, kind=SenderConfig.Kind.SMTP, smtp_host=host, smtp_port=port, **fields)
    config.smtp_use_tls = fields.get("smtp_use_tls", False)
    config.save()
    return config


def _send(approve, rep) -> OutboundMessage:
    message = approve(ApprovedDraftFactory(sender=rep))
    outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    return message


# --- Saving -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("host", "port"), INTERNAL_SETTINGS)
def test_a_rep_cannot_point_their_smtp_settings_at_an_internal_address(host, port, rep, production_network):
    with pytest.raises(ApplicationError) as refused:
        sender_config_update(user=rep, kind="smtp", smtp_host=host, smtp_port=port, smtp_use_tls=False)
    assert REFUSED in refused.value.message
    assert not SenderConfig.objects.filter(user=rep).exists()


def test_the_settings_page_explains_the_refusal_and_saves_nothing(rep, rep_client, production_network):
    response = rep_client.post(
        reverse("sender_config"), {"kind": "smtp", "smtp_host": "169.254.169.254", "smtp_port": "80"}
    )
    assert response.status_code == 200
    assert REFUSED in response.content.decode()
    assert not SenderConfig.objects.filter(user=rep).exists()


@pytest.mark.parametrize(("host", "port"), INTERNAL_SETTINGS)
def test_the_admin_form_refuses_an_internal_smtp_host(host, port, rep, production_network):
    form = SenderConfigAdminForm(
        data={"user": rep.pk, "kind": "smtp", "smtp_host": host, "smtp_port": port, "is_active": "on"}
    )
    assert not form.is_valid()
    assert REFUSED in " ".join(form.errors["smtp_host"])


def test_a_public_smtp_host_is_saved_in_production(rep, production_network, fake_dns):
    fake_dns.answer("smtp.fastmail.example", PUBLIC_IP)
    config = sender_config_update(user=rep, kind="smtp", smtp_host="smtp.fastmail.example", smtp_port=465)
    assert config.smtp_host == "smtp.fastmail.example"


def test_a_host_that_does_not_resolve_yet_is_saved_and_checked_when_connecting(rep, production_network):
    config = sender_config_update(user=rep, kind="smtp", smtp_host="smtp.not-yet.invalid", smtp_port=587)
    assert config.pk


# --- Connecting ---------------------------------------------------------------------------------


def test_a_host_that_now_resolves_inside_is_refused_at_send_time_without_connecting(
    rep, approve, production_network, fake_dns, connection_log
):
    fake_dns.answer("smtp.rebound.example", "127.0.0.1")
    _own_smtp(rep, "smtp.rebound.example", 5432)
    message = _send(approve, rep)
    assert (message.state, message.error_message) == (OutboundMessage.State.FAILED, REFUSED)
    assert connection_log.opened == []


def test_the_worker_connects_only_to_the_address_it_checked_when_the_name_rebinds(
    rep, approve, smtp_server, production_network, fake_dns, connection_log
):
    # Checked: public. Asked again, the name would say 127.0.0.1, where our test server listens.
    fake_dns.answer("smtp.rebinding.example", PUBLIC_IP, "127.0.0.1")
    _own_smtp(rep, "smtp.rebinding.example", smtp_server.port)
    connection_log.opened.clear()
    message = _send(approve, rep)
    assert connection_log.opened == [(PUBLIC_IP, smtp_server.port)]
    assert fake_dns.lookups == ["smtp.rebinding.example"]
    assert smtp_server.received == []
    assert message.state == OutboundMessage.State.QUEUED  # connection refused: a transient error


def test_with_private_destinations_allowed_a_local_smtp_server_still_receives_the_mail(
    rep, approve, smtp_server, fake_dns, connection_log, settings
):
    settings.ALLOW_PRIVATE_NETWORK_DESTINATIONS = True
    fake_dns.answer("mail.dev.test", "127.0.0.1")
    _own_smtp(rep, "mail.dev.test", smtp_server.port)
    connection_log.opened.clear()
    message = _send(approve, rep)
    assert message.state == OutboundMessage.State.SENT, message.error_message
    assert len(smtp_server.received) == 1
    assert connection_log.opened == [("127.0.0.1", smtp_server.port)]


def test_a_reps_own_smtp_server_never_receives_the_organizations_credentials(rep, approve, settings):
    settings.EMAIL_HOST_USER = "org-relay"
    settings.EMAIL_HOST_PASSWORD = "org-relay-secret"
    attempts: list[tuple[str, object]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        attempts.append((mechanism, auth_data))
        return AuthResult(success=True)

    handler = CapturingHandler()
    controller = Controller(
        handler, hostname="127.0.0.1", port=_free_port(), authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    try:
        _own_smtp(rep, "127.0.0.1", controller.port)  # no username, no password of their own
        message = _send(approve, rep)
    finally:
        controller.stop()
    assert message.state == OutboundMessage.State.SENT, message.error_message
    assert attempts == []


# --- TLS to a pinned address --------------------------------------------------------------------


@pytest.fixture
def team_tls(tmp_path, monkeypatch, fake_dns):
    """A certificate for mail.team.test from a CA this process trusts; the name resolves to 127.0.0.1."""
    tls = make_tls(tmp_path, "mail.team.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_file))
    fake_dns.answer("mail.team.test", "127.0.0.1")
    return tls


def _tls_server(tls, *, implicit: bool) -> tuple[Controller, CapturingHandler]:
    handler = CapturingHandler()
    context = tls.server_context()
    kwargs = {"ssl_context": context} if implicit else {"tls_context": context, "require_starttls": True}
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port(), **kwargs)
    controller.start()
    return controller, handler


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit-tls"])
def test_tls_to_the_pinned_address_verifies_the_certificate_against_the_host_name(
    implicit, rep, approve, team_tls, connection_log
):
    controller, handler = _tls_server(team_tls, implicit=implicit)
    try:
        _own_smtp(rep, "mail.team.test", controller.port, smtp_use_tls=not implicit, smtp_use_ssl=implicit)
        connection_log.opened.clear()
        message = _send(approve, rep)
    finally:
        controller.stop()
    assert message.state == OutboundMessage.State.SENT, message.error_message
    assert len(handler.received) == 1
    assert connection_log.opened == [("127.0.0.1", controller.port)]
    assert team_tls.server_names == ["mail.team.test"]  # SNI: the name, not the address


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit-tls"])
def test_a_certificate_for_another_name_is_refused_at_the_pinned_address(
    implicit, rep, approve, team_tls, fake_dns, tmp_path
):
    fake_dns.answer("other.team.test", "127.0.0.1")
    controller, handler = _tls_server(team_tls, implicit=implicit)
    try:
        _own_smtp(rep, "other.team.test", controller.port, smtp_use_tls=not implicit, smtp_use_ssl=implicit)
        message = _send(approve, rep)
    finally:
        controller.stop()
    assert message.state != OutboundMessage.State.SENT
    assert "certificate verify failed" in message.error_message
    assert handler.received == []
