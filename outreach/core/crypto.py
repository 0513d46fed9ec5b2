"""Symmetric encryption for secrets kept in the database (SMTP passwords).

The key is `FIELD_ENCRYPTION_KEY` (a Fernet key: `python -c "from cryptography.fernet import
Fernet; print(Fernet.generate_key().decode())"`) or, when that is not set, derived from
SECRET_KEY. Rotating SECRET_KEY without setting FIELD_ENCRYPTION_KEY makes stored secrets
unreadable, so production deployments should set FIELD_ENCRYPTION_KEY.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

from outreach.core.errors import ApplicationError


def _fernet() -> Fernet:
    key = getattr(settings, "FIELD_ENCRYPTION_KEY", "")
    if not key:
        digest = hashlib.sha256(b"outreach.field-encryption.v1:" + settings.SECRET_KEY.encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key.encode() if isinstance(key, str) else key)


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode("utf-8")).decode("ascii") if plaintext else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise ApplicationError("A stored secret cannot be decrypted: was the encryption key changed?") from None
