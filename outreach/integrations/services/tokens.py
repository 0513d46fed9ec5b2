"""API tokens: create (shown once), authenticate by hash, revoke, rate-limit, idempotent replays."""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import BigIntegerField, F, Q, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from outreach.core.errors import ApplicationError
from outreach.integrations.models import ApiIdempotencyKey, ApiToken

TOKEN_PREFIX = "orv_"
# Writing last_used_at on every request would make every API call a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)
IDEMPOTENCY_TTL = timedelta(hours=24)
RATE_WINDOW = timedelta(minutes=1)
MICROSECOND = timedelta(microseconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CreatedToken:
    token: ApiToken
    secret: str  # shown to the person once, never stored


def api_token_create(*, user, name: str, scopes: list[str]) -> CreatedToken:
    name = name.strip()
    if not name:
        raise ApplicationError("Give the token a name, e.g. 'CRM sync'.", extra={"field": "name"})
    unknown = sorted(set(scopes) - set(ApiToken.Scope.values))
    if unknown:
        raise ApplicationError(f"Unknown scopes: {', '.join(unknown)}", extra={"field": "scopes"})
    if not scopes:
        raise ApplicationError("Choose at least one scope.", extra={"field": "scopes"})
    # 32 random bytes (256 bits): a hash without salt is enough for a secret this long.
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=name,
        prefix=secret[: len(TOKEN_PREFIX) + 8],
        token_hash=hash_secret(secret),
        scopes=sorted(set(scopes)),
    )
    token.full_clean()
    token.save()
    return CreatedToken(token=token, secret=secret)


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def api_token_authenticate(*, secret: str) -> ApiToken | None:
    """The active token with this secret, or None. Records the last use (at most once a minute)."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=hash_secret(secret), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def api_token_rate_limit_hit(*, token: ApiToken, limit: int | None = None) -> int | None:
    """Take one request from the token's bucket: None when allowed, else the seconds to wait.

    A token bucket of `limit` requests that refills continuously at `limit` a minute, so a burst
    is at most `limit` and no minute boundary hands out a second one. The bucket is kept as one
    number, the moment it will be full again: each request pushes it one refill interval later,
    and a request fits while that moment is at most `limit - 1` intervals away. One conditional
    UPDATE takes the request, so concurrent processes never let more through (on PostgreSQL a
    second UPDATE of the row waits for the first and re-checks the condition on its result).
    """
    limit = settings.API_RATE_LIMIT_PER_MINUTE if limit is None else limit
    # Whole microseconds: the sums stay exact, so exactly `limit` fit in a burst.
    interval = round(RATE_WINDOW / MICROSECOND / limit)
    slack = (limit - 1) * interval
    now = (timezone.now() - EPOCH) // MICROSECOND
    # Typed bigint: a bare Value(int) is bound as int4 on PostgreSQL, and these overflow it.
    now_value = Value(now, output_field=BigIntegerField())
    taken = (
        ApiToken.objects.filter(pk=token.pk)
        .filter(Q(rate_bucket_full_at_us__isnull=True) | Q(rate_bucket_full_at_us__lte=now + slack))
        .update(
            rate_bucket_full_at_us=Greatest(Coalesce(F("rate_bucket_full_at_us"), now_value), now_value)
            + Value(interval, output_field=BigIntegerField())
        )
    )
    if taken:
        return None
    full_at = ApiToken.objects.filter(pk=token.pk).values_list("rate_bucket_full_at_us", flat=True).first()
    # The next request fits once the moment of being full is back to `slack` away.
    wait_us = (full_at or now) - slack - now
    return max(1, math.ceil(wait_us / 1_000_000))


# --- Idempotency-Key --------------------------------------------------------------------------


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(part)
        digest.update(b"\x00")
    return digest.hexdigest()


def idempotency_lookup(*, token: ApiToken, key: str) -> ApiIdempotencyKey | None:
    return ApiIdempotencyKey.objects.filter(
        token=token, key=key, created_at__gte=timezone.now() - IDEMPOTENCY_TTL
    ).first()


def idempotency_store(*, token: ApiToken, key: str, request_hash: str, status: int, body: str) -> ApiIdempotencyKey:
    """Remember a response; must run in the transaction that created the object. An expired
    record with the same key is replaced."""
    if not transaction.get_connection().in_atomic_block:
        raise ApplicationError("idempotency_store must run inside the creating transaction")
    ApiIdempotencyKey.objects.filter(token=token, key=key, created_at__lt=timezone.now() - IDEMPOTENCY_TTL).delete()
    return ApiIdempotencyKey.objects.create(
        token=token, key=key, request_hash=request_hash, response_status=status, response_body=body
    )


def idempotency_purge_expired() -> int:
    deleted, _ = ApiIdempotencyKey.objects.filter(created_at__lt=timezone.now() - IDEMPOTENCY_TTL).delete()
    return deleted
