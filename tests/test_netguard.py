"""Hosts a user typed are resolved once, refused when any address is internal, and pinned."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from outreach.core.netguard import (
    REFUSED,
    Destination,
    DestinationRefused,
    is_public_address,
    open_socket,
    resolve_destination,
)

from .network import PUBLIC_IP

INTERNAL = [
    "127.0.0.1",
    "127.8.9.10",
    "::1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.0.10",
    "100.64.0.1",  # carrier-grade NAT
    "169.254.169.254",  # cloud metadata
    "fe80::1",
    "fd00::1",  # unique local
    "0.0.0.0",
    "::",
    "224.0.0.1",  # multicast: is_global alone would let it through
    "ff0e::1",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.1",  # documentation
    "2001:db8::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
]


@pytest.mark.parametrize("address", INTERNAL)
def test_internal_addresses_are_not_public(address):
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", PUBLIC_IP, "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_globally_routable_unicast_addresses_are_public(address):
    assert is_public_address(address)


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "[::1]", "::1", "localhost", "169.254.169.254", "2130706433", "0x7f.1", "127.1"]
)
def test_in_production_a_host_that_is_or_resolves_to_loopback_is_refused(host, production_network):
    with pytest.raises(DestinationRefused) as refused:
        resolve_destination(host, 25)
    assert refused.value.message == REFUSED


def test_one_internal_address_among_public_ones_is_enough_to_refuse(production_network, fake_dns):
    fake_dns.answer("mixed.example", [PUBLIC_IP, "10.0.0.7"])
    with pytest.raises(DestinationRefused):
        resolve_destination("mixed.example", 587)


def test_the_address_returned_is_the_one_that_was_checked(production_network, fake_dns):
    fake_dns.answer("smtp.customer.example", PUBLIC_IP, "127.0.0.1")
    destination = resolve_destination("smtp.customer.example", 587)
    assert (destination.host, destination.port, destination.address) == ("smtp.customer.example", 587, PUBLIC_IP)
    assert fake_dns.lookups == ["smtp.customer.example"], "resolved exactly once"


def test_with_private_destinations_allowed_the_address_is_still_pinned(settings, fake_dns):
    settings.ALLOW_PRIVATE_NETWORK_DESTINATIONS = True
    fake_dns.answer("mail.dev.test", "127.0.0.1")
    assert resolve_destination("mail.dev.test", 1025).address == "127.0.0.1"


def test_open_socket_connects_to_the_checked_address_not_to_the_name(fake_dns, connection_log):
    # What a future per-mailbox IMAP connection uses: the name is not looked up again.
    fake_dns.answer("imap.customer.test", "10.9.9.9")
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        destination = Destination(host="imap.customer.test", port=port, address="127.0.0.1")
        with open_socket(destination, timeout=5) as sock:
            assert sock.getpeername() == ("127.0.0.1", port)
    assert connection_log.opened == [("127.0.0.1", port)]
    assert fake_dns.lookups == []


def test_a_name_that_does_not_resolve_raises_an_os_error_not_a_refusal(production_network):
    with pytest.raises(OSError):
        resolve_destination("nothing-here.invalid", 25)


def _setting_in_production(env: dict[str, str]) -> str:
    """ALLOW_PRIVATE_NETWORK_DESTINATIONS as a production process (no DEBUG, no pytest) reads it."""
    code = "import outreach.settings as s; print(s.PRODUCTION, s.ALLOW_PRIVATE_NETWORK_DESTINATIONS)"
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "ALLOW_PRIVATE_NETWORK_DESTINATIONS"}}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "SECRET_KEY": "x" * 50, **env},
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_private_destinations_are_refused_by_default_in_production():
    assert _setting_in_production({}) == "True False"


def test_the_old_webhook_setting_still_allows_private_destinations():
    assert _setting_in_production({"WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "1"}) == "True True"
    assert _setting_in_production({"ALLOW_PRIVATE_NETWORK_DESTINATIONS": "1"}) == "True True"
