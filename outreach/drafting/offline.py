"""The offline provider: a deterministic writer, no network.

It writes a plain email only from the inputs, the way a person would: a greeting with the
first-name fact, one or two facts turned into full sentences ("I saw you downloaded the 'Churn
Playbook' guide."), the campaign's key message and call to action, and a sign-off. Same inputs,
same email (model "offline-template-v2").

It follows the step prompt and the reviewer's instruction in simple ways: "shorter" (one fact, no
opener), "longer", "mention the webinar" (the fact that says so goes first), "don't mention
pricing", "formal" / "warmer" / "change the opening". And it applies what reviewers taught it in
their edits of earlier drafts (`request.edit_examples`, see `learn`): the greeting they write,
sentences they always delete, and the length they cut to.

It never writes what the grounding check would have to withhold: no links or addresses from the
recipient's facts, and nothing from an untrusted fact that holds a price, phone number or date
to act by. Its drafts pass the grounding check with nothing unsupported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from difflib import SequenceMatcher
from typing import Any

from . import grounding
from .sanitize import LINK_RE
from .types import DraftRequest, EditExample, RawDraft

MODEL = "offline-template-v2"
FIRST_NAME_KINDS = ("first_name", "firstname", "given_name")
# Facts that describe who the person is rather than something that happened.
BASIC_KINDS = frozenset(
    {
        *FIRST_NAME_KINDS,
        "last_name",
        "name",
        "full_name",
        "email",
        "title",
        "role",
        "company",
        "phone",
        "timezone",
        "profile",
        "account_state",
    }
)
SENDER_KIND_PREFIX = "sender"
MAX_SUBJECT = 78
PAST_TENSE_IRREGULAR = frozenset(
    {"read", "met", "bought", "spoke", "wrote", "took", "saw", "went", "began", "sent", "made", "got", "gave", "told"}
)
OPENERS = ("", "I hope your week is going well.", "I hope you are well.")
FOLLOW_UP_OPENER = "Following up on my earlier email."


# --- What reviewers taught it ----------------------------------------------------------------


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]


def _shape(sentence: str) -> str:
    """A sentence with its figures and names blurred: the same template sentence matches."""
    text = re.sub(r"\d[\d,.]*", "#", sentence.lower())
    return " ".join(re.sub(r"[^\w#' ]", " ", text).split())


def _greeting_word(text: str) -> str | None:
    first = text.strip().split("\n", 1)[0].strip()
    m = re.match(r"^(hi|hello|hey|dear|good (?:morning|afternoon)|greetings)\b", first, re.I)
    return m[1] if m else None


def _words(text: str) -> int:
    return len(text.split())


@dataclass(frozen=True)
class Preferences:
    """What the reviewers' edits of this campaign and sender say about how they want it written."""

    greeting: str | None = None  # the word they open with ("Hello")
    removed: frozenset[str] = field(default_factory=frozenset)  # sentence shapes they delete
    phrases: tuple[str, ...] = ()  # runs of two or more words they delete from inside a sentence
    length_ratio: float = 1.0  # words kept, after / before (below 1: they shorten)

    @property
    def shorter(self) -> bool:
        return self.length_ratio < 0.95

    def apply(self, text: str) -> str:
        """The text without the sentences and phrases reviewers delete."""
        kept = [s for s in _sentences(text) if _shape(s) not in self.removed]
        out = " ".join(kept)
        for phrase in self.phrases:
            out = re.sub(r"\s*" + r"\s+".join(re.escape(w) for w in phrase.split()), "", out)
        return re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", out)).strip()


def _deleted_phrases(before: str, after: str) -> list[str]:
    """Runs of at least two words, without figures, that the edit deleted."""
    a, b = _TOKEN.findall(before), _TOKEN.findall(after)
    phrases = []
    for op, i1, i2, _, _ in SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        words = [t for t in a[i1:i2] if t[0].isalnum()]
        if op == "delete" and len(words) >= 2 and len(words) == i2 - i1:
            phrase = " ".join(words)
            if not re.search(r"\d", phrase):
                phrases.append(phrase)
    return phrases


_TOKEN = re.compile(r"\w[\w'’-]*|[^\w\s]")


