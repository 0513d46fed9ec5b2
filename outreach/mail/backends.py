"""Email backends of our own.

ResendEmailBackend is anymail's Resend backend plus Resend's `Idempotency-Key` request header
(Resend deduplicates requests with the same key for 24 hours), taken from the message's
`idempotency_key` attribute. `EMAIL_BACKEND=anymail.backends.resend.EmailBackend` is swapped for
this one by the sender, so a send retried after a crash cannot become a second email.

PinnedSMTPBackend is Django's SMTP backend for a server a team member typed in (their own
mailbox): at each connection the host is resolved once and checked (outreach.core.netguard), and
the TCP connection goes to that checked address. smtplib keeps the host name it was given, so
STARTTLS and implicit TLS verify the certificate against the name and send it as SNI. Given an
`access_token` source instead of a password, it logs in with SASL XOAUTH2.
"""

from __future__ import annotations

import functools
import smtplib

from anymail.backends.resend import EmailBackend as AnymailResendBackend
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend

from outreach.core.netguard import Destination, resolve_destination
from outreach.mail.imap import TokenSource, xoauth2_string


class ResendEmailBackend(AnymailResendBackend):
    def build_message_payload(self, message, defaults):
        payload = super().build_message_payload(message, defaults)
        key = getattr(message, "idempotency_key", None)
        if key:
            payload.headers["Idempotency-Key"] = str(key)
        return payload


class _PinnedSocket:
    """Opens the TCP connection to the checked address instead of looking the name up again."""

    def __init__(self, *args, destination: Destination, **kwargs) -> None:
        self._destination = destination
        super().__init__(*args, **kwargs)

    def _get_socket(self, host, port, timeout):
        # SMTP_SSL's _get_socket wraps what this returns with server_hostname=self._host (the name).
        return super()._get_socket(self._destination.address, self._destination.port, timeout)  # type: ignore[misc]


class PinnedSMTP(_PinnedSocket, smtplib.SMTP):
    pass


class PinnedSMTP_SSL(_PinnedSocket, smtplib.SMTP_SSL):  # noqa: N801 - smtplib's spelling
    pass


class PinnedSMTPBackend(SMTPBackend):
    """Refuses hosts that resolve inside our networks (DestinationRefused), then connects to the
    address it checked."""

    _destination: Destination | None = None

    def __init__(self, *args, access_token: TokenSource | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.access_token = access_token

    def open(self):
        if self.connection:
            return False
        # Resolved at every new connection: the answer may have changed since the host was saved.
        self._destination = resolve_destination(self.host, int(self.port))
        self.host = self._destination.host  # "[::1]" → "::1", the form TLS compares with
        opened = super().open()
        if opened and self.access_token is not None:
            try:
                self._xoauth2(self.access_token)
            except BaseException:
                self.close()
                raise
        return opened

    def _xoauth2(self, access_token: TokenSource) -> None:
        assert self.connection is not None
        self.connection.ehlo_or_helo_if_needed()
        token = access_token(None)
        try:
            self._authenticate(token)
        except smtplib.SMTPAuthenticationError:
            # Refused before its time (revoked at the provider, say): one refresh, one more try.
            self._authenticate(access_token(token))

    def _authenticate(self, token: str) -> None:
        answer = xoauth2_string(self.username, token)
        # A refusal comes as a 334 challenge carrying the error; the empty reply ends it with 535.
        assert self.connection is not None
        self.connection.auth("XOAUTH2", lambda challenge=None: answer if challenge is None else "")

    @property
    def connection_class(self):
        cls = PinnedSMTP_SSL if self.use_ssl else PinnedSMTP
        return functools.partial(cls, destination=self._destination)
