"""Opaque, prefixed public ids: `ctc_…` for a contact, `seq_…` for a sequence, and so on.

What the API, emitted events and webhooks show instead of row numbers. Each id is one AES block
(16 bytes) holding the row's primary key beside a 64-bit tag of its kind, encrypted with a key only
this server knows, written in lowercase base32:

    ctc_ + base32(AES-128(key, tag(kind) ‖ pk))      →  ctc_k3x…  (26 characters after the prefix)

- **Stable**: the same row always has the same id (the encryption is a fixed permutation), so ids
  need no column, no migration and no backfill, and they survive a database copy.
- **Not guessable**: without the key, neither the next id nor the number of rows can be read from
  an id; a made-up or altered id fails the tag check (a 1 in 2^64 chance to pass) and is refused,
  and an id of one kind is never accepted as another kind.
- **Keyed by `PUBLIC_ID_KEY`**, or, when that is not set, a key derived from SECRET_KEY (as
  FIELD_ENCRYPTION_KEY). Changing the key changes every id, so production sets PUBLIC_ID_KEY once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings

# Every kind of public id, by prefix: the noun is what errors call it.
KINDS: dict[str, str] = {
    "inb": "inbox (sender profile)",
    "ctc": "contact",
    "fct": "fact",
    "seq": "sequence",
    "stp": "sequence step",
    "enr": "enrollment",
    "drf": "draft",
    "msg": "message",
    "sup": "suppression",
    "spl": "suppression list",
    "whk": "webhook subscription",
    "dlv": "webhook delivery",
    "scf": "sender configuration",
    "mbx": "mailbox connection",
    "eng": "engagement event",
    "aut": "label automation",
    "rul": "campaign rule",
    "lbe": "label event",
    "thr": "thread",
    "cur": "page cursor",
}

_ENCODED_LENGTH = 26  # 16 bytes in base32, without padding


def _key() -> bytes:
    configured = getattr(settings, "PUBLIC_ID_KEY", "") or ""
    material = configured or f"outreach.public-ids.v1:{settings.SECRET_KEY}"
    return hashlib.sha256(material.encode()).digest()[:16]


def _tag(key: bytes, prefix: str) -> bytes:
    return hmac.new(key, prefix.encode(), hashlib.sha256).digest()[:8]


def encode(prefix: str, pk: int) -> str:
    """The public id of row `pk` of this kind."""
    if prefix not in KINDS:
        raise KeyError(f"unknown public id prefix {prefix!r}")
    key = _key()
    block = _tag(key, prefix) + struct.pack(">Q", int(pk))
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - one block, a permutation
    sealed = encryptor.update(block) + encryptor.finalize()
    return f"{prefix}_{base64.b32encode(sealed).decode('ascii').rstrip('=').lower()}"


def encode_or_none(prefix: str, pk: int | None) -> str | None:
    return None if pk is None else encode(prefix, pk)


def decode(prefix: str, public_id: str) -> int | None:
    """The primary key behind a public id of this kind, or None when it is not one."""
    if not isinstance(public_id, str) or not public_id.startswith(f"{prefix}_"):
        return None
    body = public_id[len(prefix) + 1 :]
    if len(body) != _ENCODED_LENGTH:
        return None
    try:
        sealed = base64.b32decode(body.upper() + "======")
    except (binascii.Error, ValueError):
        return None
    key = _key()
    decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()  # noqa: S305 - see encode
    block = decryptor.update(sealed) + decryptor.finalize()
    if not hmac.compare_digest(block[:8], _tag(key, prefix)):
        return None
    return struct.unpack(">Q", block[8:])[0]
