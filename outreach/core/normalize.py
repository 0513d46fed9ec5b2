"""Canonical forms of addresses and domains, so lookups and uniqueness never depend on case."""

from __future__ import annotations


def normalize_email(value: str) -> str:
    """Trim and lower-case the whole address.

    The local part is case-sensitive in theory, but no mainstream mailbox treats it so, and
    treating `Ann@x.com` and `ann@x.com` as two people would defeat suppression.
    """
    value = (value or "").strip().strip("<>").strip()
    local, at, domain = value.rpartition("@")
    if not at:
        return value.lower()
    return f"{local.lower()}@{normalize_domain(domain)}"


def normalize_domain(value: str) -> str:
    value = (value or "").strip().lower().rstrip(".")
    if value.startswith("@"):
        value = value[1:]
    try:
        return value.encode("idna").decode("ascii")
    except UnicodeError:
        return value


def parent_domains(domain: str) -> list[str]:
    """`mail.eu.acme.com` -> [`mail.eu.acme.com`, `eu.acme.com`, `acme.com`]: a domain entry covers subdomains."""
    labels = normalize_domain(domain).split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)] or [normalize_domain(domain)]
