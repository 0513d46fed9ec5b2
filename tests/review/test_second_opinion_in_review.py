"""With GROUNDING_SECOND_OPINION on, the model's opinion is stored with the claims and shown in
review beside the rule's flag."""

from __future__ import annotations

import json

import pytest

from outreach.drafting import AnthropicProvider
from review import services
from tests.factories import CampaignFactory, FactFactory, RecipientFactory, from_campaign

pytestmark = pytest.mark.django_db


def test_the_review_shows_which_fact_the_model_cites_beside_the_flag(rep, rep_client, anthropic_stub, settings):
    settings.GROUNDING_SECOND_OPINION = True
    recipient = RecipientFactory(first_name="Liu", owner=rep)
    fact = FactFactory(recipient=recipient, text="Initech closed a 3-year deal with us on 2026-11-04")
    anthropic_stub.queue(
        anthropic_stub.tool_use(
            {
                "subject": "News",
                "preview_text": "",
                "body_text": "Hi Liu,\n\nInitech signed with us recently.\n\nBest,",
                "cited_fact_ids": [],
            }
        )
    )

    def judge(request_json):
        text = request_json["messages"][0]["content"][0]["text"]
        items = json.loads(text.split("<claims>\n", 1)[1].split("\n</claims>")[0])
        verdicts = [{"claim": i["claim"], "verdict": "supported", "fact_ids": [str(fact.pk)]} for i in items]
        return anthropic_stub.tool_use({"verdicts": verdicts}, name="judge_claims")

    anthropic_stub.responder = judge
    draft = services.draft_request(recipient=recipient, sender=rep, **from_campaign(CampaignFactory()))
    provider = AnthropicProvider(api_key="k", model="claude-sonnet-4-6", base_url=anthropic_stub.url, max_retries=0)
    draft = services.draft_generate(draft_id=draft.pk, provider=provider)
    [claim] = [c for c in draft.grounding if c["text"].startswith("Initech signed")]
    assert claim["supported"] is False and claim["model_opinion"]["fact_ids"] == [str(fact.pk)]
    assert draft.unsupported_claim_count >= 1  # the opinion does not clear the flag
    page = rep_client.get(f"/review/?draft={draft.pk}").content.decode()
    assert page.count(f"(the model cites fact {fact.pk})") == 2  # in the list of flags and in the email
