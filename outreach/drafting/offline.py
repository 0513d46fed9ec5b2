"""The offline provider: a deterministic template, no network.

It writes a plain email only from the inputs: a greeting with the first-name fact, up to two fact
texts quoted as they are, the campaign's key message and call to action, and a sign-off. It does
not pretend to be more personal than the facts allow, and says which template wrote it
(model "offline-template-v1"), so its drafts pass the grounding check with nothing unsupported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .sanitize import LINK_RE
from .types import DraftRequest, RawDraft

MODEL = "offline-template-v1"
FIRST_NAME_KINDS = ("first_name", "firstname", "given_name")
# Facts that describe who the person is rather than something that happened.
BASIC_KINDS = frozenset(
    {*FIRST_NAME_KINDS, "last_name", "name", "full_name", "email", "title", "role", "company", "phone", "timezone"}
)
SENDER_KIND_PREFIX = "sender"


def _first_name(facts: tuple[Mapping[str, Any], ...]) -> str:
    for fact in facts:
        if str(fact.get("kind", "")).lower() in FIRST_NAME_KINDS:
            name = str(fact.get("value") or fact.get("text") or "").strip()
            if name and len(name.split()) <= 2:
                return name
    return ""


def _sentence(text: str) -> str:
    text = " ".join(text.split()).strip()
    if not text:
        return ""
    return text if text[-1] in ".!?" else text + "."


def _event_facts(facts: tuple[Mapping[str, Any], ...], limit: int) -> list[Mapping[str, Any]]:
    candidates = [
        f
        for f in facts
        if str(f.get("kind", "")).lower() not in BASIC_KINDS
        and not str(f.get("kind", "")).lower().startswith(SENDER_KIND_PREFIX)
        and str(f.get("text", "")).strip()
        # Never repeat an address or link from our records in a template email.
        and not LINK_RE.search(str(f.get("text", "")))
    ]
    # Newest first, ties by id: the same facts always give the same email.
    candidates.sort(key=lambda f: (str(f.get("observed_at") or ""), str(f.get("id"))), reverse=True)
    return candidates[:limit]


class OfflineProvider:
    name = "offline"
    model = MODEL

    def generate(self, request: DraftRequest) -> RawDraft:
        facts = tuple(request.facts)
        intent = request.intent
        shorter = "short" in request.instruction.lower()
        first_name = _first_name(facts)
        used = _event_facts(facts, 1 if shorter else 2)

        greeting = f"Hi {first_name}," if first_name else "Hello,"
        paragraphs = [greeting]
        opener = "Following up on my earlier email." if request.is_follow_up else ""
        if used:
            noted = " ".join(_sentence(str(f["text"])) for f in used)
            paragraphs.append(" ".join(p for p in (opener, "From our records:", noted) if p))
        elif opener:
            paragraphs.append(opener)
        if intent.key_message.strip():
            paragraphs.append(_sentence(intent.key_message))
        if intent.call_to_action.strip():
            paragraphs.append(_sentence(intent.call_to_action))
        paragraphs.append("Best,")

        subject = intent.key_message.strip().split("\n")[0] or intent.goal.strip() or "A note"
        if len(subject) > 78:
            subject = subject[:77].rsplit(" ", 1)[0] + "…"
        if request.is_follow_up:
            first_subject = next((m.subject for m in request.thread if m.direction == "outbound" and m.subject), "")
            if first_subject:
                subject = first_subject if first_subject.lower().startswith("re:") else f"Re: {first_subject}"
        body = "\n\n".join(paragraphs)
        preview = _sentence(intent.call_to_action)[:120] if intent.call_to_action.strip() else ""
        return RawDraft(
            subject=subject,
            preview_text=preview,
            body_text=body,
            cited_fact_ids=tuple(str(f["id"]) for f in used),
            provider=self.name,
            model=self.model,
        )
