"""Outbound connections to hosts a user typed: resolve once, refuse internal networks, connect there.

A host someone typed (their own SMTP server, a webhook subscriber URL, later their own IMAP server)
could point at our own network: the database port, the cloud metadata service, an admin page on
localhost. So the name is resolved once, every address it resolves to must be public, and the
caller connects to the checked address itself, never to the name again: a second lookup could
answer differently (DNS rebinding). TLS still verifies the certificate against the name.

    destination = resolve_destination(host, port)     # raises DestinationRefused, or OSError
    sock = open_socket(destination, timeout=10)        # a TCP connection to destination.address

ALLOW_PRIVATE_NETWORK_DESTINATIONS (development and tests, whose servers listen on 127.0.0.1) lifts
the refusal, not the pinning.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from django.conf import settings

from outreach.core.errors import ApplicationError

# All that is said about a refused destination: which internal address, or whether a port is open
# there, is exactly what a scan would want to learn.
REFUSED = "refused: the host resolves to a private/loopback address"

# NAT64 (RFC 6052) carries an IPv4 address in its last 32 bits; the gateway connects to that one.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationRefused(ApplicationError):
    """The host resolves to an address outbound connections may not go to."""

    def __init__(self) -> None:
        super().__init__(REFUSED)


@dataclass(frozen=True)
class Destination:
    host: str  # as typed (brackets removed): TLS verification, SNI and the Host header use it
    port: int
    address: str  # the checked address: the only one to connect to


def private_destinations_allowed() -> bool:
    return bool(settings.ALLOW_PRIVATE_NETWORK_DESTINATIONS)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), where the packets end up."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(address: str | IPAddress) -> bool:
    """True only for a globally routable unicast address (IPv4 or IPv6)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0]) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return is_public_address(embedded)
    # is_global alone lets multicast through (224.0.0.0/4 and ff0e::/16 count as global).
    return ip.is_global and not (
        ip.is_multicast or ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_unspecified
    )


def _bare(host: str) -> str:
    host = (host or "").strip()
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _addresses(host: str, port: int) -> list[str]:
    """Every address the name resolves to, in the order the system prefers; OSError when none."""
    if not host:
        raise socket.gaierror(socket.EAI_NONAME, "no host given")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError as exc:  # a label the IDNA codec refuses
        raise socket.gaierror(socket.EAI_NONAME, f"invalid host name: {exc}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, "the name has no address")
    return addresses


def resolve_destination(host: str, port: int) -> Destination:
    """Resolve the host once and return the address to connect to.

    Raises DestinationRefused when any address it resolves to is not public (one internal answer
    is enough: the system may pick it), OSError when it does not resolve.
    """
    host = _bare(host)
    addresses = _addresses(host, port)
    if not private_destinations_allowed() and not all(is_public_address(a) for a in addresses):
        raise DestinationRefused()
    return Destination(host=host, port=port, address=addresses[0])


def destination_refusal(host: str, port: int = 0) -> str | None:
    """Why a host may not be saved as a destination (REFUSED), or None.

    A name that does not resolve now is accepted: DNS may be down for a moment, and every
    connection checks again.
    """
    try:
        resolve_destination(host, port)
    except DestinationRefused as exc:
        return exc.message
    except OSError:
        return None
    return None


def open_socket(
    destination: Destination, *, timeout: float | None, source_address: tuple[str, int] | None = None
) -> socket.socket:
    """A TCP connection to the checked address (never to the name: no second lookup).

    For a client library that opens its own socket. A per-mailbox IMAP connection, for example:

        class PinnedIMAP4_SSL(imaplib.IMAP4_SSL):
            def __init__(self, destination, **kwargs):
                self._destination = destination
                super().__init__(destination.host, destination.port, **kwargs)

            def _create_socket(self, timeout):
                sock = open_socket(self._destination, timeout=timeout)
                return self.ssl_context.wrap_socket(sock, server_hostname=self.host)  # the name

    (outreach.mail.backends.PinnedSMTPBackend does the same for smtplib.)
    """
    return socket.create_connection((destination.address, destination.port), timeout, source_address)
