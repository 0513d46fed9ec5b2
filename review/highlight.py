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


def _mark(claim: Mapping[str, Any], text: str) -> str:
    if claim.get("supported"):
        ids = ", ".join(str(i) for i in claim.get("fact_ids") or [])
        return f'<mark class="supported" title="Supported by fact {escape(ids)}">{escape(text)}</mark>'
    reason = str(claim.get("reason") or "")
    if reason == "untrusted_source":
        why = "From an untrusted source: " + REASONS[reason] + (" (kept by the reviewer)" if claim.get("kept") else "")
        return (
            f'<mark class="unsupported untrusted" title="{_title(why)}" data-reason="{escape(reason)}">'
            f'{escape(text)}<span class="visually-hidden"> (from an untrusted source)</span></mark>'
        )
    why = (
        REASONS[reason][:1].upper() + REASONS[reason][1:] if reason in REASONS else "Not found in the recipient's facts"
    )
    data = f' data-reason="{escape(reason)}"' if reason else ""
    return (
        f'<mark class="unsupported" title="{_title(why)}"{data}>'
        f'{escape(text)}<span class="visually-hidden"> (unsupported claim)</span></mark>'
    )


def highlight(text: str, claims: Iterable[Mapping[str, Any]], *, field: str = "body_text") -> SafeString:
    """Escape every piece of `text` and wrap the claims of `field` in <mark>; newlines become <br>."""
    out: list[str] = []
    pos = 0
    for claim in _spans(claims, field, len(text)):
        out.append(escape(text[pos : claim["start"]]))
        out.append(_mark(claim, text[claim["start"] : claim["end"]]))
        pos = claim["end"]
    out.append(escape(text[pos:]))
    return mark_safe("".join(out).replace("\n", "<br>\n"))  # noqa: S308 - every piece is escaped above
