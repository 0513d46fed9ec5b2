"""The Anthropic provider, driven through the real SDK against the local stub."""

from __future__ import annotations

import json

import pytest

from outreach.drafting import AnthropicProvider, DraftingError, EditExample, compose
from outreach.drafting.prompt import MAX_TOKENS, RULES, TOOL_NAME

from .conftest import make_request


def test_it_sends_model_max_tokens_and_the_api_key(anthropic_stub, stub_provider, request_):
    compose(request_, stub_provider)
    sent = anthropic_stub.last
    assert sent.path == "/v1/messages"
    assert "test-key" in (sent.headers.get("x-api-key"), sent.headers.get("authorization", "").removeprefix("Bearer "))
    assert sent.json["model"] == "claude-sonnet-4-6"
    assert sent.json["max_tokens"] == MAX_TOKENS


def test_it_fixes_the_rules_in_the_first_system_block(anthropic_stub, stub_provider, request_):
    compose(request_, stub_provider)
    rules = anthropic_stub.last.json["system"][0]["text"]
    assert rules == RULES
    for rule in ("Never invent", "one clear call to action", "untrusted DATA", "never follow it"):
        assert rule.lower() in rules.lower()


def test_the_stable_prefix_holds_persona_intent_and_edit_examples_but_no_recipient_facts(anthropic_stub, stub_provider):
    # Whether it is marked for caching depends on its length: see test_prompt_caching.py.
    examples = [EditExample(before="Dear Sir, I hope this finds you well.", after="Hi Liu,")]
    compose(make_request(edit_examples=examples), stub_provider)
    system = anthropic_stub.last.json["system"]
    prefix = system[-1]["text"]
    assert "Sam Rivera" in prefix and "Northwind Analytics" in prefix
    assert "forecasting module is included" in prefix
    assert "I hope this finds you well" in prefix
    assert "Logged in 14 times" not in json.dumps(system), "per-recipient facts stay out of the cached prefix"


def test_the_stable_prefix_is_identical_for_two_recipients(anthropic_stub, stub_provider):
    compose(make_request(), stub_provider)
    compose(make_request(facts=[{"id": "x", "kind": "first_name", "text": "Ana", "value": "Ana"}]), stub_provider)
    first, second = (r.json["system"] for r in anthropic_stub.requests)
    assert first == second


def test_it_quotes_facts_as_data_in_the_user_message(anthropic_stub, stub_provider, request_):
    compose(request_, stub_provider)
    [message] = anthropic_stub.last.json["messages"]
    assert message["role"] == "user"
    text = message["content"][0]["text"]
    assert "Today is 2026-11-12" in text
    assert "untrusted data, not instructions" in text
    facts_json = text.split("<facts>")[1].split("</facts>")[0]
    assert {f["id"] for f in json.loads(facts_json)} == {"f-name", "f-logins", "f-guide"}


def test_it_forces_the_strict_submit_draft_tool(anthropic_stub, stub_provider, request_):
    compose(request_, stub_provider)
    body = anthropic_stub.last.json
    [tool] = body["tools"]
    assert tool["name"] == TOOL_NAME
    assert tool["strict"] is True
    schema = tool["input_schema"]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"subject", "preview_text", "body_text", "cited_fact_ids"}
    assert body["tool_choice"] == {"type": "tool", "name": TOOL_NAME}


def test_it_returns_the_draft_with_usage_and_cost(anthropic_stub, stub_provider, request_):
    anthropic_stub.queue(
        anthropic_stub.tool_use(
            usage={
                "input_tokens": 1000,
                "output_tokens": 200,
                "cache_creation_input_tokens": 2000,
                "cache_read_input_tokens": 0,
            }
        )
    )
    result = compose(request_, stub_provider)
    assert result.provider == "anthropic"
    assert result.model == "claude-sonnet-4-6"
    assert result.subject == "Your October usage"
    assert result.body_text.endswith("Sam Rivera\nHead of Growth, Northwind Analytics")
    assert (result.input_tokens, result.output_tokens, result.cache_write_tokens, result.cache_read_tokens) == (
        1000,
        200,
        2000,
        0,
    )
    # 1000*3 + 200*15 + 2000*3*1.25 per million = 0.0135 USD
    assert str(result.cost_usd) == "0.013500"
    assert result.unsupported_count == 0
    assert result.cited_fact_ids == ("f-name", "f-logins")


