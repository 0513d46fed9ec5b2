"""What a part that asks for a draft hands down with it, as plain values.

Review sits below campaigns, so it never reads a campaign: whoever asks for a draft (a campaign
step, the API, a person on a recipient's page) says who asked (`Origin`), what to write about
(`Brief`) and which rules its email is sent under (`outreach.mail.services.outbox.SendRules`,
mail's own type). The draft stores them; the drafting task writes from the brief, the queue shows
it beside the draft, and approval copies the rules onto the outbound message.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


def _known(cls, data: dict | None) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {key: value for key, value in (data or {}).items() if key in names}


@dataclass(frozen=True)
class Origin:
    """Who asked, as ids review groups, filters and echoes but never looks up."""

    campaign_ref: int | None = None
    campaign_name: str = ""
    enrollment_ref: int | None = None
    step_ref: int | None = None


@dataclass(frozen=True)
class SourceMessage:
    """The email or event that started a sequence, quoted to the model as data."""

    direction: str = "inbound"
    subject: str = ""
    body_text: str = ""
    sent_at: str = ""


# Brief fields that belong to one step of a sequence, not to the campaign as a whole.
STEP_BRIEF_FIELDS = frozenset({"step_prompt", "step_subject", "source_message"})


@dataclass(frozen=True)
class Brief:
    """What this email is for. Empty fields are left out of the prompt."""

    # The campaign it belongs to, by name; empty for an ad-hoc email.
    campaign: str = ""
    goal: str = ""
    key_message: str = ""
    call_to_action: str = ""
    why_now: str = ""
    # Who the campaign is for, in the team's words (campaign-wide context for the engine).
    audience: str = ""
    # Overrides of the sender's own voice (empty: the sender profile's).
    persona_tone: str = ""
    persona_role: str = ""
    # This step of a sequence: its instruction for the engine.
    step_prompt: str = ""
    # The step's subject as its author wrote it (or "Re: <thread subject>"): the draft keeps it
    # whatever the engine proposes. Empty: the engine's subject.
    step_subject: str = ""
    source_message: SourceMessage | None = None

    def as_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value not in ("", None)}

    @classmethod
    def from_dict(cls, data: dict | None) -> Brief:
        known = _known(cls, data)
        source = known.get("source_message")
        known["source_message"] = SourceMessage(**_known(SourceMessage, source)) if isinstance(source, dict) else None
        return cls(**known)
