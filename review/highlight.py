"""Safe HTML for a draft's text with its grounding claims marked, built from the stored spans."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from outreach.drafting.grounding import REASONS


def _spans(claims: Iterable[Mapping[str, Any]], field: str, length: int) -> list[Mapping[str, Any]]:
    spans = []
    for claim in claims:
        if claim.get("field", "body_text") != field:
            continue
        start, end = claim.get("start"), claim.get("end")
        if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end <= length:
            continue  # a span that does not fit the text is ignored rather than guessed
        spans.append(claim)
    spans.sort(key=lambda c: (c["start"], -c["end"]))
    kept: list[Mapping[str, Any]] = []
    for claim in spans:
        if kept and claim["start"] < kept[-1]["end"]:
            continue  # overlapping claims: the first, longest one wins
        kept.append(claim)
    return kept


def _title(text: str) -> str:
    """An attribute value in double quotes: apostrophes stay readable."""
    return str(escape(text)).replace("&#x27;", "'")


def _why_unsupported(claim: Mapping[str, Any]) -> str:
    reason = str(claim.get("reason") or "")
    if reason == "untrusted_source":
        return "From an untrusted source: " + REASONS[reason] + (" (kept by the reviewer)" if claim.get("kept") else "")
    if reason in REASONS:
        return REASONS[reason][:1].upper() + REASONS[reason][1:]
    return "Not found in the recipient's facts"


def _mark(claim: Mapping[str, Any], text: str, facts: Mapping[str, str] | None) -> str:
    """Supported claims are quiet (a dotted underline); unsupported ones loud. Both can take focus, and
    show why on hover and on focus; a screen reader hears the fact (aria-describedby) or the reason."""
    if claim.get("supported"):
        ids = [str(i) for i in claim.get("fact_ids") or []]
        known = [i for i in ids if facts is not None and i in facts]
        if not known:
            return f'<mark class="supported" title="Supported by fact {escape(", ".join(ids))}">{escape(text)}</mark>'
        tip = "Fact: " + " · ".join(facts[i] for i in known)  # type: ignore[index]
        described = " ".join(f"fact-{escape(i)}" for i in known)
        return (
            f'<mark class="supported" tabindex="0" data-tip="{_title(tip)}" aria-describedby="{described}">'
            f"{escape(text)}</mark>"
        )
    reason = str(claim.get("reason") or "")
    why = _why_unsupported(claim)
    data = f' data-reason="{escape(reason)}"' if reason else ""
    css = "unsupported untrusted" if reason == "untrusted_source" else "unsupported"
    spoken = "from an untrusted source" if reason == "untrusted_source" else f"unsupported claim: {why}"
    return (
        f'<mark class="{css}" tabindex="0" title="{_title(why)}" data-tip="{_title(why)}"{data}>'
        f'{escape(text)}<span class="visually-hidden"> ({_title(spoken)})</span></mark>'
    ) + _opinion(claim)


def opinion_words(claim: Mapping[str, Any]) -> str:
    """The model's second opinion on a flagged claim, in words ("the model cites fact 12"), or ""."""
    opinion = claim.get("model_opinion")
    if not isinstance(opinion, Mapping):
        return ""
    verdict = str(opinion.get("verdict") or "")
    ids = [str(i) for i in opinion.get("fact_ids") or []]
    if verdict == "supported":
        return f"the model cites fact {', '.join(ids)}" if ids else "the model thinks the facts say this"
    if verdict == "unsupported":
        return "the model agrees no fact says this"
    return "the model is unsure"


def _opinion(claim: Mapping[str, Any]) -> str:
    """The model's second opinion beside the rule's flag (which it never replaces)."""
    words = opinion_words(claim)
    if not words:
        return ""
    verdict = str(claim["model_opinion"].get("verdict") or "")
    return f' <small class="second-opinion" data-verdict="{escape(verdict)}">({escape(words)})</small>'


def unsupported_claims(claims: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The claims a reviewer must look at, with why, for the list above the email."""
    return [
        {
            "text": str(c.get("text") or ""),
            "why": _why_unsupported(c),
            "field": str(c.get("field", "body_text")),
            "opinion": opinion_words(c),
        }
        for c in claims
        if not c.get("supported") and c.get("text")
    ]


def highlight(
    text: str, claims: Iterable[Mapping[str, Any]], *, field: str = "body_text", facts: Mapping[str, str] | None = None
) -> SafeString:
    """Escape every piece of `text` and wrap the claims of `field` in <mark>; newlines become <br>.
    `facts` ({id: text}, the facts listed on the same page as `id="fact-<id>"`) lets a supported claim
    point at its fact for keyboards and screen readers."""
    out: list[str] = []
    pos = 0
    for claim in _spans(claims, field, len(text)):
        out.append(escape(text[pos : claim["start"]]))
        out.append(_mark(claim, text[claim["start"] : claim["end"]], facts))
        pos = claim["end"]
    out.append(escape(text[pos:]))
    return mark_safe("".join(out).replace("\n", "<br>\n"))  # noqa: S308 - every piece is escaped above
