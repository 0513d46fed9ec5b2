"""Object ids as they arrive in paths and query strings: an id is a positive integer that fits a
PostgreSQL bigint, and anything else names no object (a 404 or an empty result, never a 500)."""

from __future__ import annotations

BIGINT_MAX = 2**63 - 1


def parse_id(value: object) -> int | None:
    """The id `value` names, or None when it is not a positive integer a database row could have."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
    else:
        return None
    return number if 0 < number <= BIGINT_MAX else None
