"""Plain, frozen data that goes into and comes out of the drafting engine (no ORM here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

Fact = dict[str, Any]
"""A recipient fact: ``id`` (str), ``kind``, ``text``, optional ``value`` and ``observed_at`` (ISO date)."""

Claim = dict[str, Any]
"""A grounding claim: ``text``, ``start``, ``end``, ``supported``, ``fact_ids`` (plus ``kind``, ``field``)."""


@dataclass(frozen=True)
class Intent:
    """What the campaign wants to say; written by a team member, so trusted."""

    goal: str
    key_message: str
    call_to_action: str
    trigger_reason: str = ""
    # Campaign-wide context, the same for every email of the campaign: its name and who it is for.
    campaign: str = ""
    audience: str = ""


@dataclass(frozen=True)
class Persona:
    """The sender the email speaks for."""

    name: str
    role: str = ""
    company: str = ""
    tone: str = ""
    signature: str = ""


@dataclass(frozen=True)
class ThreadMessage:
    """An earlier email of the thread, or the message that enrolled the recipient."""

    direction: str  # "outbound" (we sent it) or "inbound" (they sent it)
    subject: str
    body_text: str
    sent_at: str = ""  # ISO date or datetime


@dataclass(frozen=True)
class EditExample:
    """A reviewer's edit of an approved draft: learn the style from `before` -> `after`."""

    before: str
    after: str
    ref: str = ""  # which stored edit this is (the caller's id), so a draft can record what it was given


@dataclass(frozen=True)
class StyleExample:
    """An email the sender approved earlier (their own, as sent): its style, never its facts."""

    subject: str
    body: str


def _tuple(value: Sequence[Any] | None) -> tuple[Any, ...]:
    return tuple(value or ())


@dataclass(frozen=True)
class DraftRequest:
    """Everything the engine may use to write one email. Lists are stored as tuples."""

    intent: Intent
    persona: Persona
    facts: Sequence[Mapping[str, Any]]
    today: date
    thread: Sequence[ThreadMessage] = ()
    source_message: ThreadMessage | None = None
    instruction: str = ""
    edit_examples: Sequence[EditExample] = ()
    # The sender's own recently approved emails, most recent first: style examples in the cached
    # prefix (the caller picks them so they stay the same across a campaign's drafts).
    style_examples: Sequence[StyleExample] = ()
    # The organization's own domains: links and addresses on them need no fact (settings).
    own_domains: Sequence[str] = ()
    # Untrusted-only claims a reviewer chose to keep (their text, as the claim showed it).
    kept_untrusted: Sequence[str] = ()
    # Ask the provider (if it can) for a second opinion on the claims the rules flag but may miss.
    second_opinion: bool = False

    def __post_init__(self) -> None:
        # Frozen all the way down: copy caller-owned lists and dicts.
        object.__setattr__(self, "facts", tuple(dict(f) for f in self.facts))
        object.__setattr__(self, "thread", _tuple(self.thread))
        object.__setattr__(self, "edit_examples", _tuple(self.edit_examples))
        object.__setattr__(self, "style_examples", _tuple(self.style_examples))
        object.__setattr__(self, "own_domains", _tuple(self.own_domains))
        object.__setattr__(self, "kept_untrusted", _tuple(self.kept_untrusted))

    @property
    def is_follow_up(self) -> bool:
        return any(m.direction == "outbound" for m in self.thread)


@dataclass(frozen=True)
class RawDraft:
    """What a provider returns, before the engine sanitizes and checks it."""

    subject: str
    preview_text: str
    body_text: str
    cited_fact_ids: tuple[str, ...]
    provider: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    # Written through the Message Batches API: its tokens cost half (pricing.BATCH_FACTOR).
    batch: bool = False


@dataclass(frozen=True)
class BatchStatus:
    """A Message Batch as the API reports it: `processing_status` is in_progress, canceling or ended;
    `counts` has processing, succeeded, errored, canceled and expired."""

    id: str
    processing_status: str
    counts: Mapping[str, int]
    created_at: datetime | None = None
    ended_at: datetime | None = None
    expires_at: datetime | None = None

    @property
    def ended(self) -> bool:
        return self.processing_status == "ended"


@dataclass(frozen=True)
class BatchItem:
    """One request's result in an ended batch. `outcome` is the API's: succeeded (`raw` is the draft,
    or `error` says why its answer is unusable, `retryable` whether a single call may do better),
    errored, expired or canceled (`error` says why; the caller falls back to a single call)."""

    custom_id: str
    outcome: str
    raw: RawDraft | None = None
    error: str = ""
    retryable: bool = True


@dataclass(frozen=True)
class DraftResult:
    """A sanitized, grounding-checked draft. It has no recipient, sender or header fields on purpose:
    those never come from model output."""

    subject: str
    preview_text: str
    body_html: str
    body_text: str
    cited_fact_ids: tuple[str, ...]
    claims: tuple[Claim, ...]
    unsupported_count: int
    provider: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: Decimal = Decimal("0")
    removed_links: tuple[str, ...] = field(default=())
    # Untrusted-only links, addresses, phone numbers, prices, discounts and deadlines taken out of
    # the email (with their sentence) until a reviewer keeps them: text, field, kind, fact_ids, removed.
    withheld: tuple[dict[str, Any], ...] = field(default=())
    # The texts as the model wrote them (after sanitizing), before withholding.
    unfiltered: dict[str, str] = field(default_factory=dict)
    batch: bool = False
