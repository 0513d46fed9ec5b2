from __future__ import annotations

from datetime import date

import pytest

from outreach.drafting import AnthropicProvider, DraftRequest, Intent, Persona
from tests.anthropic_stub import AnthropicStub

NOV_12 = date(2026, 11, 12)


@pytest.fixture
def stub_provider(anthropic_stub: AnthropicStub) -> AnthropicProvider:
    return AnthropicProvider(
        api_key="test-key", model="claude-sonnet-4-6", base_url=anthropic_stub.url, timeout=2, max_retries=2
    )


def make_request(**overrides) -> DraftRequest:
    values = {
        "intent": Intent(
            goal="Book renewal conversations",
            key_message="The forecasting module is included in your renewal at no extra cost",
            call_to_action="Would a 20-minute walkthrough help? Pick a time at https://cal.example.com/sam",
            trigger_reason="Renewal due in 60 days",
        ),
        "persona": Persona(
            name="Sam Rivera",
            role="Head of Growth",
            company="Northwind Analytics",
            tone="warm, brief",
            signature="Sam Rivera\nHead of Growth, Northwind Analytics",
        ),
        "facts": [
            {"id": "f-name", "kind": "first_name", "text": "Liu", "value": "Liu"},
            {"id": "f-logins", "kind": "usage", "text": "Logged in 14 times in October", "observed_at": "2026-11-01"},
            {
                "id": "f-guide",
                "kind": "download",
                "text": "Downloaded the 'Churn Playbook' guide",
                "observed_at": "2026-10-20",
            },
        ],
        "today": NOV_12,
    }
    values.update(overrides)
    return DraftRequest(**values)


@pytest.fixture
def request_() -> DraftRequest:
    return make_request()
