"""The drafting provider the settings ask for. Defined in `outreach.mail.llm` (mail asks the same
model to classify replies); re-exported here for review's drafting task and campaigns' exit
conditions, with the batch-capable variant bulk drafting needs."""

from __future__ import annotations

from typing import cast

from outreach.drafting import BatchProvider, DraftingError, supports_batches
from outreach.mail.llm import configured_provider

__all__ = ["configured_batch_provider", "configured_provider"]


def configured_batch_provider() -> BatchProvider:
    """The configured provider when it can write Message Batches (Anthropic); DraftingError if not."""
    provider = configured_provider()
    if not supports_batches(provider):
        raise DraftingError(f"configuration: the {provider.name} provider has no batches", retryable=False)
    return cast(BatchProvider, provider)
