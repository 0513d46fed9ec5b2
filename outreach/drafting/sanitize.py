"""Cleaning of text on its way to the model and of model output on its way to the database.

Inputs keep their literal content (a fact saying "ignore previous instructions" stays as data, it
is quoted to the model, never obeyed); we only remove characters that hide text from a human
reviewer (zero-width, bidi controls, Unicode tag characters, other control characters: the
definition in outreach.core.text, which person-facing fields are also cleaned with when stored)
and cap lengths.

Output: the body is treated as plain text. Tags are stripped (script/style with their content),
then HTML is rebuilt by us from paragraphs and passed through a bleach allow-list. Links are kept
only when the same URL appears in the inputs (campaign intent, call to action, facts, persona,
thread); any other link is removed from the text and listed in ``removed_links`` so the reviewer
can see what the model tried to add.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from typing import Any

import bleach  # type: ignore[import-untyped]

from outreach.core.text import strip_hidden

from .types import DraftRequest, EditExample, Fact, Intent, Persona, StyleExample, ThreadMessage

MAX_FACT_TEXT = 1_000
MAX_SHORT = 200
MAX_FIELD = 2_000
MAX_MESSAGE = 6_000
MAX_SUBJECT = 200
MAX_PREVIEW = 200
MAX_BODY = 10_000
# One style example (an approved email body) in the prompt.
MAX_STYLE_BODY = 1_500

ALLOWED_TAGS = frozenset({"p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "a"})
ALLOWED_ATTRIBUTES = {"a": ["href", "rel"]}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})

_LINE_SEPARATORS = {"\u2028": "\n", "\u2029": "\n", "\r\n": "\n", "\r": "\n"}
_SCRIPT_RE = re.compile(r"<(script|style)\b[^>]*>.*?(</\1\s*>|$)", re.IGNORECASE | re.DOTALL)
_BREAK_RE = re.compile(r"<br\s*/?>|</p\s*>|</li\s*>", re.IGNORECASE)
# Links the model may write: full URLs, www. hosts, mailto: and bare email addresses.
LINK_RE = re.compile(
    r"(?:https?://|mailto:|www\.)[^\s<>\"'()\[\]]+|\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b",
    re.IGNORECASE,
)


def clean_text(value: Any, max_len: int = MAX_FIELD, *, single_line: bool = False) -> str:
    """Remove hidden and control characters, normalise newlines, cap the length."""
    if value is None:
        return ""
    text = str(value)
    for old, new in _LINE_SEPARATORS.items():
        text = text.replace(old, new)
    # The app's one definition of hidden characters (zero-width, bidi, tags, controls; joiners
    # that shape a script or an emoji stay). outreach.core.text is pure Python, like this package.
    text = strip_hidden(text)
    text = unicodedata.normalize("NFC", text)
    if single_line:
        text = " ".join(text.split())
    else:
        text = "\n".join(line.rstrip() for line in text.split("\n")).strip()
        text = re.sub(r"\n{3,}", "\n\n", text)
    return truncate(text, max_len)


def truncate(text: str, max_len: int) -> str:
    """Cut at a word boundary when possible, marking the cut with an ellipsis."""
    if len(text) <= max_len:
        return text
    cut = text[: max_len - 1]
    space = cut.rfind(" ")
    if space > max_len // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def clean_fact(fact: Mapping[str, Any], index: int) -> Fact:
    value = fact.get("value")
    if value is not None and not isinstance(value, int | float):
        value = clean_text(value, MAX_FACT_TEXT)
    cleaned: Fact = {
        "id": clean_text(fact.get("id") or f"fact-{index}", 100, single_line=True),
        "kind": clean_text(fact.get("kind"), 100, single_line=True),
        "text": clean_text(fact.get("text"), MAX_FACT_TEXT),
    }
    if value is not None and value != "":
        cleaned["value"] = value
    observed = fact.get("observed_at")
    if observed:
        cleaned["observed_at"] = clean_text(observed, 40, single_line=True)
    if fact.get("trust") not in (None, ""):
        # Anything but "trusted" is untrusted: a typo never makes a source trusted.
        cleaned["trust"] = "trusted" if str(fact["trust"]).strip().lower() == "trusted" else "untrusted"
    return cleaned


# Text that talks to a model rather than about a person. Such a fact stays data (quoted to the
# model, supporting only its literal content); review shows it with a warning.
INSTRUCTION_RE = re.compile(
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)*(?:previous|prior|above|earlier|"
    r"preceding|other|system)?\s*(?:instructions?|prompts?|rules|directions)\b"
    r"|\byou are now\b|\bfrom now on,? you\b|\bact as\b|\bpretend (?:to be|you are)\b"
    r"|\bsystem prompt\b|\bnew instructions?\b|\bdo not tell\b"
    r"|\b(?:send|forward|email|mail)\s+(?:it|this|that|them|everything|the\s+\w+|all\s+\w+)?\s*to\b"
    r"|\binclude (?:this|the following) (?:link|url|address)\b"
    r"|\bignorez les instructions\b|\bignoriere (?:alle )?(?:vorherigen )?anweisungen\b|\bignora las instrucciones\b",
    re.IGNORECASE,
)


def looks_like_instruction(text: str) -> bool:
    """Does this text read like an instruction to a model ("ignore previous instructions", "you
    are now", "send to")?"""
    return bool(INSTRUCTION_RE.search(text or ""))


def _clean_message(message: ThreadMessage) -> ThreadMessage:
    return ThreadMessage(
        direction="inbound" if message.direction == "inbound" else "outbound",
        subject=clean_text(message.subject, MAX_SUBJECT, single_line=True),
        body_text=clean_text(message.body_text, MAX_MESSAGE),
        sent_at=clean_text(message.sent_at, 40, single_line=True),
    )


def clean_request(request: DraftRequest) -> DraftRequest:
    """A copy of the request with every string cleaned."""
    intent = Intent(
        goal=clean_text(request.intent.goal),
        key_message=clean_text(request.intent.key_message),
        call_to_action=clean_text(request.intent.call_to_action),
        trigger_reason=clean_text(request.intent.trigger_reason),
        campaign=clean_text(request.intent.campaign, MAX_SHORT, single_line=True),
        audience=clean_text(request.intent.audience),
    )
    persona = Persona(
        name=clean_text(request.persona.name, MAX_SHORT, single_line=True),
        role=clean_text(request.persona.role, MAX_SHORT, single_line=True),
        company=clean_text(request.persona.company, MAX_SHORT, single_line=True),
        tone=clean_text(request.persona.tone, MAX_SHORT),
        signature=clean_text(request.persona.signature, 500),
    )
    return replace(
        request,
        intent=intent,
        persona=persona,
        facts=[clean_fact(f, i) for i, f in enumerate(request.facts, start=1)],
        thread=[_clean_message(m) for m in request.thread],
        source_message=_clean_message(request.source_message) if request.source_message else None,
        instruction=clean_text(request.instruction, 500),
        edit_examples=[
            EditExample(
                before=clean_text(e.before, MAX_MESSAGE),
                after=clean_text(e.after, MAX_MESSAGE),
                ref=clean_text(e.ref, 40, single_line=True),
            )
            for e in request.edit_examples
        ],
        # Earlier emails are data: tags stripped (bleach), hidden characters gone, capped.
        style_examples=[
            StyleExample(subject=clean_subject(e.subject), body=clean_text(strip_tags(e.body), MAX_STYLE_BODY))
            for e in request.style_examples
        ],
    )


# --- Output ---------------------------------------------------------------------------------


def clean_subject(value: Any, max_len: int = MAX_SUBJECT) -> str:
    """One line of plain text: no tags, no CR/LF (header injection), trimmed and capped."""
    text = strip_tags(str(value or ""))
    return clean_text(text, max_len, single_line=True)


def strip_tags(text: str) -> str:
    """Plain text from text that may contain HTML: scripts and styles go with their content."""
    text = _SCRIPT_RE.sub("", text)
    text = _BREAK_RE.sub("\n", text)
    text = bleach.clean(text, tags=set(), attributes={}, strip=True, strip_comments=True)
    return html.unescape(text)


def normalise_link(url: str) -> str:
    url = url.strip().rstrip(".,;:!?").lower()
    url = re.sub(r"^mailto:", "", url)
    url = re.sub(r"^https?://", "", url)
    url = re.sub(r"^www\.", "", url)
    return url.rstrip("/")


def links_in(texts: Iterable[str]) -> set[str]:
    """Normalised links found in some texts."""
    return {normalise_link(m.group(0)) for text in texts for m in LINK_RE.finditer(text or "")}


def request_texts(request: DraftRequest) -> list[str]:
    """Every input text a link or claim in the output may legitimately come from."""
    texts = [
        request.intent.goal,
        request.intent.key_message,
        request.intent.call_to_action,
        request.intent.trigger_reason,
        request.persona.signature,
        request.instruction,
    ]
    for fact in request.facts:
        texts.append(str(fact.get("text") or ""))
        texts.append(str(fact.get("value") or ""))
    messages = [*request.thread, *([request.source_message] if request.source_message else [])]
    texts.extend(m.body_text for m in messages)
    return texts


def remove_unknown_links(text: str, allowed: Collection[str]) -> tuple[str, list[str]]:
    """Drop links that do not appear in the inputs; return the new text and what was removed."""
    removed: list[str] = []

    def _sub(match: re.Match[str]) -> str:
        link = match.group(0).rstrip(".,;:!?")
        tail = match.group(0)[len(link) :]
        if normalise_link(link) in allowed:
            return match.group(0)
        removed.append(link)
        return tail

    cleaned = LINK_RE.sub(_sub, text)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned)
    cleaned = re.sub(r" +([.,;:!?])", r"\1", cleaned)
    return cleaned, removed


