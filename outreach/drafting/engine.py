"""compose(): sanitize inputs, call the provider, sanitize output, check grounding."""

from __future__ import annotations

from typing import Any

from . import grounding, sanitize
from .errors import DraftingError
from .pricing import cost_usd
from .providers import Provider
from .types import Claim, DraftRequest, DraftResult, Fact


def compose(request: DraftRequest, provider: Provider) -> DraftResult:
    """Write one draft for human review. Raises DraftingError with a storable reason on failure."""
    clean = sanitize.clean_request(request)
    raw = provider.generate(clean)

    allowed_links = sanitize.links_in(sanitize.request_texts(clean))
    subject = sanitize.clean_subject(raw.subject)
    preview = sanitize.clean_subject(raw.preview_text, sanitize.MAX_PREVIEW)
    body, removed = sanitize.remove_unknown_links(sanitize.clean_body_text(raw.body_text), allowed_links)
    subject, removed_in_subject = sanitize.remove_unknown_links(subject, allowed_links)
    if not subject.strip() or not body.strip():
        raise DraftingError("invalid response: empty subject or body after sanitizing", retryable=True)
    body = _with_signature(body, clean)

    facts = grounding_facts(clean)
    claims: list[Claim] = []
    for field, text in (("subject", subject), ("preview_text", preview), ("body_text", body)):
        for claim in grounding.check(text, facts, today=clean.today):
            claims.append({**claim, "field": field})

    return DraftResult(
        subject=subject,
        preview_text=preview,
        body_html=sanitize.text_to_html(body, allowed_links),
        body_text=body,
        cited_fact_ids=_cited(raw.cited_fact_ids, claims, clean),
        claims=tuple(claims),
        unsupported_count=sum(1 for c in claims if not c["supported"]),
        provider=raw.provider,
        model=raw.model,
        input_tokens=raw.input_tokens,
        output_tokens=raw.output_tokens,
        cache_read_tokens=raw.cache_read_tokens,
        cache_write_tokens=raw.cache_write_tokens,
        cost_usd=cost_usd(
            raw.model,
            input_tokens=raw.input_tokens,
            output_tokens=raw.output_tokens,
            cache_read_tokens=raw.cache_read_tokens,
            cache_write_tokens=raw.cache_write_tokens,
        ),
        removed_links=tuple(removed + removed_in_subject),
    )


def _with_signature(body: str, request: DraftRequest) -> str:
    """The signature comes from the persona, never from the model."""
    signature = request.persona.signature.strip() or request.persona.name.strip()
    if not signature or body.rstrip().endswith(signature):
        return body
    return f"{body.rstrip()}\n{signature}"


def grounding_facts(request: DraftRequest) -> list[Fact]:
    """Facts the grounding check may trace claims to.

    Besides the recipient's facts: the sender (name, role, company, signature) as ``sender:*``, the
    campaign intent written by the team as ``campaign:*``, the reviewer's instruction as
    ``reviewer:instruction`` and earlier emails of the thread as ``thread:<n>``/``source_message``.
    Only recipient fact ids are reported in ``cited_fact_ids``.
    """
    facts: list[Fact] = [dict(f) for f in request.facts]

    def add(fact_id: str, kind: str, text: str, observed_at: str = "") -> None:
        if text.strip():
            fact: Fact = {"id": fact_id, "kind": kind, "text": text}
            if observed_at:
                fact["observed_at"] = observed_at
            facts.append(fact)

    persona, intent = request.persona, request.intent
    add("sender:name", "sender_name", persona.name)
    add("sender:role", "sender_role", persona.role)
    add("sender:company", "sender_company", persona.company)
    add("sender:signature", "sender_signature", persona.signature)
    add("campaign:goal", "campaign_goal", intent.goal)
    add("campaign:key_message", "campaign_key_message", intent.key_message)
    add("campaign:call_to_action", "campaign_call_to_action", intent.call_to_action)
    add("campaign:trigger_reason", "campaign_trigger_reason", intent.trigger_reason)
    add("reviewer:instruction", "reviewer_instruction", request.instruction)
    for n, message in enumerate(request.thread, start=1):
        add(
            f"thread:{n}",
            f"thread_{message.direction}",
            f"{message.subject}\n{message.body_text}",
            message.sent_at[:10],
        )
    if request.source_message:
        m = request.source_message
        add("source_message", "source_message", f"{m.subject}\n{m.body_text}", m.sent_at[:10])
    return facts


def _cited(model_ids: tuple[str, ...], claims: list[Claim], request: DraftRequest) -> tuple[str, ...]:
    """Recipient facts the model says it used, plus, for a supported claim none of those explain,
    the facts the grounding check traced it to; in the order of the request's facts."""
    known = [str(f["id"]) for f in request.facts]
    wanted: set[Any] = set(model_ids)
    for claim in claims:
        if claim["supported"] and not wanted.intersection(claim["fact_ids"]):
            wanted.update(claim["fact_ids"])
    return tuple(fact_id for fact_id in known if fact_id in wanted)
