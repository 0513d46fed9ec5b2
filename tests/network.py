"""Fakes for what the network would answer, for tests of outbound connections to typed hosts.

FakeDns answers chosen names with chosen addresses (a list is answered in turn, its last entry
repeating: a name that rebinds); every other name goes to the real resolver. ConnectionLog
records every TCP connection opened through socket.create_connection and lets only loopback ones
through: a "public" address in a test is never really contacted. TlsFiles makes a throwaway CA
and a server certificate for a name, so TLS to a pinned address can be verified for real.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REAL_GETADDRINFO = socket.getaddrinfo
REAL_CREATE_CONNECTION = socket.create_connection
# Globally routable, and never contacted: ConnectionLog refuses every non-loopback connection.
PUBLIC_IP = "93.184.216.34"


@dataclass
class FakeDns:
    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)

    def answer(self, name: str, *rounds: str | list[str]) -> None:
        """answer("a.test", "1.2.3.4", "127.0.0.1"): the first lookup gets 1.2.3.4, later ones 127.0.0.1."""
        self.answers[name.lower()] = [[r] if isinstance(r, str) else list(r) for r in rounds]

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else str(host or "")
        rounds = self.answers.get(name.lower())
        if rounds is None:
            return REAL_GETADDRINFO(host, port, family, type, proto, flags)
        self.lookups.append(name)
        addresses = rounds.pop(0) if len(rounds) > 1 else rounds[0]
        result = []
        for address in addresses:
            if ipaddress.ip_address(address).version == 6:
                result.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port or 0, 0, 0)))
            else:
                result.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0)))
        return result


@dataclass
class ConnectionLog:
    opened: list[tuple[str, int]] = field(default_factory=list)

    def create_connection(self, address, *args, **kwargs):
        host, port = address[0], int(address[1])
        self.opened.append((host, port))
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:  # a name: resolved the ordinary way, through (possibly fake) DNS
            loopback = True
        if not loopback:
            raise ConnectionRefusedError(111, "Connection refused (test: no connections leave this machine)")
        return REAL_CREATE_CONNECTION(address, *args, **kwargs)


@dataclass
class TlsFiles:
    ca_file: Path
    cert_file: Path
    key_file: Path
    server_names: list[str] = field(default_factory=list)  # SNI names servers were asked for

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)

        def remember(sock, name, ctx):
            if name:  # aiosmtpd's own readiness probe sends none
                self.server_names.append(name)

        context.sni_callback = remember
        return context


def make_tls(directory: Path, name: str) -> TlsFiles:
    """A CA (trusted through SSL_CERT_FILE by the test) and a certificate for `name` signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Outreach test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(directory / "ca.pem", directory / f"{name}.pem", directory / f"{name}.key")
    files.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return files