def clean_body_text(value: Any) -> str:
    return clean_text(strip_tags(str(value or "")), MAX_BODY)


def _link_attrs(allowed: Collection[str]) -> Any:
    def callback(attrs: dict[Any, str], new: bool = False) -> dict[Any, str] | None:
        href = attrs.get((None, "href"), "")
        scheme = href.split(":", 1)[0].lower() if ":" in href else ""
        if scheme not in ALLOWED_PROTOCOLS or normalise_link(href) not in allowed:
            return None  # keep the text, drop the link
        attrs[(None, "rel")] = "nofollow noopener"
        return attrs

    return callback


def clean_body_html(value: str, allowed_links: Collection[str] = ()) -> str:
    """Sanitize HTML with the allow-list; links survive only if allowed, and get rel=nofollow noopener."""
    cleaned = bleach.clean(
        _SCRIPT_RE.sub("", value or ""),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        protocols=ALLOWED_PROTOCOLS,
        strip=True,
        strip_comments=True,
    )
    # linkify runs the callback on existing <a> tags too, so one pass vets every link.
    return bleach.linkify(cleaned, callbacks=[_link_attrs(set(allowed_links))], parse_email=True)


def text_to_html(text: str, allowed_links: Collection[str] = ()) -> str:
    """Our own HTML for a plain-text body: one <p> per paragraph, <br> for line breaks, allowed links."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    parts = ["<p>" + "<br>".join(html.escape(line) for line in p.split("\n")) + "</p>" for p in paragraphs]
    return clean_body_html("".join(parts), allowed_links)
