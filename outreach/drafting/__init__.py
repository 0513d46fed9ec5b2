"""The drafting engine: pure functions over plain data (no ORM).

    from outreach.drafting import compose, DraftRequest, Intent, Persona
    result = compose(DraftRequest(intent=..., persona=..., facts=[...], today=date.today()), provider)

compose() sanitizes the inputs, asks the provider ("anthropic" or "offline", built by
`provider_for`; the caller reads the settings) for a draft, sanitizes the output and runs the
grounding check. Failures raise DraftingError(reason, retryable=...). No Django, no other part.
"""

from .engine import Grounded, batch_requests, compose, compose_from_raw, ground, grounding_facts, kept_key
from .errors import DraftingError
from .providers import AnthropicProvider, BatchProvider, OfflineProvider, Provider, provider_for, supports_batches
from .types import (
    BatchItem,
    BatchStatus,
    DraftRequest,
    DraftResult,
    EditExample,
    Intent,
    Persona,
    RawDraft,
    StyleExample,
    ThreadMessage,
)

__all__ = [
    "AnthropicProvider",
    "BatchItem",
    "BatchProvider",
    "BatchStatus",
    "DraftRequest",
    "DraftResult",
    "DraftingError",
    "EditExample",
    "Grounded",
    "Intent",
    "OfflineProvider",
    "Persona",
    "Provider",
    "RawDraft",
    "StyleExample",
    "ThreadMessage",
    "batch_requests",
    "compose",
    "compose_from_raw",
    "ground",
    "grounding_facts",
    "kept_key",
    "provider_for",
    "supports_batches",
]