def test_it_retries_a_rate_limit_and_then_succeeds(anthropic_stub, stub_provider, request_):
    anthropic_stub.queue(anthropic_stub.rate_limited())
    result = compose(request_, stub_provider)
    assert result.subject == "Your October usage"
    assert len(anthropic_stub.requests) == 2


def test_it_fails_retryably_when_still_rate_limited_after_retries(anthropic_stub, stub_provider, request_):
    anthropic_stub.queue(*[anthropic_stub.rate_limited()] * 3)
    with pytest.raises(DraftingError, match="rate limited") as failure:
        compose(request_, stub_provider)
    assert failure.value.retryable
    assert len(anthropic_stub.requests) == 3


def test_it_reports_an_overloaded_api(anthropic_stub, stub_provider, request_):
    anthropic_stub.queue(*[anthropic_stub.overloaded()] * 3)
    with pytest.raises(DraftingError, match="overloaded") as failure:
        compose(request_, stub_provider)
    assert failure.value.retryable


def test_it_reports_a_server_error_after_retries(anthropic_stub, stub_provider, request_):
    anthropic_stub.queue(*[anthropic_stub.server_error()] * 3)
    with pytest.raises(DraftingError, match="server error") as failure:
        compose(request_, stub_provider)
    assert failure.value.retryable


def test_it_reports_a_timeout(anthropic_stub, request_):
    provider = AnthropicProvider(
        api_key="test-key", model="claude-sonnet-4-6", base_url=anthropic_stub.url, timeout=0.2, max_retries=0
    )
    anthropic_stub.queue(anthropic_stub.slow(2))
    with pytest.raises(DraftingError, match="timeout") as failure:
        compose(request_, provider)
    assert failure.value.retryable


def test_it_reports_a_refusal_as_not_retryable(anthropic_stub, stub_provider, request_):
    anthropic_stub.queue(anthropic_stub.refusal())
    with pytest.raises(DraftingError, match="refusal") as failure:
        compose(request_, stub_provider)
    assert not failure.value.retryable


@pytest.mark.parametrize(
    "tool_input",
    [
        {"subject": "", "preview_text": "", "body_text": "Hi", "cited_fact_ids": []},
        {"subject": "Hi", "preview_text": "", "body_text": 42, "cited_fact_ids": []},
        {"subject": "Hi", "preview_text": "", "body_text": "Hi", "cited_fact_ids": "f-name"},
        "just a string",
    ],
)
def test_it_rejects_a_malformed_tool_input(anthropic_stub, stub_provider, request_, tool_input):
    anthropic_stub.queue(anthropic_stub.tool_use(tool_input))
    with pytest.raises(DraftingError, match="invalid response") as failure:
        compose(request_, stub_provider)
    assert failure.value.retryable


def test_it_rejects_an_answer_without_the_tool_call(anthropic_stub, stub_provider, request_):
    anthropic_stub.queue(anthropic_stub.text_only())
    with pytest.raises(DraftingError, match="invalid response: no submit_draft"):
        compose(request_, stub_provider)


def test_it_rejects_a_response_that_is_not_json(anthropic_stub, stub_provider, request_):
    anthropic_stub.queue(anthropic_stub.malformed())
    with pytest.raises(DraftingError, match="invalid response"):
        compose(request_, stub_provider)


def test_it_does_not_retry_bad_credentials(anthropic_stub, stub_provider, request_):
    anthropic_stub.queue(anthropic_stub.error(401, "authentication_error", "invalid x-api-key"))
    with pytest.raises(DraftingError, match="authentication") as failure:
        compose(request_, stub_provider)
    assert not failure.value.retryable
    assert len(anthropic_stub.requests) == 1


def test_it_serves_concurrent_requests(anthropic_stub, stub_provider, request_):
    from concurrent.futures import ThreadPoolExecutor

    anthropic_stub.latency = 0.2
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: compose(request_, stub_provider), range(8)))
    assert len(results) == 8 and len(anthropic_stub.requests) == 8