def learn(examples: Sequence[EditExample]) -> Preferences:
    """Deterministic lessons from before -> after pairs: the greeting of the latest edit that has
    one, every sentence shape a reviewer deleted (and never wrote back), the median length kept."""
    if not examples:
        return Preferences()
    greeting = None
    removed: set[str] = set()
    kept: set[str] = set()
    phrases: list[str] = []
    ratios = []
    for example in examples:
        phrases.extend(p for p in _deleted_phrases(example.before, example.after) if p not in phrases)
        before = {_shape(s) for s in _sentences(example.before)}
        after = {_shape(s) for s in _sentences(example.after)}
        # Deleted, not rewritten: no sentence of the edit resembles it.
        removed |= {b for b in before - after if all(SequenceMatcher(a=b, b=a).ratio() < 0.6 for a in after)}
        kept |= after
        word = _greeting_word(example.after)
        if word and word != _greeting_word(example.before):
            greeting = word
        if _words(example.before):
            ratios.append(_words(example.after) / _words(example.before))
    ratios.sort()
    return Preferences(
        greeting=greeting,
        removed=frozenset(removed - kept),
        phrases=tuple(p for p in phrases if not any(p in example.after for example in examples)),
        length_ratio=ratios[len(ratios) // 2] if ratios else 1.0,
    )


# --- What the step prompt and the reviewer asked for ------------------------------------------


@dataclass(frozen=True)
class Ask:
    shorter: bool = False
    longer: bool = False
    mention: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    formal: bool = False
    warmer: bool = False
    new_opening: bool = False


_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "our",
        "your",
        "my",
        "their",
        "this",
        "that",
        "it",
        "them",
        "about",
        "to",
        "of",
        "for",
        "and",
        "or",
        "in",
        "on",
    ]
)


def _topic_words(phrase: str) -> tuple[str, ...]:
    phrase = re.split(r"\b(?:but|and|or|please|then|while|with)\b|[,.;:]", phrase.lower())[0]
    return tuple(w for w in re.findall(r"[\w'-]+", phrase) if w not in _STOP and len(w) > 2)


def parse_ask(*texts: str) -> Ask:
    """Simple, predictable readings of an instruction: no model, so no surprises."""
    text = " ".join(t for t in texts if t).lower()
    avoid: list[str] = []
    for m in re.finditer(
        r"\b(?:don't|do not|never|without|no|skip|leave out|drop)\s+(?:mention(?:ing)?\s+)?([\w' -]{3,40})", text
    ):
        avoid.extend(_topic_words(m[1])[:2])
    mention: list[str] = []
    for m in re.finditer(
        r"(?<!not )(?<!n't )\b(?:mention(?:s|ing)?|includes?|talks? about|brings? up|refers? to|highlights?)\s+([\w' -]{3,40})",
        text,
    ):
        mention.extend(w for w in _topic_words(m[1])[:2] if w not in avoid)
    return Ask(
        shorter=bool(
            re.search(r"\b(short|shorter|brief|briefer|concise|tighter|fewer words|kürzer|plus court)\b", text)
        ),
        longer=bool(re.search(r"\b(longer|more detail|more context|expand)\b", text)),
        mention=tuple(mention),
        avoid=tuple(avoid),
        formal=bool(re.search(r"\b(formal|more formal|professional)\b", text)),
        warmer=bool(re.search(r"\b(warm|warmer|friendlier|friendly|personal)\b", text)),
        new_opening=bool(re.search(r"\b(opening|opener|open with|start with|greeting|first line|intro)\b", text)),
    )


# --- Facts as sentences -----------------------------------------------------------------------


def _first_name(facts: Sequence[Mapping[str, Any]]) -> str:
    for fact in facts:
        if str(fact.get("kind", "")).lower() in FIRST_NAME_KINDS:
            name = str(fact.get("value") or fact.get("text") or "").strip()
            if name and len(name.split()) <= 2:
                return name
    return ""


def _sentence(text: str) -> str:
    text = " ".join(text.split()).strip()
    if not text:
        return ""
    ends_with_link = bool(LINK_RE.search(text.rsplit(" ", 1)[-1]))
    return text if text[-1] in ".!?" or ends_with_link else text + "."


def _human_dates(text: str) -> str:
    """2026-10-05 -> 5 October 2026, as a person writes it (the check reads both)."""

    def sub(m: re.Match[str]) -> str:
        try:
            day = date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return m[0]
        return f"{day.day} {day.strftime('%B')} {day.year}"

    return re.sub(r"\b(\d{4})-(\d{2})-(\d{2})\b", sub, text)


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    # Keep a capital that names something ("SSO", "Acme"): only an ordinary first word is lowered.
    return text[:1].lower() + text[1:] if first[1:].islower() or len(first) == 1 else text


def fact_sentence(fact: Mapping[str, Any], *, also: bool = False) -> str:
    """One fact as a sentence a person would write to its subject."""
    text = _human_dates(" ".join(str(fact.get("text") or "").split())).rstrip(".")
    kind = str(fact.get("kind") or "").lower()
    first = text.split(" ", 1)[0]
    rest = text.split(" ", 1)[1] if " " in text else ""
    if m := re.match(r"^Plan:\s*(.+)$", text, re.I):
        return f"You are on the {m[1]} plan."
    if m := re.match(r"^On the (.+) plan$", text, re.I):
        return f"You are on the {m[1]} plan."
    if m := re.match(r"^(?:Has|Have) not (.+)$", text, re.I):
        return f"It looks like you have not {m[1]} yet." if "yet" not in m[1] else f"It looks like you have not {m[1]}."
    if m := re.match(r"^(?:Has|Have) (.+)$", text, re.I):
        return f"You have {m[1]}."
    if m := re.match(r"^Is (.+)$", text, re.I):
        return f"You are {m[1]}."
    if m := re.match(r"^(Contract|Subscription|Account|Trial|Renewal|Plan|Team|Usage)\b(.*)$", text):
        return f"Your {m[1].lower()}{m[2]}."
    if first.lower().endswith("ed") or first.lower() in PAST_TENSE_IRREGULAR:
        verb = first.lower()
        return f"You also {verb} {rest}." if also else f"I saw you {verb} {rest}."
    if kind == "account_renewal":
        return f"Your {_lower_first(text)}."
    return f"A note I have here: {text}."


