"""compose(): sanitize inputs, call the provider, sanitize output, check grounding."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from . import grounding, sanitize, second_opinion
from .errors import DraftingError
from .pricing import cost_usd
from .providers import BatchProvider, Provider
from .types import BatchStatus, Claim, DraftRequest, DraftResult, Fact, RawDraft


def compose(request: DraftRequest, provider: Provider) -> DraftResult:
    """Write one draft for human review. Raises DraftingError with a storable reason on failure."""
    clean = sanitize.clean_request(request)
    return _finish(clean, provider.generate(clean), provider)


def compose_from_raw(request: DraftRequest, raw: RawDraft, provider: Provider) -> DraftResult:
    """The same as compose() for a draft the model already wrote elsewhere (a Message Batch result
    for this request): sanitized, grounding-checked and priced the same way."""
    return _finish(sanitize.clean_request(request), raw, provider)


def batch_requests(items: Sequence[tuple[str, DraftRequest]], provider: BatchProvider) -> BatchStatus:
    """Submit many drafts as one Message Batch: (custom_id, request) pairs, each request sanitized
    as compose() does, each with the same cached prefix as a single call."""
    return provider.batch_submit([(custom_id, sanitize.clean_request(r)) for custom_id, r in items])


def _finish(clean: DraftRequest, raw: RawDraft, provider: Provider) -> DraftResult:
    allowed_links = _allowed_links(clean, [raw.subject, raw.body_text])
    subject = sanitize.clean_subject(raw.subject)
    preview = sanitize.clean_subject(raw.preview_text, sanitize.MAX_PREVIEW)
    body, removed = sanitize.remove_unknown_links(sanitize.clean_body_text(raw.body_text), allowed_links)
    subject, removed_in_subject = sanitize.remove_unknown_links(subject, allowed_links)
    if not subject.strip() or not body.strip():
        raise DraftingError("invalid response: empty subject or body after sanitizing", retryable=True)
    body = _with_signature(body, clean)

    grounded = ground(clean, subject=subject, preview_text=preview, body_text=body, cleaned=True)
    claims, opinion_in, opinion_out = _second_opinion(clean, provider, grounded, raw.model)
    grounded = replace(grounded, claims=claims)
    return DraftResult(
        subject=grounded.subject,
        preview_text=grounded.preview_text,
        body_html=grounded.body_html,
        body_text=grounded.body_text,
        cited_fact_ids=_cited(raw.cited_fact_ids, grounded.claims, clean),
        claims=tuple(grounded.claims),
        unsupported_count=sum(1 for c in grounded.claims if not c["supported"]),
        provider=raw.provider,
        model=raw.model,
        input_tokens=raw.input_tokens + opinion_in,
        output_tokens=raw.output_tokens + opinion_out,
        cache_read_tokens=raw.cache_read_tokens,
        cache_write_tokens=raw.cache_write_tokens,
        # A batch result costs half; the second opinion is a single call at full price.
        cost_usd=cost_usd(
            raw.model,
            input_tokens=raw.input_tokens,
            output_tokens=raw.output_tokens,
            cache_read_tokens=raw.cache_read_tokens,
            cache_write_tokens=raw.cache_write_tokens,
            batch=raw.batch,
        )
        + cost_usd(raw.model, input_tokens=opinion_in, output_tokens=opinion_out),
        batch=raw.batch,
        removed_links=tuple(removed + removed_in_subject),
        withheld=tuple(grounded.withheld),
        unfiltered={"subject": subject, "preview_text": preview, "body_text": body},
    )


def _second_opinion(
    request: DraftRequest, provider: Provider, grounded: Grounded, model: str
) -> tuple[list[Claim], int, int]:
    """The model's opinion on the flags the rules may have got wrong, beside (never instead of) them."""
    ask = getattr(provider, "second_opinion", None)
    indices = second_opinion.undecided(grounded.claims)
    if not request.second_opinion or ask is None or not indices:
        return grounded.claims, 0, 0
    facts = grounding_facts(request)
    texts = {"subject": grounded.subject, "body_text": grounded.body_text}
    verdicts, tokens_in, tokens_out = ask(second_opinion.message_params(facts, texts, grounded.claims, indices, model))
    known = {str(f["id"]) for f in facts}
    return second_opinion.apply(grounded.claims, verdicts, indices, known), tokens_in, tokens_out


def _allowed_links(request: DraftRequest, output: list[str]) -> set[str]:
    """Links the email may carry: those in the inputs, and those on the organization's own domains."""
    allowed = sanitize.links_in(sanitize.request_texts(request))
    for link in sanitize.links_in(output):
        kind = "email" if "@" in link and "/" not in link else "link"
        if grounding.on_own_domain(kind, link, request.own_domains):
            allowed.add(link)
    return allowed


@dataclass(frozen=True)
class Grounded:
    """The texts after withholding untrusted-only claims, with their claims."""

    subject: str
    preview_text: str
    body_text: str
    body_html: str
    claims: list[Claim]
    withheld: list[dict[str, Any]]


