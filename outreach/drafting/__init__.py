"""The drafting engine: pure functions over plain data (no ORM).

    from outreach.drafting import compose, DraftRequest, Intent, Persona
    result = compose(DraftRequest(intent=..., persona=..., facts=[...], today=date.today()))

compose() sanitizes the inputs, asks the provider (settings.DRAFTING_PROVIDER: "anthropic" or
"offline") for a draft, sanitizes the output and runs the grounding check. Failures raise
DraftingError(reason, retryable=...).
"""

from .engine import compose, grounding_facts
from .errors import DraftingError
from .providers import AnthropicProvider, OfflineProvider, Provider, get_provider
from .types import DraftRequest, DraftResult, EditExample, Intent, Persona, RawDraft, ThreadMessage

__all__ = [
    "AnthropicProvider",
    "DraftRequest",
    "DraftResult",
    "DraftingError",
    "EditExample",
    "Intent",
    "OfflineProvider",
    "Persona",
    "Provider",
    "RawDraft",
    "ThreadMessage",
    "compose",
    "get_provider",
    "grounding_facts",
]
