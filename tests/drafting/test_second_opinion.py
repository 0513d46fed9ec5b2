"""A second opinion from the model on the flags the rules may have got wrong: shown beside the
rule's verdict, never instead of it, and never asked about links, money or untrusted sources."""

from __future__ import annotations

import json
from dataclasses import replace

from outreach.drafting import AnthropicProvider, compose
from outreach.drafting import second_opinion as so

from .conftest import make_request

DRAFT = {
    "subject": "Your October usage",
    "preview_text": "",
    "body_text": (
        "Hi Liu,\n\nYou logged in 14 times in October, and Initech signed last week.\n\n"
        "Our new price is $99 at http://evil.test/buy.\n\nBest,"
    ),
    "cited_fact_ids": ["f-logins"],
}


def provider_for(stub) -> AnthropicProvider:
    return AnthropicProvider(api_key="k", model="claude-sonnet-4-6", base_url=stub.url, max_retries=0)


def request_with_second_opinion():
    request = make_request(second_opinion=True)
    facts = [
        *request.facts,
        {"id": "f-news", "kind": "note", "text": "Initech closed a 3-year deal with us on 2026-11-04"},
    ]
    return replace(request, facts=facts)


def test_the_model_judges_only_the_undecided_flags_and_its_opinion_sits_beside_the_rule(anthropic_stub):
    anthropic_stub.queue(anthropic_stub.tool_use(DRAFT))
    sent: list[dict] = []

    def judge(request_json):
        """The verifier's answer, by its request: it says every claim it was asked about is supported."""
        sent.append(request_json)
        text = request_json["messages"][0]["content"][0]["text"]
        items = json.loads(text.split("<claims>\n", 1)[1].split("\n</claims>")[0])
        verdicts = [{"claim": i["claim"], "verdict": "supported", "fact_ids": ["f-news", "made-up"]} for i in items]
        return anthropic_stub.tool_use({"verdicts": verdicts}, name=so.TOOL_NAME)

    anthropic_stub.responder = judge
    result = compose(request_with_second_opinion(), provider_for(anthropic_stub))

    [verifier] = sent
    assert verifier["tool_choice"] == {"type": "tool", "name": "judge_claims"}
    asked = verifier["messages"][0]["content"][0]["text"].split("<claims>", 1)[1]
    assert "Initech signed" in asked
    assert "$99" not in asked and "evil.test" not in asked  # the rules decide those
    [initech] = [c for c in result.claims if c["text"] == "Initech signed"]
    assert initech["supported"] is False and initech["reason"] == "third_party_event"  # never overridden
    assert initech["model_opinion"] == {"verdict": "supported", "fact_ids": ["f-news"]}  # made-up id dropped
    assert all("model_opinion" not in c for c in result.claims if c["kind"] in ("money", "link"))
    assert result.input_tokens == 2 * 420  # the verifier's tokens are counted


def test_without_the_setting_or_anything_flagged_there_is_no_second_call(anthropic_stub):
    anthropic_stub.queue(anthropic_stub.tool_use(DRAFT))
    compose(replace(request_with_second_opinion(), second_opinion=False), provider_for(anthropic_stub))
    anthropic_stub.queue(anthropic_stub.tool_use())  # the default draft: everything supported
    compose(request_with_second_opinion(), provider_for(anthropic_stub))
    assert len(anthropic_stub.requests) == 2


def test_a_failed_verifier_call_leaves_the_draft_and_its_flags_as_they_are(anthropic_stub):
    anthropic_stub.queue(anthropic_stub.tool_use(DRAFT), anthropic_stub.overloaded())
    result = compose(request_with_second_opinion(), provider_for(anthropic_stub))
    assert result.body_text.startswith("Hi Liu,")
    assert all("model_opinion" not in c for c in result.claims)
    assert any(c["text"] == "Initech signed" and not c["supported"] for c in result.claims)


def test_malformed_verdicts_are_ignored():
    claims = [{"text": "Initech", "supported": False, "kind": "name", "reason": "not_in_facts"}]
    verdicts = [{"claim": 0, "verdict": "definitely", "fact_ids": []}, "x", {"claim": "0"}]
    assert so.apply(claims, verdicts, [0], {"f1"}) == claims
    assert so.apply(claims, None, [0], {"f1"}) == claims
