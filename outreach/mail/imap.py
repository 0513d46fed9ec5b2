"""IMAP to a mailbox a team member connected: imapclient, with the host checked and pinned.

The host is one the person typed, so at every connection it is resolved once and checked
(outreach.core.netguard) and the TCP connection goes to the checked address; TLS still verifies the
certificate against the name. Thin transport: what to read and what it means lives in
`outreach.mail.services.mailbox_sync`.
"""

from __future__ import annotations

import contextlib
import imaplib
import socket
import ssl
from collections.abc import Callable

from django.conf import settings
from imapclient import IMAPClient, imap4, tls
from imapclient.exceptions import LoginError

from outreach.core.netguard import Destination, open_socket, resolve_destination

__all__ = [
    "AuthorizationRefused",
    "AuthorizationUnavailable",
    "LoginError",
    "PinnedIMAPClient",
    "TokenSource",
    "imap_open",
    "xoauth2_string",
]

# Gives a usable OAuth 2.0 access token; given the token a server just refused, a refreshed one.
TokenSource = Callable[[str | None], str]


def xoauth2_string(user: str, access_token: str) -> str:
    """The SASL XOAUTH2 initial response (before base64), as Google and Microsoft document it
    (imapclient's oauth2_login builds the same for IMAP)."""
    return f"user={user}\x01auth=Bearer {access_token}\x01\x01"


class AuthorizationRefused(LoginError):
    """The OAuth grant behind an XOAUTH2 login is refused (revoked, expired): as a refused password,
    a person must connect the mailbox again."""


class AuthorizationUnavailable(ConnectionError):
    """No access token could be had just now (the token endpoint did not answer): as a server that
    cannot be reached, try again later."""


class _PinnedPlain(imap4.IMAP4WithTimeout):
    def __init__(self, destination: Destination, timeout: float | None) -> None:
        self._destination = destination
        super().__init__(destination.host, destination.port, timeout)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        return open_socket(self._destination, timeout=timeout if timeout is not None else self._timeout)


class _PinnedTLS(tls.IMAP4_TLS):
    def __init__(self, destination: Destination, ssl_context: ssl.SSLContext | None, timeout: float | None) -> None:
        self._destination = destination
        super().__init__(destination.host, destination.port, ssl_context, timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = open_socket(self._destination, timeout=timeout)
        return tls.wrap_socket(sock, self.ssl_context, self.host)  # verified against the name


class PinnedIMAPClient(IMAPClient):
    """IMAPClient that connects to an address resolve_destination() checked."""

    def __init__(self, destination: Destination, *, use_ssl: bool, timeout: float) -> None:
        self._destination = destination
        super().__init__(destination.host, port=destination.port, ssl=use_ssl, timeout=timeout)

    def _create_IMAP4(self):  # noqa: N802 - imapclient's spelling
        connect_timeout = getattr(self._timeout, "connect", None)
        if self.ssl:
            return _PinnedTLS(self._destination, self.ssl_context, connect_timeout)
        return _PinnedPlain(self._destination, connect_timeout)


def imap_open(
    *, host: str, port: int, security: str, username: str, password: str = "", access_token: TokenSource | None = None
) -> PinnedIMAPClient:
    """A logged-in client: with the password, or with an OAuth 2.0 access token (AUTHENTICATE
    XOAUTH2) when `access_token` is given. Raises DestinationRefused, OSError, imaplib errors, or
    LoginError."""
    destination = resolve_destination(host, int(port))
    client = PinnedIMAPClient(destination, use_ssl=security == "ssl", timeout=settings.MAILBOX_IMAP_TIMEOUT)
    try:
        if security == "starttls":
            client.starttls(ssl.create_default_context())
        if access_token is None:
            client.login(username, password)
        else:
            token = access_token(None)
            try:
                client.oauth2_login(username, token)
            except LoginError:
                # Refused before its time (revoked at the provider, say): one refresh, one more try.
                client.oauth2_login(username, access_token(token))
    except Exception:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            client.shutdown()
        raise
    return client
