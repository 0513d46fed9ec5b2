"""Email backends of our own.

ResendEmailBackend is anymail's Resend backend plus Resend's `Idempotency-Key` request header
(Resend deduplicates requests with the same key for 24 hours), taken from the message's
`idempotency_key` attribute. `EMAIL_BACKEND=anymail.backends.resend.EmailBackend` is swapped for
this one by the sender, so a send retried after a crash cannot become a second email.

PinnedSMTPBackend is Django's SMTP backend for a server a team member typed in (their own
mailbox): at each connection the host is resolved once and checked (outreach.core.netguard), and
the TCP connection goes to that checked address. smtplib keeps the host name it was given, so
STARTTLS and implicit TLS verify the certificate against the name and send it as SNI.
"""

from __future__ import annotations

import functools
import smtplib

from anymail.backends.resend import EmailBackend as AnymailResendBackend
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend

from outreach.core.netguard import Destination, resolve_destination


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

    def open(self):
        if self.connection:
            return False
        # Resolved at every new connection: the answer may have changed since the host was saved.
        self._destination = resolve_destination(self.host, int(self.port))
        self.host = self._destination.host  # "[::1]" → "::1", the form TLS compares with
        return super().open()

    @property
    def connection_class(self):
        cls = PinnedSMTP_SSL if self.use_ssl else PinnedSMTP
        return functools.partial(cls, destination=self._destination)