def _usable(fact: Mapping[str, Any], ask: Ask) -> bool:
    kind = str(fact.get("kind", "")).lower()
    text = str(fact.get("text", ""))
    if kind in BASIC_KINDS or kind.startswith(SENDER_KIND_PREFIX) or not text.strip():
        return False
    if LINK_RE.search(text):  # never repeat an address or link from our records in a template email
        return False
    if not grounding.is_trusted(dict(fact)):
        # Nothing the grounding check would withhold: prices, phone numbers, discounts, deadlines.
        restricted = [
            c for c in grounding.find_claims(fact_sentence(fact)) if grounding.is_restricted(fact_sentence(fact), c)
        ]
        if restricted:
            return False
    lowered = text.lower()
    return not any(word in lowered for word in ask.avoid)


def _event_facts(facts: Sequence[Mapping[str, Any]], limit: int, ask: Ask) -> list[Mapping[str, Any]]:
    candidates = [f for f in facts if _usable(f, ask)]
    # Newest first, ties by id: the same facts always give the same email; asked-for ones first.
    candidates.sort(key=lambda f: (str(f.get("observed_at") or ""), str(f.get("id"))), reverse=True)
    if ask.mention:
        candidates.sort(key=lambda f: not any(w in str(f.get("text", "")).lower() for w in ask.mention))
    return candidates[:limit]


def _subject(text: str) -> str:
    """A subject under MAX_SUBJECT characters, never cut mid-thought with an ellipsis: the first
    sentence or clause that fits, else whole words that fit."""
    text = " ".join(text.split())
    if len(text) <= MAX_SUBJECT:
        return text.rstrip(".")
    for piece in re.split(r"(?<=[.!?;:])\s+|,\s+|\s+[–—-]\s+", text):
        if 0 < len(piece) <= MAX_SUBJECT:
            return piece.rstrip(".;:,")
    words, out = text.split(), ""
    for word in words:
        if len(out) + len(word) + 1 > MAX_SUBJECT:
            break
        out = f"{out} {word}".strip()
    return out.rstrip(".;:,")


class OfflineProvider:
    name = "offline"
    model = MODEL

    def generate(self, request: DraftRequest) -> RawDraft:
        facts = tuple(request.facts)
        intent = request.intent
        step_prompt = intent.goal.split("This email:", 1)[1] if "This email:" in intent.goal else ""
        ask = parse_ask(step_prompt, request.instruction)
        taught = learn(tuple(request.edit_examples))
        shorter = (ask.shorter or taught.shorter) and not ask.longer
        limit = 1 if shorter else 3 if ask.longer else 2
        first_name = _first_name(facts)
        used = _event_facts(facts, limit, ask)

        word = "Dear" if ask.formal else taught.greeting or "Hi"
        greeting = f"{word} {first_name}," if first_name else ("Dear all," if ask.formal else "Hello,")
        opener = ""
        if request.is_follow_up:
            opener = FOLLOW_UP_OPENER
        elif ask.warmer or ask.new_opening:
            opener = OPENERS[1] if ask.warmer else OPENERS[2]
        elif not shorter:
            opener = OPENERS[0]
        sentences = [fact_sentence(f, also=i > 0) for i, f in enumerate(used)]
        paragraphs = [greeting]
        middle = " ".join(s for s in (opener, *sentences) if s)
        key_message = _sentence(intent.key_message) if intent.key_message.strip() else ""
        cta = _sentence(intent.call_to_action) if intent.call_to_action.strip() else ""
        for part in (middle, key_message, cta):
            kept = taught.apply(part) if part else ""
            if kept:
                paragraphs.append(kept)
        paragraphs.append("Best regards," if ask.formal else "Best,")

        subject = _subject(intent.key_message.strip().split("\n")[0] or intent.goal.strip().split("\n")[0] or "A note")
        if request.is_follow_up:
            first_subject = next((m.subject for m in request.thread if m.direction == "outbound" and m.subject), "")
            if first_subject:
                subject = first_subject if first_subject.lower().startswith("re:") else f"Re: {first_subject}"
        body = "\n\n".join(paragraphs)
        preview = _subject(intent.call_to_action)[:120] if intent.call_to_action.strip() else ""
        return RawDraft(
            subject=subject,
            preview_text=preview,
            body_text=body,
            cited_fact_ids=tuple(str(f["id"]) for f in used),
            provider=self.name,
            model=self.model,
        )
