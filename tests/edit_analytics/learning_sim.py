"""Learning from edits, simulated: a reviewer who always makes the same three edits (changes the
greeting, deletes the second fact's sentence, cuts a phrase from the key message) and a run of
successive drafts through the real services, each one approved after that reviewer's edit.

`simulated_model` is the Anthropic stub's model for these runs: it reads the edit examples out of
the prompt the real SDK sent (and the facts, sender and campaign) and writes the way the offline
writer does with them, so the examples travel the whole way: DraftEdit rows -> prompt -> model.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from outreach.drafting import DraftRequest, EditExample, Intent, OfflineProvider, Persona
from review import services
from review.models import DraftEdit
from tests.anthropic_stub import AnthropicStub, StubResponse
from tests.factories import CampaignFactory, FactFactory, RecipientFactory, from_campaign

KEY_MESSAGE = "The forecasting module is included in your renewal at no extra cost"
NAMES = ["Liu", "Priya", "Carl", "Ana", "Tomás", "Jun", "Mara", "Ode"]
CONTENT = [
    "Downloaded the 'Churn Playbook' guide",
    "Attended the webinar 'Forecasting 101'",
    "Read the release notes for Scheduled Reports",
]


def reviewer_edit(body: str) -> str:
    """What this reviewer always does to a draft."""
    body = re.sub(r"^Hi ", "Hello ", body)
    body = re.sub(r" You also [^.]*\.", "", body)
    return body.replace(" at no extra cost", "")


def _tagged(text: str, tag: str) -> Any:
    m = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", text, re.S)
    return json.loads(m[1]) if m else None


def simulated_model(request_json: dict[str, Any]) -> StubResponse:
    """A model that follows the prompt's edit examples (see the module docstring)."""
    system = "\n".join(block["text"] for block in request_json["system"])
    user = request_json["messages"][0]["content"][0]["text"]
    sender, campaign = _tagged(system, "sender"), _tagged(system, "campaign")
    examples = [EditExample(e["draft"], e["as_approved_by_reviewer"]) for e in _tagged(system, "edit_examples") or []]
    today = date.fromisoformat(re.search(r"Today is (\d{4}-\d{2}-\d{2})", user)[1])
    request = DraftRequest(
        # The prompt calls the campaign's name "name"; Intent calls it "campaign".
        intent=Intent(**{("campaign" if key == "name" else key): value for key, value in campaign.items()}),
        persona=Persona(name=sender["name"], role=sender["role"], company=sender["company"]),
        facts=_tagged(user, "facts"),
        today=today,
        edit_examples=examples,
    )
    raw = OfflineProvider().generate(request)
    return AnthropicStub().tool_use(
        {
            "subject": raw.subject,
            "preview_text": raw.preview_text,
            "body_text": raw.body_text,
            "cited_fact_ids": list(raw.cited_fact_ids),
        }
    )


def run(drafts: int, provider, *, sender, campaign=None) -> list[int]:
    """Write, edit and approve `drafts` successive drafts; the character edit distance of each."""
    campaign = campaign or CampaignFactory(key_message=KEY_MESSAGE, call_to_action="Would a short call help?")
    now = timezone.now()
    distances = []
    for i in range(drafts):
        recipient = RecipientFactory(first_name=NAMES[i % len(NAMES)], owner=sender)
        FactFactory(recipient=recipient, text=f"Logged in {10 + i} times in October", observed_at=now)
        FactFactory(
            recipient=recipient, kind="content", text=CONTENT[i % len(CONTENT)], observed_at=now - timedelta(days=3)
        )
        draft = services.draft_request(recipient=recipient, sender=sender, **from_campaign(campaign))
        draft = services.draft_generate(draft_id=draft.pk, provider=provider)
        assert draft is not None, "drafting failed"
        services.draft_approve(
            draft=draft, user=sender, expected_version=draft.version, body_text=reviewer_edit(draft.body_text)
        )
        edit = DraftEdit.objects.filter(draft=draft).first()
        distances.append(edit.char_distance if edit else 0)
    return distances
