"""The grounding check: find what a recipient could check in a draft and trace it to the facts.

A claim is a number, percentage, amount of money, time, date or relative date, link or email
address, the name of a person, company, product, plan or event, or an event such as "you attended"
or "your renewal". It is supported when a fact says the same thing, even in another form:

- numbers and money are compared numerically (8,400 EUR == €8,400; $1.2k == 1,200 USD);
- dates are parsed and compared as spans: a claim is supported when a fact's date lies within
  the span the claim names ("last month" covers every day of last month, "5 October" only the
  5th). Relative dates are resolved against `today`; relative dates inside facts against the
  fact's `observed_at`. A fact without a date of its own is dated by its `observed_at`;
- names are matched word by word, case-insensitively: every word of the name must appear in
  one fact ("Churn Playbook" in "Downloaded the 'Churn Playbook' guide"; "Analytics Pro" needs both);
- events are matched by verb families ("you joined" is supported by "Signed up 2026-10-05").

Capitalised words that start a sentence, greetings and sign-offs, and common words are not names.
The rules are plain and readable on purpose; false alarms are cheaper than a missed invention
because a reviewer reads every draft.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from .sanitize import LINK_RE, normalise_link


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# --- Vocabulary -----------------------------------------------------------------------------

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
# German, French and Spanish month names (lower case; accents optional where people drop them).
FOREIGN_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("januar", "janvier", "enero", "jänner"),
            ("februar", "février", "fevrier", "febrero"),
            ("märz", "maerz", "mars", "marzo"),
            ("avril", "abril"),
            ("mai", "mayo"),
            ("juni", "juin", "junio"),
            ("juli", "juillet", "julio"),
            ("août", "aout", "agosto"),
            ("septembre", "septiembre", "setiembre"),
            ("oktober", "octobre", "octubre"),
            ("novembre", "noviembre"),
            ("dezember", "décembre", "decembre", "diciembre"),
        ],
        start=1,
    )
    for name in names
}
MONTHS.update(FOREIGN_MONTHS)
WEEKDAYS = {name: i for i, name in enumerate(calendar.day_name)}
WEEKDAYS_LOWER = {name.lower(): i for name, i in WEEKDAYS.items()}

NUMBER_WORDS = {
    "one": 1,
    "a": 1,
    "an": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "hundred": 100,
    "dozen": 12,
    "twice": 2,
    "couple": 2,
}
# Number words that are claims on their own ("one", "a", "couple" are too common to flag).
CLAIM_NUMBER_WORDS = [w for w in NUMBER_WORDS if w not in {"one", "a", "an", "couple", "hundred"}]

CURRENCIES = {
    "€": "EUR",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "$": "USD",
    "usd": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "£": "GBP",
    "gbp": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
}
MULTIPLIERS = {
    "k": 1_000,
    "m": 1_000_000,
    "bn": 1_000_000_000,
    "thousand": 1_000,
    "million": 1_000_000,
    "mio": 1_000_000,
    "tsd": 1_000,
}
MONEY_WORDS = re.compile(
    r"€|\$|£|\b(?:eur|usd|gbp|euros?|dollars?|pounds?|value|price|amount|revenue|arr|mrr|spend|cost|budget)\b", re.I
)
PERCENT_WORDS = re.compile(r"%|\bper ?cent\b|\brate\b", re.I)

# Words that are capitalised because of where they stand, not because they name something.
STOP_WORDS = _words(
    """
    a about after again all also although am an and another any anyway are as at be because been
    before being both but by can could did do does doing done each either even ever every few for from
    had has have having he her here hers him his how however i if in into is it its just least let
    like many may maybe me might more most much must my neither no nor not now of off on once one only
    or other our ours out over own perhaps please quite rather really same she should since so some
    such than that the their theirs them then there these they this those though through to too under
    until up upon us very was we well were what whatever when where whether which while who whom whose
    why will with within without would yes yet you your yours yourself
    hi hello hey dear greetings thanks thank cheers best regards kind warm warmly sincerely
    morning afternoon evening good great glad happy hope hoping excited quick quickly short
    congrats congratulations welcome noticed saw seeing curious wanted wondering looking following
    given per re fwd fw ps pps note btw fyi reminder update news today tomorrow yesterday
    team teams folks everyone mr mrs ms dr prof sir madam customer customers company companies
    people users user clients client shall lets let's imagine ready need want wish
    sorry apologies unfortunately fortunately plus finally first second next last
    absolutely certainly definitely totally actually honestly frankly basically simply
    two three four five six seven eight nine ten
    see feel check take find get enjoy try make keep grab read learn love know think share send
    reach book schedule join reply start give show tell ask use explore discover meet talk chat call
    watch download sign register visit click sure instead otherwise meanwhile ahead write
    urgent important reminder heads action
    """
)
# German capitalises every noun: the common ones of a business email are not names.
STOP_WORDS |= _words(
    """
    vertrag verträge jahr jahre jahren monat monate monaten woche wochen tag tage tagen mal zeit kunde
    kunden nutzer nutzerin konto termin termine angebot rabatt preis preise produkt frage fragen anruf
    gespräch dank unternehmen firma lizenz lizenzen plan paket rechnung zugang daten bericht berichte
    funktion funktionen anmeldung verlängerung nutzung mitarbeiter mitarbeitende vorschlag zusammenarbeit
    erfolg ziel ziele ergebnis ergebnisse einladung unterstützung hilfe möglichkeit lösung schritt
    """
)
# The same for German, French and Spanish emails: greetings, pronouns, articles, prepositions.
STOP_WORDS |= _words(
    """
    hallo liebe lieber sehr geehrte geehrter danke vielen dank grüße gruß beste freundliche herzliche
    sie wir ich ihr ihre ihnen ihren uns unser unsere es ist sind war haben hat hatten wie was wann
    wo warum der die das den dem des ein eine einen und oder aber mit für von zu bei nach seit im am
    auf aus bis über unter vor heute morgen gestern schon noch auch nur gerne bitte kurz neue neuen
    bonjour salut cher chère merci cordialement bien vous nous je il elle ils elles le la les un une
    des et ou mais avec pour dans sur depuis chez votre vos notre nos ce cette ces aujourd'hui demain
    hier aussi très déjà encore bonne belle
    hola buenos buenas estimado estimada gracias saludos atentamente usted ustedes nosotros yo él
    ella el los las una unos unas y o pero con para desde en su sus nuestro nuestra este esta estos
    hoy mañana ayer también muy ya todavía se le les lo al del
    """
)
ACRONYMS = _words("roi api crm faq pdf ceo cto cfo coo vp ps fyi am pm utc ok saas b2b b2c q&a asap")
CONNECTORS = frozenset({"of", "for", "&", "de", "van", "von", "der", "la", "du"})

# Event verbs and the fact words (stems or phrases) that support them.
EVENT_FAMILIES: dict[str, tuple[str, ...]] = {
    "attend": ("attend", "participat", "went to", "joined the"),
    "signup": (
        "join",
        "signed up",
        "sign up",
        "signup",
        "sign-up",
        "regist",
        "subscrib",
        "created an account",
        "creat",
        "onboard",
    ),
    "login": ("logged in", "log in", "login", "logged", "signed in", "active"),
    "download": ("download",),
    "visit": ("visit", "view", "looked at", "brows", "opened"),
    "upgrade": ("upgrad",),
    "downgrade": ("downgrad",),
    "renew": ("renew",),
    "cancel": ("cancel", "churn"),
    "purchase": ("bought", "purchas", "order", "buy"),
    "book": ("book", "schedul"),
    "request": ("request", "ask"),
    "start": ("start", "began", "trial"),
    "try": ("tried", "trial", "try"),
    "use": ("use", "using", "usage"),
    "complete": ("complet", "finish"),
    "reply": ("repl", "wrote", "respond", "asked", "mention", "said", "told"),
    "meet": ("met", "meet", "spoke", "speak", "talk", "call", "chat", "conversation", "demo"),
    "invite": ("invit",),
    "open": ("open",),
    "click": ("click",),
    "read": ("read",),
    "watch": ("watch",),
    "share": ("shar",),
}
EVENT_VERBS: dict[str, str] = {
    "attended": "attend",
    "joined": "signup",
    "signed up": "signup",
    "registered": "signup",
    "subscribed": "signup",
    "logged in": "login",
    "logged into": "login",
    "downloaded": "download",
    "visited": "visit",
    "viewed": "visit",
    "upgraded": "upgrade",
    "downgraded": "downgrade",
    "renewed": "renew",
    "cancelled": "cancel",
    "canceled": "cancel",
    "bought": "purchase",
    "purchased": "purchase",
    "ordered": "purchase",
    "booked": "book",
    "scheduled": "book",
    "requested": "request",
    "asked": "request",
    "started": "start",
    "tried": "try",
    "used": "use",
    "completed": "complete",
    "finished": "complete",
    "replied": "reply",
    "mentioned": "reply",
    "told": "reply",
    "wrote": "reply",
    "met": "meet",
    "spoke": "meet",
    "talked": "meet",
    "chatted": "meet",
    "invited": "invite",
    "opened": "open",
    "clicked": "click",
    "watched": "watch",
    "shared": "share",
}
EVENT_NOUNS: dict[str, str] = {
    "renewal": "renew",
    "trial": "try",
    "subscription": "signup",
    "registration": "signup",
    "signup": "signup",
    "sign-up": "signup",
    "order": "purchase",
    "purchase": "purchase",
    "upgrade": "upgrade",
    "download": "download",
    "visit": "visit",
    "demo": "meet",
    "meeting": "meet",
    "call": "meet",
    "booking": "book",
    "cancellation": "cancel",
    "request": "request",
    "reply": "reply",
}

# --- Patterns -------------------------------------------------------------------------------

_FOREIGN = "|".join(sorted((m for m in FOREIGN_MONTHS if m not in {"mars", "mai", "mayo"}), key=len, reverse=True))
_MONTH_FULL = (
    r"(?:(?i:january|february|april|june|july|august|september|october|november|december"
    rf"|{_FOREIGN})|March|May|M[äa]rz|Mars|Mai|Mayo|mars|mai|mayo)"
)
_MONTH = rf"(?:{_MONTH_FULL}|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?)"
# "5th", "5." (German), "5 de" (Spanish), "le 5" is matched by the day alone.
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th|er|\.)?(?:\s+de)?"
_YEAR = r"(?P<year>(?:19|20)\d{2})"
_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?|\d+(?:\.\d+)?"
# 8.400 / 8 400 / 8.400,50 / 12,50 before a currency: the European way of writing numbers.
_NUM_EU = r"\d{1,3}(?:[. \u00a0\u202f]\d{3})+(?:,\d{1,2})?(?![\d.,])|\d+,\d{1,2}(?![\d.,])"
_NUMWORD = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
_WEEKDAY = "|".join(WEEKDAYS)

LINK = LINK_RE
MONEY_PATTERNS = [
    re.compile(rf"(?P<cur>[€$£])\s?(?P<num>{_NUM})(?:\s?(?P<mult>(?i:bn|k|m|thousand|million))\b)?"),
    re.compile(rf"\b(?P<cur>(?i:EUR|USD|GBP))\s?(?P<num>{_NUM})(?:\s?(?P<mult>(?i:bn|k|m|thousand|million))\b)?"),
    re.compile(
        rf"(?<![\w.,])(?P<num>{_NUM_EU}|{_NUM})(?:\s?(?P<mult>(?i:bn|k|m|thousand|million|mio|tsd))\b\.?)?\s?"
        r"(?P<cur>[€$£]|(?i:eur|usd|gbp|euros?|dollars?|pounds?)\b)"
    ),
]
PERCENT = re.compile(rf"(?<![\w.,])(?P<num>{_NUM}|\d+,\d+)\s?(?:%|(?i:per ?cent)\b)")
TIME = re.compile(r"\b\d{1,2}(?::\d{2})?\s?(?i:am|pm|a\.m\.|p\.m\.)(?!\w)|\b\d{1,2}:\d{2}\b")
DATE_PATTERNS = [
    re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})\b"),
    re.compile(rf"\b{_DAY}(?:\s+of)?\s+(?P<month>{_MONTH})(?:,?\s+(?:de\s+)?{_YEAR})?(?!\w)"),
    re.compile(rf"\b(?P<month>{_MONTH})\s+{_DAY}\b(?!:)(?:,?\s+{_YEAR}\b)?"),
    re.compile(rf"\b(?P<month>{_MONTH}),?\s+{_YEAR}\b"),
    re.compile(
        rf"\b(?:(?P<rel>(?i:last|this|next))\s+|(?P<prep>(?i:in|on|since|during|until|by|from|of|early|late|mid|mid-|end of|im|seit|en|depuis|desde|de|en el mes de))\s+)?(?P<month>{_MONTH_FULL})\b"
    ),
]
RELATIVE_AGO = re.compile(
    rf"\b(?P<n>\d+|(?i:{_NUMWORD})|(?i:a couple of))\s+(?P<unit>(?i:day|week|month|year))s?\s+(?i:ago)\b"
)
RELATIVE_SPAN = re.compile(
    rf"\b(?i:(?:over\s+)?(?:the\s+)?(?:last|past))\s+(?P<n>\d+|(?i:{_NUMWORD}))\s+(?P<unit>(?i:day|week|month|year))s\b"
)
RELATIVE_UNIT = re.compile(
    r"\b(?P<which>(?i:last|this|next|earlier this|later this|past))\s+(?P<unit>(?i:week|month|year|quarter))\b"
)
RELATIVE_DAY = re.compile(r"\b(?P<word>(?i:yesterday|tomorrow|earlier today))\b")
WEEKDAY = re.compile(rf"\b(?:(?P<rel>(?i:last|this|next))\s+)?(?P<wd>{_WEEKDAY}|(?i:{_WEEKDAY.lower()}))s?\b")
# A phone number: an optional +country code, then at least seven digits in groups.
PHONE = re.compile(r"(?<![\w+/.-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]\d{2,4}){1,4}(?![\w/-])")
NUMERIC_DATE = re.compile(r"\b(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<year>\d{4}|\d{2})\b")
DOTTED_DATE = re.compile(r"\b(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?P<year>\d{4})\b")
QUOTED = re.compile(r"(?:(?<=[\s(])|^)[\"“‘'](?P<q>[A-Z0-9][^\"“”‘’'\n]{0,60}?)[\"”’'](?![A-Za-z])")
EVENT_VERB = re.compile(
    r"\b(?i:you|you've|you have|you had|your team|your team has|we|we've|we have)\s+"
    r"(?:(?i:recently|just|already|also|previously|once)\s+)?"
    rf"(?P<verb>(?i:{'|'.join(sorted(EVENT_VERBS, key=len, reverse=True))}))\b"
)
EVENT_NOUN = re.compile(
    r"\b(?i:your)\s+(?:(?i:recent|upcoming|last|next|first|annual|free)\s+)?"
    rf"(?P<noun>(?i:{'|'.join(sorted(EVENT_NOUNS, key=len, reverse=True))}))\b"
)
YEAR = re.compile(r"(?<![\w.,])(?:19|20)\d{2}(?![\w.,]\d)")
NUMBER = re.compile(rf"(?<![\w.,])(?P<num>{_NUM})(?P<mult>(?i:k)\b)?(?:st|nd|rd|th|x)?(?![\w])")
NUMBER_WORD = re.compile(rf"\b(?P<word>(?i:{'|'.join(CLAIM_NUMBER_WORDS)}))\b")
TOKEN = re.compile(r"[^\W_][\w'’&-]*|&")
SENTENCE_END = set(".!?:;\n•")


# --- Small parsers --------------------------------------------------------------------------


def parse_number(text: str, mult: str | None = None) -> Decimal | None:
    """'8,400' -> 8400, '1.2' + 'k' -> 1200, 'fourteen' -> 14, '12,5' -> 12.5, '8.400' or '8 400'
    (European thousands, only when the caller read it so) -> 8400."""
    raw = text.strip().lower()
    if re.fullmatch(r"\d{1,3}(?:[. \u00a0\u202f]\d{3})+(?:,\d{1,2})?", raw):
        raw = re.sub(r"[. \u00a0\u202f]", "", raw).replace(",", ".")
        if mult:
            mult = {"mio": "m", "tsd": "k"}.get(mult.lower(), mult)
    if raw in NUMBER_WORDS:
        return Decimal(NUMBER_WORDS[raw])
    if raw.startswith("a couple"):
        return Decimal(2)
    raw = raw.replace(",", "") if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", raw) else raw.replace(",", ".")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    if mult:
        value *= MULTIPLIERS.get(mult.lower(), 1)
    return value.normalize()


def _month_number(name: str) -> int:
    return MONTHS[name.lower().rstrip(".")]


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _month_span(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_iso_date(value: Any) -> date | None:
    match = re.match(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})", str(value or ""))
    return _safe_date(int(match[1]), int(match[2]), int(match[3])) if match else None


@dataclass(frozen=True)
class DateSpan:
    """A span of days. Without a year (`start` is None) it is a month or a month and day."""

    start: date | None = None
    end: date | None = None
    month: int | None = None
    day: int | None = None

    @property
    def concrete(self) -> bool:
        return self.start is not None

    def in_year(self, year: int) -> DateSpan | None:
        if self.concrete:
            return self
        assert self.month is not None
        if self.day is None:
            start, end = _month_span(year, self.month)
            return DateSpan(start, end)
        day = _safe_date(year, self.month, self.day)
        return DateSpan(day, day) if day else None

    def resolve(self, reference: date | None) -> DateSpan:
        """Give a yearless date the year of its latest occurrence on or before `reference`."""
        if self.concrete or reference is None:
            return self
        span = self.in_year(reference.year)
        if span and span.start and span.start > reference:
            span = self.in_year(reference.year - 1)
        return span or self

    def contains(self, other: DateSpan) -> bool:
        """Does this (claimed) span cover all of `other` (a fact's date)?"""
        if self.concrete and other.concrete:
            assert self.start and self.end and other.start and other.end
            return self.start <= other.start and other.end <= self.end
        if not self.concrete and not other.concrete:
            return self.month == other.month and (self.day is None or self.day == other.day)
        if not self.concrete:
            assert other.start and other.end
            years = {other.start.year, other.end.year}
            return any((span := self.in_year(y)) is not None and span.contains(other) for y in years)
        assert self.start and self.end
        return any(
            (span := other.in_year(y)) is not None and self.contains(span)
            for y in range(self.start.year, self.end.year + 1)
        )


def _day(d: date) -> DateSpan:
    return DateSpan(d, d)


def _week_start(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _quarter_span(d: date) -> tuple[date, date]:
    first_month = 3 * ((d.month - 1) // 3) + 1
    return date(d.year, first_month, 1), _month_span(d.year, first_month + 2)[1]


def _relative_unit_span(which: str, unit: str, today: date) -> DateSpan:
    which, unit = which.lower(), unit.lower()
    step = {"last": -1, "past": -1, "next": 1}.get(which, 0)
    if which == "past":  # "the past week": the last 7 days up to today
        days = {"week": 7, "month": 31, "quarter": 92, "year": 366}[unit]
        return DateSpan(today - timedelta(days=days), today)
    if unit == "week":
        start = _week_start(today) + timedelta(weeks=step)
        span = DateSpan(start, start + timedelta(days=6))
    elif unit == "month":
        first = _add_months(today.replace(day=1), step)
        span = DateSpan(*_month_span(first.year, first.month))
    elif unit == "quarter":
        span = DateSpan(*_quarter_span(_add_months(today.replace(day=1), 3 * step)))
    else:
        span = DateSpan(date(today.year + step, 1, 1), date(today.year + step, 12, 31))
    if which == "earlier this":
        return DateSpan(span.start, today)
    if which == "later this":
        return DateSpan(today, span.end)
    return span


def _ago_span(n: int, unit: str, today: date) -> DateSpan:
    unit = unit.lower()
    if unit == "day":
        target = today - timedelta(days=n)
        return DateSpan(target - timedelta(days=1), target + timedelta(days=1))
    if unit == "week":
        target = today - timedelta(weeks=n)
        return DateSpan(target - timedelta(days=3), target + timedelta(days=3))
    if unit == "month":
        target = _add_months(today, -n)
        start, end = _month_span(target.year, target.month)
        return DateSpan(min(start, target - timedelta(days=15)), max(end, target + timedelta(days=15)))
    return DateSpan(date(today.year - n, 1, 1), date(today.year - n, 12, 31))


def _span_back(n: int, unit: str, today: date) -> DateSpan:
    unit = unit.lower()
    if unit == "day":
        return DateSpan(today - timedelta(days=n), today)
    if unit == "week":
        return DateSpan(today - timedelta(weeks=n), today)
    if unit == "month":
        return DateSpan(_add_months(today, -n), today)
    return DateSpan(_add_months(today, -12 * n), today)


def _weekday_date(weekday: int, rel: str, today: date) -> date:
    rel = rel.lower()
    if rel == "last":
        back = (today.weekday() - weekday) % 7 or 7
        return today - timedelta(days=back)
    if rel == "next":
        ahead = (weekday - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    return _week_start(today) + timedelta(days=weekday)  # "this Tuesday"


# --- Finding claims -------------------------------------------------------------------------


@dataclass
class Candidate:
    kind: str  # number, money, percent, time, date, relative_date, weekday, year, link, name, event
    start: int
    end: int
    text: str
    value: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


class _Spans:
    """The characters already claimed, so one piece of text becomes one claim."""

    def __init__(self, text: str) -> None:
        self.taken = [False] * len(text)

    def free(self, start: int, end: int) -> bool:
        return not any(self.taken[start:end])

    def take(self, start: int, end: int) -> None:
        for i in range(start, end):
            self.taken[i] = True


Extractor = Callable[[str, date | None], Iterator[Candidate]]


def _money(text: str, today: date | None) -> Iterator[Candidate]:
    for pattern in MONEY_PATTERNS:
        for m in pattern.finditer(text):
            amount = parse_number(m["num"], m["mult"])
            if amount is not None:
                currency = CURRENCIES.get(m["cur"].lower(), m["cur"].upper())
                yield Candidate("money", m.start(), m.end(), m[0], (amount, currency))


def _percent(text: str, today: date | None) -> Iterator[Candidate]:
    for m in PERCENT.finditer(text):
        value = parse_number(m["num"])
        if value is not None:
            yield Candidate("percent", m.start(), m.end(), m[0], value)


def _links(text: str, today: date | None) -> Iterator[Candidate]:
    for m in LINK.finditer(text):
        link = m[0].rstrip(".,;:!?")
        kind = "email" if "@" in link and not link.lower().startswith(("http", "www.")) else "link"
        yield Candidate(kind, m.start(), m.start() + len(link), link, normalise_link(link))


def _phones(text: str, today: date | None) -> Iterator[Candidate]:
    for m in PHONE.finditer(text):
        digits = re.sub(r"\D", "", m[0])
        # Seven digits or more, and written like a phone number (not "2026-10-05" or "8,400").
        if len(digits) >= 7 and (m[0].startswith(("+", "(")) or re.search(r"\d[\s.-]\d", m[0])):
            if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", m[0]):
                continue
            yield Candidate("phone", m.start(), m.end(), m[0], digits[-9:])


def _times(text: str, today: date | None) -> Iterator[Candidate]:
    for m in TIME.finditer(text):
        yield Candidate("time", m.start(), m.end(), m[0], _literal(m[0]))


def _dates(text: str, today: date | None) -> Iterator[Candidate]:
    for m in NUMERIC_DATE.finditer(text):
        year = int(m["year"]) + (2000 if len(m["year"]) == 2 else 0)
        a, b = int(m["a"]), int(m["b"])
        options = [d for d in (_safe_date(year, b, a), _safe_date(year, a, b)) if d]
        if options:
            yield Candidate("date", m.start(), m.end(), m[0], [_day(d) for d in options])
    for m in DOTTED_DATE.finditer(text):  # 05.10.2026: day first, as in German and French
        day = _safe_date(int(m["year"]), int(m["month"]), int(m["day"]))
        if day:
            yield Candidate("date", m.start(), m.end(), m[0], [_day(day)])
    for pattern in DATE_PATTERNS:
        for m in pattern.finditer(text):
            groups = m.groupdict()
            month_text = groups["month"]
            month = int(month_text) if month_text.isdigit() else _month_number(month_text)
            if not 1 <= month <= 12:
                continue
            start = m.start()
            if groups.get("rel") is None and groups.get("day") is None and groups.get("year") is None:
                # A month on its own; "May" only after a preposition, and the claim is just the month.
                if month_text == "May" and not groups.get("prep"):
                    continue
                start = m.start("month")
            rel = (groups.get("rel") or "").lower()
            if groups.get("year"):
                year = int(groups["year"])
                if groups.get("day"):
                    day = _safe_date(year, month, int(groups["day"]))
                    if day is None:
                        continue
                    span = _day(day)
                else:
                    span = DateSpan(*_month_span(year, month))
            elif groups.get("day"):
                if not 1 <= int(groups["day"]) <= 31:
                    continue
                span = DateSpan(month=month, day=int(groups["day"]))
            elif rel and today:
                year = today.year + {"last": -1, "next": 1}.get(rel, 0)
                if rel == "last" and month < today.month:
                    year += 1  # "last March" in November is this year's March
                if rel == "next" and month > today.month:
                    year -= 1
                span = DateSpan(*_month_span(year, month))
            else:
                span = DateSpan(month=month)
            yield Candidate("date", start, m.end(), text[start : m.end()], [span])


def _relative(text: str, today: date | None) -> Iterator[Candidate]:
    for m in RELATIVE_AGO.finditer(text):
        n = parse_number(m["n"])
        span = _ago_span(int(n), m["unit"], today) if today and n is not None else None
        yield Candidate("relative_date", m.start(), m.end(), m[0], span)
    for m in RELATIVE_SPAN.finditer(text):
        n = parse_number(m["n"])
        span = _span_back(int(n), m["unit"], today) if today and n is not None else None
        unit_days = {"day": 1, "week": 7, "month": 30, "year": 365}[m["unit"].lower()]
        yield Candidate("relative_date", m.start(), m.end(), m[0], span, {"range_days": int(n or 0) * unit_days})
    for m in RELATIVE_UNIT.finditer(text):
        span = _relative_unit_span(m["which"], m["unit"], today) if today else None
        yield Candidate("relative_date", m.start(), m.end(), m[0], span)
    for m in RELATIVE_DAY.finditer(text):
        word = m["word"].lower()
        span = None
        if today:
            span = _day(today + timedelta(days={"yesterday": -1, "tomorrow": 1}.get(word, 0)))
        yield Candidate("relative_date", m.start(), m.end(), m[0], span)


def _weekdays(text: str, today: date | None) -> Iterator[Candidate]:
    for m in WEEKDAY.finditer(text):
        weekday = WEEKDAYS_LOWER[m["wd"].lower()]
        if m["rel"] and today:
            yield Candidate("date", m.start(), m.end(), m[0], [_day(_weekday_date(weekday, m["rel"], today))])
        else:
            yield Candidate("weekday", m.start("wd"), m.end(), text[m.start("wd") : m.end()], weekday)


def _years(text: str, today: date | None) -> Iterator[Candidate]:
    for m in YEAR.finditer(text):
        yield Candidate("year", m.start(), m.end(), m[0], int(m[0]))


def _numbers(text: str, today: date | None) -> Iterator[Candidate]:
    for m in NUMBER.finditer(text):
        value = parse_number(m["num"], m["mult"])
        if value is not None:
            yield Candidate("number", m.start(), m.end(), m[0], value)
    for m in NUMBER_WORD.finditer(text):
        yield Candidate("number", m.start(), m.end(), m[0], parse_number(m["word"]))


def _events(text: str, today: date | None) -> Iterator[Candidate]:
    for m in EVENT_VERB.finditer(text):
        verb = " ".join(m["verb"].lower().split())
        yield Candidate("event", m.start(), m.end(), m[0], EVENT_VERBS.get(verb, verb))
    for m in EVENT_NOUN.finditer(text):
        yield Candidate("event", m.start(), m.end(), m[0], EVENT_NOUNS[m["noun"].lower()])


# Claims about quantities and time, in priority order (earlier extractors win overlaps).
QUANTITY_EXTRACTORS: list[Extractor] = [_links, _money, _percent, _times, _dates, _phones, _relative, _weekdays]


# --- Names ----------------------------------------------------------------------------------


def _is_capitalised(token: str) -> bool:
    return token[:1].isupper() or (token[:1].islower() and any(c.isupper() for c in token[1:]))


def _at_sentence_start(text: str, index: int) -> bool:
    i = index - 1
    while i >= 0 and text[i] in " \t\"'“‘(*-":
        if text[i] == "-" and (i == 0 or text[i - 1] == "\n"):
            return True  # a bullet
        i -= 1
    return i < 0 or text[i] in SENTENCE_END


def _word_key(token: str) -> str:
    word = token.lower().replace("’", "'")
    word = word[:-2] if word.endswith("'s") else word
    return word.rstrip("'-") or word


def _is_stop(key: str) -> bool:
    """A stop word or acronym, also with a contraction ("I'll", "we're", "you've")."""
    base = key.split("'", 1)[0]
    return key in STOP_WORDS or key in ACRONYMS or (base != key and (base in STOP_WORDS or base == "i"))


def _looks_common(word: str, text: str) -> bool:
    """A capitalised first word of a sentence that is probably an ordinary word."""
    key = _word_key(word)
    if key in STOP_WORDS or key in ACRONYMS:
        return True
    if len(key) > 4 and key.endswith(("ing", "ed", "ly")):
        return True
    return re.search(rf"(?<![\w]){re.escape(key)}(?![\w])", text) is not None  # also used in lower case


def _names(text: str, masked: str) -> Iterator[Candidate]:
    """Runs of capitalised words ("Analytics Pro", "Liu Yang", "Summit 2027"), minus ordinary words."""
    tokens = [(m.start(), m.end(), m[0]) for m in TOKEN.finditer(masked)]
    i = 0
    while i < len(tokens):
        start, end, word = tokens[i]
        if not _is_capitalised(word):
            i += 1
            continue
        run = [tokens[i]]
        j = i + 1
        while j < len(tokens):
            gap = masked[run[-1][1] : tokens[j][0]]
            if gap not in (" ", "-"):
                break
            candidate = tokens[j][2]
            if _is_capitalised(candidate):
                run.append(tokens[j])
            elif candidate.lower() in CONNECTORS and j + 1 < len(tokens) and _is_capitalised(tokens[j + 1][2]):
                if masked[tokens[j][1] : tokens[j + 1][0]] != " ":
                    break
                run.append(tokens[j])
            else:
                break
            j += 1
        # A version or year right after a name belongs to it ("Summit 2027", "Pro 2.").
        if j < len(tokens) and masked[run[-1][1] : tokens[j][0]] == " " and tokens[j][2].isdigit():
            number = tokens[j]
            after = masked[number[1] : number[1] + 2]
            version = len(number[2]) <= 2 and (len(run) > 1 or not re.match(r" [a-z]", after))
            if re.fullmatch(r"(?:19|20)\d{2}", number[2]) or version:
                run.append(number)
                j += 1
        i = j
        yield from _trim_run(text, run)


def _trim_run(text: str, run: list[tuple[int, int, str]]) -> Iterator[Candidate]:
    sentence_start = _at_sentence_start(text, run[0][0])
    # Split on stop words inside the run ("Thanks Liu" -> "Liu"; "I" never names anyone).
    pieces: list[list[tuple[int, int, str]]] = [[]]
    for token in run:
        key = _word_key(token[2])
        if key in CONNECTORS:
            pieces[-1].append(token)
        elif _is_stop(key) or (len(key) == 1 and key.isalpha()):
            pieces.append([])
        else:
            pieces[-1].append(token)
    first = True
    for piece in pieces:
        while piece and piece[0][2].lower() in CONNECTORS:
            piece = piece[1:]
        while piece and piece[-1][2].lower() in CONNECTORS:
            piece = piece[:-1]
        if not piece:
            first = False
            continue
        if first and sentence_start and _looks_common(piece[0][2], text):
            piece = piece[1:]
        first = False
        if not piece or all(t[2].isdigit() for t in piece):
            continue
        start, end = piece[0][0], piece[-1][1]
        yield Candidate(
            "name", start, end, text[start:end], [_word_key(t[2]) for t in piece if t[2].lower() not in CONNECTORS]
        )


def _quoted(text: str, today: date | None) -> Iterator[Candidate]:
    for m in QUOTED.finditer(text):
        words = [_word_key(w) for w in TOKEN.findall(m["q"]) if w.lower() not in STOP_WORDS]
        if words:
            yield Candidate("name", m.start("q"), m.end("q"), m["q"], words)


# Words before a number that make it approximate ("about 40 %" is supported by 38 %).
HEDGE = re.compile(
    r"(?:(?P<about>\b(?:about|around|roughly|approximately|approx\.|some|circa|ca\.|~|rund|etwa|ungefähr|gut"
    r"|environ|près de|autour de|alrededor de|aproximadamente|unos|unas|cerca de))"
    r"|(?P<nearly>\b(?:nearly|almost|close to|just under|knapp|fast|presque|casi))"
    r"|(?P<over>\b(?:over|more than|upwards of|above|at least|just over|mehr als|über|plus de|más de))"
    r"|(?P<under>\b(?:under|less than|below|fewer than|weniger als|moins de|menos de)))\s*$",
    re.I,
)

# A third party doing something: "Initech signed last week", "Contoso saw the same". A fact that
# merely names the company does not support it; one that states the event does.
THIRD_PARTY_VERBS: dict[str, tuple[str, ...]] = {
    "signed": ("sign",),
    "saw": ("saw", "see", "seen"),
    "switched": ("switch",),
    "moved": ("mov",),
    "chose": ("chose", "choos"),
    "bought": ("bought", "buy", "purchas"),
    "adopted": ("adopt",),
    "cut": ("cut",),
    "reduced": ("reduc",),
    "grew": ("grew", "grow"),
    "increased": ("increas",),
    "launched": ("launch",),
    "migrated": ("migrat",),
    "doubled": ("doubl",),
    "tripled": ("tripl",),
    "halved": ("halv",),
    "saved": ("sav",),
    "achieved": ("achiev",),
    "renewed": ("renew",),
    "upgraded": ("upgrad",),
    "deployed": ("deploy",),
    "rolled out": ("rolled out", "roll out", "rollout"),
    "partnered": ("partner",),
    "selected": ("select",),
    "picked": ("pick",),
    "hired": ("hir",),
    "raised": ("rais",),
    "won": ("won", "win"),
    "closed": ("clos",),
    "acquired": ("acquir",),
    "announced": ("announc",),
    "expanded": ("expan",),
    "went live": ("went live", "go live", "live"),
    "replaced": ("replac",),
    "dropped": ("drop",),
    "improved": ("improv",),
    "boosted": ("boost",),
    "joined": ("join",),
}
_TP_VERB = "|".join(sorted(THIRD_PARTY_VERBS, key=len, reverse=True))
THIRD_PARTY_EVENT = re.compile(
    r"(?P<name>\b[A-Z][\w&'’-]*(?:\s+(?:[A-Z][\w&'’-]*|&))*)\s+"
    r"(?:(?:has|have|had|just|recently|also|already|then)\s+)*"
    rf"(?P<verb>{_TP_VERB})\b"
    r"(?P<rest>(?:\s+(?!(?:after|and|but|when|because|since|with|by|in|last|this|over|during|on|to)\b)[\w%'’-]+){0,3})"
)


def _third_party_events(text: str) -> Iterator[Candidate]:
    for m in THIRD_PARTY_EVENT.finditer(text):
        words = [_word_key(w) for w in TOKEN.findall(m["name"])]
        # Drop ordinary words in front ("Meanwhile Contoso", "Thanks Liu" - and "You", "We").
        while words and (_is_stop(words[0]) or (m.start("name") == 0 and _looks_common(words[0], text))):
            words = words[1:]
        words = [w for w in words if w not in CONNECTORS and w != "&"]
        if not words or words[-1] in STOP_WORDS:
            continue
        name_text = m["name"]
        first = name_text.lower().find(words[0].split("'")[0])
        start = m.start("name") + max(first, 0)
        verb = " ".join(m["verb"].split())
        yield Candidate(
            "third_party_event",
            start,
            m.end(),
            text[start : m.end()],
            (words, THIRD_PARTY_VERBS.get(verb, (verb,))),
            {"reason": "third_party_event"},
        )


# Lower-case names where a name must stand: after a greeting, before "suggested", as a vocative.
_LOWER = r"[a-zà-öø-ÿ][\w'’-]+"
LOWER_NAME_PATTERNS = [
    re.compile(rf"(?:^|\n)[ \t]*(?i:hi|hello|hey|dear|hallo|liebe|lieber|bonjour|hola)[ \t]+(?P<name>{_LOWER})\b"),
    re.compile(rf"(?:^|\n)[ \t]*(?P<name>{_LOWER}),"),
    re.compile(
        rf"\b(?P<name>{_LOWER})(?:\s+(?:from|at)\s+(?P<org>{_LOWER}))?\s+"
        r"(?:suggested|mentioned|recommended|said|told|asked|introduced|referred|thought|wanted)\b"
    ),
]


def _lower_case_names(text: str) -> Iterator[Candidate]:
    for pattern in LOWER_NAME_PATTERNS:
        for m in pattern.finditer(text):
            for group in ("name", "org"):
                word = m.groupdict().get(group)
                if not word or not word.islower():
                    continue
                key = _word_key(word)
                if _is_stop(key) or key in NUMBER_WORDS or key in COMMON_LOWER:
                    continue
                yield Candidate("name", m.start(group), m.end(group), word, [key])


# Ordinary words that can stand where a lower-case name would.
COMMON_LOWER = _words(
    """
    someone somebody anyone everybody nobody colleague colleagues manager boss friend friends partner
    partners team there all folks guys everyone you he she they it this that which who what finance
    support sales marketing legal procurement it ops engineering product leadership customer success
    """
)


# --- Facts ----------------------------------------------------------------------------------


@dataclass
class IndexedFact:
    id: str
    text: str
    lower: str
    words: set[str]
    numbers: list[tuple[Decimal, str, str | None]]  # (value, "plain"|"money"|"percent", currency)
    dates: list[DateSpan]
    links: set[str]
    moneyish: bool
    percentish: bool
    trusted: bool = True
    phones: set[str] = field(default_factory=set)
    observed: date | None = None


def _literal(text: str) -> str:
    return re.sub(r"[\s.]", "", text.lower())


def index_fact(fact: dict[str, Any], today: date | None) -> IndexedFact:
    value = fact.get("value")
    text = " ".join(str(part) for part in (fact.get("text") or "", "" if value is None else value) if str(part))
    observed = parse_iso_date(fact.get("observed_at"))
    reference = observed or today
    spans = _Spans(text)
    numbers: list[tuple[Decimal, str, str | None]] = []
    dates: list[DateSpan] = []
    links: set[str] = set()
    phones: set[str] = set()
    for extractor in [*QUANTITY_EXTRACTORS, _years, _numbers]:
        for c in extractor(text, reference):
            if not spans.free(c.start, c.end):
                continue
            spans.take(c.start, c.end)
            if c.kind == "money":
                numbers.append((c.value[0], "money", c.value[1]))
            elif c.kind == "percent":
                numbers.append((c.value, "percent", None))
            elif c.kind == "number":
                numbers.append((c.value, "plain", None))
            elif c.kind == "year":
                numbers.append((Decimal(c.value), "plain", None))
                dates.append(DateSpan(date(c.value, 1, 1), date(c.value, 12, 31)))
            elif c.kind == "date":
                dates.extend(span.resolve(reference) for span in c.value)
            elif c.kind == "relative_date" and c.value is not None:
                dates.append(c.value)
            elif c.kind in ("link", "email"):
                links.add(c.value)
            elif c.kind == "phone":
                phones.add(c.value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        numbers.append((Decimal(str(value)).normalize(), "plain", None))
    if not dates and observed:
        dates.append(_day(observed))  # an undated fact happened when it was observed
    words = {_word_key(w) for w in TOKEN.findall(text)}
    return IndexedFact(
        id=str(fact.get("id", "")),
        text=text,
        lower=" ".join(text.lower().split()),
        words=words,
        numbers=numbers,
        dates=dates,
        links=links,
        moneyish=bool(MONEY_WORDS.search(text) or MONEY_WORDS.search(str(fact.get("kind") or "").replace("_", " "))),
        percentish=bool(PERCENT_WORDS.search(text) or "percent" in str(fact.get("kind") or "")),
        trusted=is_trusted(fact),
        phones=phones,
        observed=observed,
    )


# --- Support --------------------------------------------------------------------------------


def _has_word(fact: IndexedFact, word: str) -> bool:
    return word in fact.words or f"{word}s" in fact.words or (word.endswith("s") and word[:-1] in fact.words)


def _matches(fact_value: Decimal, claimed: Decimal, hedge: str | None) -> bool:
    """Is the fact's number what the claim says, given how it hedges ("about 40" for 38)?"""
    if hedge is None:
        return fact_value == claimed
    if hedge == "about":  # a rounded figure: within 10 % (or 1) of the claim
        return abs(fact_value - claimed) <= max(abs(claimed) * Decimal("0.1"), Decimal(1))
    if hedge == "nearly":
        return claimed * Decimal("0.85") <= fact_value <= claimed
    if hedge == "over":
        return fact_value >= claimed
    return claimed * Decimal("0.5") <= fact_value <= claimed  # "under"


def _supports(fact: IndexedFact, claim: Candidate, today: date | None) -> bool:
    kind, value = claim.kind, claim.value
    hedge = claim.extra.get("hedge")
    if kind == "number":
        return any(_matches(n, value, hedge) for n, _, _ in fact.numbers)
    if kind == "money":
        amount, currency = value
        return any(
            _matches(n, amount, hedge)
            and ((tag == "money" and cur in (currency, None)) or (tag == "plain" and fact.moneyish))
            for n, tag, cur in fact.numbers
        )
    if kind == "percent":
        return any(_matches(n, value, hedge) and (tag == "percent" or fact.percentish) for n, tag, _ in fact.numbers)
    if kind == "year":
        return any(n == value for n, _, _ in fact.numbers) or any(
            d.concrete and d.start and d.end and d.start.year <= value <= d.end.year for d in fact.dates
        )
    if kind == "date":
        return any(span.contains(d) for span in value for d in fact.dates)
    if kind == "relative_date":
        # A range in the same words ("over the last 14 days") as a fact observed recently enough
        # for the range to be nearly the same days: the fact said exactly that.
        days = claim.extra.get("range_days")
        if days is not None:
            words = re.sub(r"^(?:over|in|during|within|for)\s+", "", " ".join(claim.text.lower().split()))
            recent = fact.observed is None or today is None or (today - fact.observed).days <= max(2, days // 4)
            if words in fact.lower and recent:
                return True
        if value is None:  # no `today` to resolve against: only the same words support it
            return " ".join(claim.text.lower().split()) in fact.lower
        return any(value.contains(d.resolve(today)) for d in fact.dates)
    if kind == "weekday":
        name = calendar.day_name[value].lower()
        return name in fact.words or any(
            d.start is not None and d.start == d.end and d.start.weekday() == value for d in fact.dates
        )
    if kind in {"time"}:
        return value in _literal(fact.text)
    if kind in ("link", "email"):
        return value in fact.links
    if kind == "phone":
        return value in fact.phones
    if kind == "name":
        return all(_has_word(fact, word) for word in value)
    if kind == "third_party_event":
        names, stems = value
        return all(_has_word(fact, w) for w in names) and any(
            (stem in fact.lower) if " " in stem else any(w.startswith(stem) for w in fact.words) for stem in stems
        )
    if kind == "event":
        stems = EVENT_FAMILIES.get(value, (value,))
        return any(
            (stem in fact.lower) if " " in stem else any(w.startswith(stem) for w in fact.words) for stem in stems
        )
    return False


# --- Public API -----------------------------------------------------------------------------


def find_claims(text: str, *, today: date | None = None) -> list[Candidate]:
    """Every checkable claim in `text`, in order, without overlaps."""
    spans = _Spans(text)
    found: list[Candidate] = []

    def accept(candidates: Iterable[Candidate]) -> None:
        for c in sorted(candidates, key=lambda c: (c.start, -(c.end - c.start))):
            if c.end > c.start and spans.free(c.start, c.end):
                spans.take(c.start, c.end)
                found.append(c)

    for extractor in QUANTITY_EXTRACTORS:
        accept(extractor(text, today))
    accept(_quoted(text, today))
    accept(_events(text, today))
    accept(_third_party_events(text))
    masked = "".join("\x00" if taken else ch for ch, taken in zip(text, spans.taken, strict=True))
    accept(_names(text, masked))
    accept(_lower_case_names(text))
    accept(_years(text, today))
    accept(_numbers(text, today))
    for claim in found:
        if claim.kind in ("number", "money", "percent"):
            hedge = HEDGE.search(text[max(0, claim.start - 30) : claim.start])
            if hedge:
                claim.extra["hedge"] = next(k for k, v in hedge.groupdict().items() if v)
    return sorted(found, key=lambda c: c.start)


def is_trusted(fact: dict[str, Any]) -> bool:
    """A fact without ``trust`` is trusted; ``"untrusted"`` (or anything but ``"trusted"``) is not."""
    trust = fact.get("trust")
    return trust in (None, "") or str(trust).strip().lower() == "trusted"


# Claims that a planted instruction would try to smuggle into an email: only a trusted source
# (or, for links and addresses, one of the organization's own domains) supports them.
RESTRICTED_KINDS = frozenset({"link", "email", "phone", "money"})
DATE_KINDS = frozenset({"date", "relative_date", "weekday", "time"})
DISCOUNT_BEFORE = re.compile(
    r"(?:discount|save|saving|savings|rabatt|remise|réduction|descuento|rebaja|coupon|promo\w*|extra)\W+"
    r"(?:of\s+|von\s+|de\s+)?(?:up to\s+|bis zu\s+|jusqu'à\s+|hasta\s+)?$",
    re.I,
)
DISCOUNT_AFTER = re.compile(r"^\s*(?:off\b|discount|rabatt|nachlass|de remise|de réduction|de descuento)", re.I)
DEADLINE_BEFORE = re.compile(
    r"(?:\bby|\buntil|\btill|\bbefore|\bends?|\bending|\bexpires?|\bexpiring|\bdeadline(?: is)?|\bclose[sd]?"
    r"|\bvalid (?:until|through|till)|\bno later than|\bbis(?: zum)?|\bjusqu'au|\bavant le|\bhasta el)"
    r"\s+(?:the\s+)?(?:end of\s+)?(?:on\s+)?$",
    re.I,
)
DEADLINE_AFTER = re.compile(r"^\s*(?:deadline|cut-?off|last day)\b", re.I)


def is_restricted(text: str, claim: Candidate) -> bool:
    """A link, email address, phone number, price, discount or deadline."""
    if claim.kind in RESTRICTED_KINDS:
        return True
    before, after = text[max(0, claim.start - 40) : claim.start], text[claim.end : claim.end + 30]
    if claim.kind == "percent":
        return bool(DISCOUNT_BEFORE.search(before) or DISCOUNT_AFTER.search(after))
    if claim.kind in DATE_KINDS:
        return bool(DEADLINE_BEFORE.search(before) or DEADLINE_AFTER.search(after))
    return False


def _domain(kind: str, value: str) -> str:
    return value.rsplit("@", 1)[-1] if kind == "email" else value.split("/", 1)[0].split(":", 1)[0]


def on_own_domain(kind: str, value: str, own_domains: Iterable[str]) -> bool:
    domain = _domain(kind, value)
    return any(
        domain == d or domain.endswith("." + d) for d in (o.strip().lower().lstrip(".") for o in own_domains) if d
    )


def _why_unsupported(claim: Candidate, facts: Sequence[IndexedFact]) -> str:
    """A short reason a reviewer can read: what kind of mismatch this is."""
    if claim.kind in {*DATE_KINDS, "year"} and any(f.dates for f in facts):
        return "date_mismatch"
    if claim.kind in {"number", "money", "percent"} and any(f.numbers for f in facts):
        return "number_mismatch"
    if claim.kind == "event":
        return "event_not_stated"
    return "not_in_facts"


REASONS = {
    "untrusted_source": "only an untrusted source (a reply, an import, an API note) contains it",
    "not_in_facts": "not found in the recipient's facts",
    "date_mismatch": "no fact has this date",
    "number_mismatch": "no fact has this number",
    "event_not_stated": "no fact states this event",
    "third_party_event": "an event about someone else that no fact states",
    "own_domain": "on one of the organization's own domains",
}


def check(
    text: str,
    facts: Sequence[dict[str, Any]],
    *,
    today: date | None = None,
    reference_date: date | None = None,
    own_domains: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """Claims in `text`, each with ``text``, ``start``, ``end``, ``supported``, ``fact_ids`` and ``kind``.

    `today` (alias `reference_date`) is the day the email is written; relative dates are resolved
    against it. Without it, a relative date is supported only by a fact using the same words.

    A fact may carry ``"trust": "untrusted"`` (absent means trusted). A link, email address,
    phone number, price, discount or deadline is supported only by a trusted fact, or, for links
    and addresses, by being on one of `own_domains`; one that only untrusted facts contain is
    unsupported with ``"reason": "untrusted_source"`` and those facts' ids. Every unsupported
    claim carries a ``reason`` (see REASONS).
    """
    today = today or reference_date
    own = tuple(own_domains)
    indexed = [index_fact(f, today) for f in facts]
    claims = []
    for claim in find_claims(text, today=today):
        supporting = [f for f in indexed if _supports(f, claim, today)]
        result: dict[str, Any] = {
            "text": claim.text,
            "start": claim.start,
            "end": claim.end,
            "supported": bool(supporting),
            "fact_ids": [f.id for f in supporting],
            "kind": claim.kind,
        }
        if is_restricted(text, claim):
            trusted = [f.id for f in supporting if f.trusted]
            if trusted:
                result.update(supported=True, fact_ids=trusted)
            elif claim.kind in ("link", "email") and on_own_domain(claim.kind, claim.value, own):
                result.update(supported=True, fact_ids=[], reason="own_domain")
            elif supporting:
                result.update(supported=False, reason="untrusted_source", trust="untrusted")
        if not result["supported"] and "reason" not in result:
            result["reason"] = claim.extra.get("reason") or _why_unsupported(claim, indexed)
        claims.append(result)
    return claims


def unsupported(claims: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in claims if not c["supported"]]