def kept_key(text: str) -> str:
    """How a kept claim is matched again: links and addresses normalised, other text case-folded."""
    if sanitize.LINK_RE.fullmatch(text.strip()):
        return sanitize.normalise_link(text)
    return " ".join(text.split()).casefold()


_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")


def _sentence_range(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence around text[start:end]: from the last sentence end or line break before it to
    the next one after it (its full stop included)."""
    s = start
    while s > 0 and text[s - 1] != "\n" and not (text[s - 1] in " \t" and s >= 2 and text[s - 2] in ".!?"):
        s -= 1
    m = _SENTENCE_END.search(text, end)
    e = len(text) if m is None else (m.start() if m[0] == "\n" else m.end())
    return s, e


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r" +([.,;:!?])", r"\1", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _withhold(text: str, claims: list[Claim], kept: set[str], *, sentences: bool) -> tuple[str, list[dict[str, Any]]]:
    """Take untrusted-only claims not kept out of `text` (their whole sentence in a body)."""
    ranges: list[tuple[int, int, Claim]] = []
    for claim in claims:
        if claim.get("reason") == "untrusted_source" and kept_key(claim["text"]) not in kept:
            start, end = (
                _sentence_range(text, claim["start"], claim["end"]) if sentences else (claim["start"], claim["end"])
            )
            ranges.append((start, end, claim))
    if not ranges:
        return text, []
    ranges.sort(key=lambda r: r[0])
    merged: list[list[int]] = []
    for start, end, _ in ranges:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    withheld = []
    for start, _end, claim in ranges:
        block = next(m for m in merged if m[0] <= start < m[1] or m[0] == start)
        withheld.append(
            {
                "text": claim["text"],
                "kind": claim["kind"],
                "fact_ids": list(claim["fact_ids"]),
                "removed": text[block[0] : block[1]].strip(),
            }
        )
    out, pos = [], 0
    for start, end in merged:
        out.append(text[pos:start])
        pos = end
    out.append(text[pos:])
    return _tidy("".join(out)), withheld


def ground(
    request: DraftRequest, *, subject: str, preview_text: str, body_text: str, cleaned: bool = False
) -> Grounded:
    """Check the texts against every fact the email may use; take out (and list) the links,
    addresses, phone numbers, prices, discounts and deadlines that only untrusted sources contain,
    unless the reviewer kept them (`request.kept_untrusted`). Kept ones stay flagged, marked kept."""
    clean = request if cleaned else sanitize.clean_request(request)
    facts = grounding_facts(clean)
    kept = {kept_key(t) for t in clean.kept_untrusted}
    texts = {"subject": subject, "preview_text": preview_text, "body_text": body_text}
    claims: list[Claim] = []
    withheld: list[dict[str, Any]] = []
    for field_name, text in texts.items():
        found = grounding.check(text, facts, today=clean.today, own_domains=clean.own_domains)
        text, taken = _withhold(text, found, kept, sentences=field_name == "body_text")
        if taken:
            found = grounding.check(text, facts, today=clean.today, own_domains=clean.own_domains)
            withheld.extend({**w, "field": field_name} for w in taken)
        texts[field_name] = text
        for claim in found:
            if claim.get("reason") == "untrusted_source":
                claim["kept"] = True
            claims.append({**claim, "field": field_name})
    if not texts["subject"].strip():
        texts["subject"] = "A note from " + (clean.persona.company or clean.persona.name or "us")
    if not texts["body_text"].strip():
        raise DraftingError("invalid response: nothing left after removing untrusted links", retryable=True)
    allowed = _allowed_links(clean, [texts["subject"], texts["body_text"]])
    return Grounded(
        subject=texts["subject"],
        preview_text=texts["preview_text"],
        body_text=texts["body_text"],
        body_html=sanitize.text_to_html(texts["body_text"], allowed),
        claims=claims,
        withheld=withheld,
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
    Sender, campaign, reviewer and our own earlier emails are trusted; the recipient's replies and
    an inbound source message are untrusted, as are recipient facts marked so by their source.
    Only recipient fact ids are reported in ``cited_fact_ids``.
    """
    facts: list[Fact] = [dict(f) for f in request.facts]

    def add(fact_id: str, kind: str, text: str, observed_at: str = "", *, trusted: bool = True) -> None:
        if text.strip():
            fact: Fact = {"id": fact_id, "kind": kind, "text": text}
            if observed_at:
                fact["observed_at"] = observed_at
            if not trusted:
                fact["trust"] = "untrusted"
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
    add("campaign:audience", "campaign_audience", intent.audience)
    add("reviewer:instruction", "reviewer_instruction", request.instruction)
    for n, message in enumerate(request.thread, start=1):
        add(
            f"thread:{n}",
            f"thread_{message.direction}",
            f"{message.subject}\n{message.body_text}",
            message.sent_at[:10],
            # What we sent was approved by a person; what came back is anyone's text.
            trusted=message.direction == "outbound",
        )
    if request.source_message:
        m = request.source_message
        add(
            "source_message",
            "source_message",
            f"{m.subject}\n{m.body_text}",
            m.sent_at[:10],
            trusted=m.direction == "outbound",
        )
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
