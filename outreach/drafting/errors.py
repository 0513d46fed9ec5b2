"""The one error type the drafting engine raises."""

from __future__ import annotations


class DraftingError(Exception):
    """Drafting failed; `reason` is short and safe to store on the draft and show to a reviewer.

    `retryable` says whether trying again later may succeed (timeouts, rate limits, overload, a
    malformed response) or not (a refusal, bad credentials, a request the API rejects).
    """

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable

    def __repr__(self) -> str:
        return f"DraftingError({self.reason!r}, retryable={self.retryable})"
