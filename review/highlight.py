"""Safe HTML for a draft's text with its grounding claims marked, built from the stored spans."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


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


def _mark(claim: Mapping[str, Any], text: str) -> str:
    if claim.get("supported"):
        ids = ", ".join(str(i) for i in claim.get("fact_ids") or [])
        return f'<mark class="supported" title="Supported by fact {escape(ids)}">{escape(text)}</mark>'
    return (
        '<mark class="unsupported" title="Not found in the recipient\'s facts">'
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
