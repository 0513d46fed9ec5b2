"""CSV import of recipients, accounts and facts.

Header recognition for common CRM exports, a mapping the user adjusts (remembered per header row),
a preview with per-row validation, and an import that streams the file in batches: bounded memory
whatever the file size, one transaction per batch, progress saved after each batch, and safe to
run twice (a second run resumes where the rows say the first one stopped).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import logging
import re
import time
import uuid
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.validators import validate_email
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from outreach.core.errors import ApplicationError
from outreach.core.normalize import normalize_domain, normalize_email
from outreach.core.tasks import task_enqueue
from outreach.core.text import clean_display_text
from outreach.people.models import Account, Fact, ImportJob, ImportMapping, Label, LabelEvent, Recipient, SenderProfile
from outreach.people.services.labels import recipient_labels_add

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
# A batch is written early when its rows carry this much text (long notes or facts), so memory
# stays bounded by this rather than by 1,000 times the longest cell.
MAX_BATCH_CHARS = 4_000_000
PREVIEW_ROWS = 20
# Errors kept on the job for display; error_count keeps counting past the cap.
MAX_STORED_ERRORS = 1000
SAMPLE_BYTES = 64 * 1024
# A physical line longer than this is read in pieces, so one huge line cannot exhaust memory.
MAX_LINE_BYTES = 1024 * 1024
CANDIDATE_DELIMITERS = ",;\t|"


class ImportField(models.TextChoices):
    """What a CSV column can be mapped to."""

    EMAIL = "email", "Email"
    FIRST_NAME = "first_name", "First name"
    LAST_NAME = "last_name", "Last name"
    FULL_NAME = "full_name", "Full name (split into first and last)"
    TITLE = "title", "Job title"
    COUNTRY = "country", "Country"
    TIME_ZONE = "time_zone", "Time zone"
    OWNER = "owner", "Owner (team member's username or email)"
    LABELS = "labels", "Labels (comma or semicolon separated)"
    LIFECYCLE_STAGE = "lifecycle_stage", "Lifecycle stage"
    CONSENT_DATE = "consent_date", "Consent recorded on (date)"
    ACCOUNT_NAME = "account_name", "Account name"
    ACCOUNT_DOMAIN = "account_domain", "Account domain or website"
    ACCOUNT_PLAN = "account_plan", "Account plan"
    ACCOUNT_RENEWAL_DATE = "account_renewal_date", "Account renewal date"
    ACCOUNT_STATE = "account_state", "Account state"
    FACT_TEXT = "fact_text", "Fact"
    FACT_KIND = "fact_kind", "Fact kind"
    FACT_DATE = "fact_date", "Fact date"
    FACT_SOURCE = "fact_source", "Fact source"
    FACT_VALUE = "fact_value", "Fact value"
    PROPERTY = "property", "Custom property"
    IGNORE = "ignore", "Ignore this column"


F = ImportField
# Targets several columns may share; every other target takes at most one column.
REPEATABLE = frozenset({F.PROPERTY, F.IGNORE})

# Header spellings seen in HubSpot, Salesforce, Pipedrive, Intercom and spreadsheet exports,
# compared after lower-casing and dropping everything but letters and digits.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    F.EMAIL: (
        "email",
        "email address",
        "e-mail",
        "e-mail address",
        "work email",
        "business email",
        "primary email",
        "contact email",
        "email 1",
    ),
    F.FIRST_NAME: ("first name", "firstname", "given name", "first"),
    F.LAST_NAME: ("last name", "lastname", "surname", "family name", "last"),
    F.FULL_NAME: ("name", "full name", "contact name", "contact"),
    F.TITLE: ("job title", "title", "role", "position", "job role"),
    F.COUNTRY: ("country", "country code", "country/region", "country region"),
    F.TIME_ZONE: ("time zone", "timezone", "tz"),
    F.OWNER: (
        "owner",
        "contact owner",
        "account owner",
        "record owner",
        "owned by",
        "owner email",
        "relationship owner",
    ),
    F.LABELS: ("labels", "label", "tags", "tag"),
    F.LIFECYCLE_STAGE: ("lifecycle stage", "lifecycle", "stage"),
    F.CONSENT_DATE: ("consent date", "consent recorded", "consent recorded at", "consent"),
    F.ACCOUNT_NAME: (
        "company",
        "company name",
        "account name",
        "account",
        "organization",
        "organisation",
        "organization name",
        "associated company",
    ),
    F.ACCOUNT_DOMAIN: ("domain", "company domain", "company domain name", "website", "company website", "website url"),
    F.ACCOUNT_PLAN: ("plan", "subscription plan", "tier", "account plan"),
    F.ACCOUNT_RENEWAL_DATE: ("renewal date", "renewal", "contract end date", "contract renewal date"),
    F.ACCOUNT_STATE: ("account state", "account status", "customer status"),
    F.FACT_TEXT: ("fact", "fact text"),
    F.FACT_KIND: ("fact kind", "fact type"),
    F.FACT_DATE: ("fact date", "observed at", "fact observed at", "fact observed"),
    F.FACT_SOURCE: ("fact source",),
    F.FACT_VALUE: ("fact value",),
}


def _header_key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


_HEADER_INDEX = {_header_key(s): target for target, spellings in _SYNONYMS.items() for s in spellings}


# --- Headers and mappings -------------------------------------------------------------------


def header_signature(headers: Iterable[str]) -> str:
    """The key a remembered mapping is stored under: same columns (any case) → same mapping."""
    joined = "\x1f".join(h.strip().lower() for h in headers)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def unique_headers(raw: list[str]) -> list[str]:
    """Column names as shown and stored in mappings: blanks get a name, duplicates a number."""
    seen: dict[str, int] = {}
    result = []
    for index, header in enumerate(raw, start=1):
        name = header.strip().lstrip("\ufeff").strip() or f"Column {index}"
        seen[name] = seen.get(name, 0) + 1
        result.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return result


def recognize_headers(headers: list[str]) -> dict[str, str]:
    """Guess a target for each column; unknown columns become custom properties."""
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for header in headers:
        target = _HEADER_INDEX.get(_header_key(header))
        if target is not None and target not in used:
            mapping[header] = target
            used.add(target)
        else:
            mapping[header] = F.PROPERTY
    return mapping


def mapping_problems(*, headers: list[str], mapping: dict[str, str]) -> list[str]:
    """Why this mapping cannot be imported (empty when it can)."""
    problems = []
    by_target: dict[str, list[str]] = {}
    for header in headers:
        target = mapping.get(header, F.IGNORE)
        if target not in F.values:
            problems.append(f"Column {header!r} is mapped to an unknown field {target!r}.")
            continue
        by_target.setdefault(target, []).append(header)
    for target, columns in by_target.items():
        if target not in REPEATABLE and len(columns) > 1:
            names = " and ".join(repr(c) for c in columns)
            problems.append(f"{F(target).label} is mapped from more than one column: {names}.")
    if F.EMAIL not in by_target:
        problems.append("Map one column to Email: it identifies each recipient.")
    fact_details = [t for t in (F.FACT_KIND, F.FACT_DATE, F.FACT_SOURCE, F.FACT_VALUE) if t in by_target]
    if fact_details and F.FACT_TEXT not in by_target:
        problems.append("Fact kind, date, source and value need a column mapped to Fact.")
    return problems


def mapping_clean(*, headers: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """The mapping restricted to this file's columns; raises ApplicationError if it cannot import."""
    cleaned = {h: mapping.get(h, F.IGNORE) for h in headers}
    problems = mapping_problems(headers=headers, mapping=cleaned)
    if problems:
        raise ApplicationError(" ".join(problems))
    return cleaned


def mapping_remembered(*, headers: list[str]) -> ImportMapping | None:
    return ImportMapping.objects.filter(header_signature=header_signature(headers)).first()


def mapping_remember(*, headers: list[str], mapping: dict[str, str]) -> ImportMapping:
    obj, _ = ImportMapping.objects.update_or_create(
        header_signature=header_signature(headers), defaults={"mapping": mapping}
    )
    return obj


def mapping_parse_option(value: str) -> dict[str, str]:
    """`--mapping` of the command: a JSON object, a path to a JSON file, or `Header=field,Header=field`."""
    text = value.strip()
    if not text.startswith("{") and "=" not in text:
        try:
            with open(text, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise ApplicationError(f"Cannot read the mapping file {value!r}: {exc.strerror}") from None
    if text.lstrip().startswith("{"):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ApplicationError(f"The mapping is not valid JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise ApplicationError("The mapping must be a JSON object of column → field.")
        return {str(k): str(v) for k, v in parsed.items()}
    pairs = {}
    for part in text.split(","):
        header, sep, target = part.partition("=")
        if not sep:
            raise ApplicationError(f"Expected Header=field, got {part!r}.")
        pairs[header.strip()] = target.strip()
    return pairs


# --- Reading the file: encoding, delimiter, records with line numbers -------------------------


@dataclass(frozen=True)
class CsvFormat:
    encoding: str  # "utf-8-sig" (with or without BOM) or "cp1252" (legacy Windows/Latin-1 files)
    delimiter: str
    notes: tuple[str, ...] = ()


@dataclass
class Record:
    line: int  # where the record starts in the file (the header is line 1)
    values: list[str]
    problem: str = ""


_DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "vertical bars"}
UNDECODABLE = "undecodable bytes (not valid UTF-8); save the file as UTF-8"


def _is_utf8_sample(sample: bytes, complete: bool) -> tuple[int, int]:
    """(lines with valid non-ASCII UTF-8, lines that are not UTF-8) in the sample."""
    lines = sample.split(b"\n")
    if not complete:
        lines = lines[:-1] or lines  # the last line may be cut mid-character
    good = bad = 0
    for line in lines:
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad += 1
        else:
            good += 1
    return good, bad


def _sniff_delimiter(text: str) -> str:
    first_line = text.split("\n", 1)[0]
    try:
        sniffed = csv.Sniffer().sniff(text[:16384], delimiters=CANDIDATE_DELIMITERS).delimiter
    except csv.Error:
        sniffed = ""
    if sniffed and sniffed in first_line:
        return sniffed
    # The Sniffer can be fooled (or give up) on short or irregular files: count in the header.
    counts = {d: first_line.count(d) for d in CANDIDATE_DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def detect_format(raw: IO[bytes]) -> CsvFormat:
    """Encoding and delimiter from the first 64 KB; the stream is rewound."""
    raw.seek(0)
    sample = raw.read(SAMPLE_BYTES)
    raw.seek(0)
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in sample:
        raise ApplicationError(
            "This is not a plain-text CSV file (it looks like UTF-16 or a spreadsheet). Save it as CSV (UTF-8)."
        )
    notes = []
    complete = len(sample) < SAMPLE_BYTES
    encoding = "utf-8-sig"
    if not sample.startswith(codecs.BOM_UTF8):
        good, bad = _is_utf8_sample(sample, complete)
        if bad and not good:
            encoding = "cp1252"
            notes.append(
                "The file is not UTF-8; it was read as Windows-1252 / Latin-1. Check accented names in the "
                "preview, or save the file as UTF-8 to be sure."
            )
    text = sample.decode(encoding if encoding != "cp1252" else "latin-1", errors="replace")
    if not complete and "\n" in text:
        text = text[: text.rfind("\n") + 1]
    delimiter = _sniff_delimiter(text)
    if delimiter != ",":
        notes.append(f"Columns are separated by {_DELIMITER_NAMES[delimiter]}.")
    return CsvFormat(encoding=encoding, delimiter=delimiter, notes=tuple(notes))


class _DecodedLines:
    """Physical lines of a binary stream as text, remembering whether the last ones had bad bytes."""

    def __init__(self, raw: IO[bytes], encoding: str) -> None:
        self.raw = raw
        self.encoding = encoding
        self.had_bad_bytes = False
        self._decoder = codecs.getincrementaldecoder(encoding)() if encoding != "cp1252" else None

    def __iter__(self) -> Iterator[str]:
        while piece := self.raw.readline(MAX_LINE_BYTES):
            if self._decoder is None:
                try:
                    yield piece.decode("cp1252")
                except UnicodeDecodeError:  # five bytes cp1252 leaves undefined
                    yield piece.decode("latin-1")
                continue
            try:
                yield self._decoder.decode(piece)
            except UnicodeDecodeError:
                self._decoder.reset()
                self.had_bad_bytes = True
                yield piece.decode(self.encoding, errors="replace")


def iter_records(raw: IO[bytes], fmt: CsvFormat) -> Iterator[Record]:
    """Every non-blank record, streamed: quoted newlines join lines, line numbers stay true."""
    lines = _DecodedLines(raw, fmt.encoding)
    reader = csv.reader(lines, delimiter=fmt.delimiter)
    last_line = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            start, last_line = last_line + 1, reader.line_num
            lines.had_bad_bytes = False
            yield Record(start, [], f"unreadable CSV: {exc}")
            continue
        start, last_line = last_line + 1, reader.line_num
        problem = UNDECODABLE if lines.had_bad_bytes else ""
        lines.had_bad_bytes = False
        if not problem and not any(v.strip() for v in values):
            continue  # blank line
        yield Record(start, values, problem)


@dataclass
class OpenCsv:
    fmt: CsvFormat
    raw_headers: list[str]
    headers: list[str]
    records: Iterator[Record]  # data records after the header


def _read_header(raw: IO[bytes]) -> OpenCsv:
    fmt = detect_format(raw)
    records = iter_records(raw, fmt)
    header = next(records, None)
    if header is None:
        raise ApplicationError("The file is empty: the first line must name the columns.")
    if header.problem:
        raise ApplicationError(f"The header row (line {header.line}) cannot be read: {header.problem}.")
    return OpenCsv(fmt, header.values, unique_headers(header.values), records)


@contextmanager
def open_job_file(job: ImportJob) -> Iterator[OpenCsv]:
    try:
        raw = job.file.open("rb")
    except OSError as exc:
        raise ApplicationError(f"The uploaded file is missing: {exc}") from None
    try:
        yield _read_header(raw)  # type: ignore[arg-type]
    finally:
        job.file.close()


# --- One row: validation and conversion -----------------------------------------------------

_DATE_FORMATS = (
    "%Y/%m/%d",
    "%m/%d/%Y",
    "%m/%d/%y",
    "%d.%m.%Y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
)
DATE_HELP = "use YYYY-MM-DD (also accepted: MM/DD/YYYY, DD.MM.YYYY, 15 Jan 2025)"


def parse_datetime(value: str) -> datetime:
    """A date or date-time from a CSV cell, as an aware datetime (UTC when no zone is given)."""
    text = value.strip()
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        for fmt in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        raise ValueError(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_date(value: str) -> date:
    return parse_datetime(value).date()


_COUNTRY_NAMES = {
    "united states": "US",
    "united states of america": "US",
    "usa": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "america": "US",
    "united kingdom": "GB",
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "germany": "DE",
    "deutschland": "DE",
    "france": "FR",
    "spain": "ES",
    "españa": "ES",
    "italy": "IT",
    "netherlands": "NL",
    "the netherlands": "NL",
    "belgium": "BE",
    "austria": "AT",
    "switzerland": "CH",
    "ireland": "IE",
    "portugal": "PT",
    "sweden": "SE",
    "norway": "NO",
    "denmark": "DK",
    "finland": "FI",
    "poland": "PL",
    "czech republic": "CZ",
    "czechia": "CZ",
    "canada": "CA",
    "mexico": "MX",
    "brazil": "BR",
    "argentina": "AR",
    "australia": "AU",
    "new zealand": "NZ",
    "japan": "JP",
    "china": "CN",
    "india": "IN",
    "singapore": "SG",
    "south korea": "KR",
    "israel": "IL",
    "south africa": "ZA",
    "nigeria": "NG",
    "united arab emirates": "AE",
    "uae": "AE",
}


def parse_country(value: str) -> str:
    text = value.strip()
    if re.fullmatch(r"[A-Za-z]{2}", text):
        return text.upper()
    code = _COUNTRY_NAMES.get(text.lower())
    if code is None:
        raise ValueError(text)
    return code


@lru_cache(maxsize=1)
def _time_zones() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()} | {"utc": "UTC"}


@lru_cache(maxsize=8)
def _choice_index(choices: type[models.TextChoices]) -> dict[str, str]:
    """Accepted spellings of each choice: its value, its label, the value with spaces."""
    index: dict[str, str] = {}
    for member in choices:
        for spelling in (member.value, str(member.label).lower(), member.value.replace("_", " ")):
            index.setdefault(spelling, member.value)
    return index


def _choice(value: str, choices: type[models.TextChoices]) -> str | None:
    return _choice_index(choices).get(value.strip().lower())


def domain_from(value: str) -> str:
    """`https://www.Acme.com/about` → `acme.com`."""
    text = value.strip().lower()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = re.split(r"[/?#]", text, maxsplit=1)[0].rsplit("@", 1)[-1].split(":", 1)[0]
    text = text.removeprefix("www.")
    return normalize_domain(text)


_DOMAIN_RE = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)+")


def _max_length(model: type[models.Model], name: str) -> int:
    return model._meta.get_field(name).max_length  # type: ignore[union-attr,return-value]


_LIMITS = {
    F.FIRST_NAME: _max_length(Recipient, "first_name"),
    F.LAST_NAME: _max_length(Recipient, "last_name"),
    F.TITLE: _max_length(Recipient, "title"),
    F.LIFECYCLE_STAGE: _max_length(Recipient, "lifecycle_stage"),
    F.ACCOUNT_NAME: _max_length(Account, "name"),
    F.ACCOUNT_PLAN: _max_length(Account, "plan"),
    F.FACT_VALUE: _max_length(Fact, "value"),
    F.FACT_SOURCE: _max_length(Fact, "source"),
}
_LABEL_MAX = _max_length(Label, "name")
# Person-facing cells, cleaned as the models clean them; True: multi-line.
_DISPLAY_TEXT: dict[str, bool] = {
    F.FIRST_NAME: False,
    F.LAST_NAME: False,
    F.FULL_NAME: False,
    F.TITLE: False,
    F.ACCOUNT_NAME: False,
    F.LABELS: False,
    F.FACT_TEXT: True,
}
_EMAIL_MAX = _max_length(Recipient, "email")


@dataclass
class ParsedRow:
    line: int
    email: str
    recipient: dict[str, Any] = field(default_factory=dict)  # Recipient field → value (non-empty only)
    owner_id: int | None = None
    properties: dict[str, str] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    account: dict[str, Any] | None = None  # name, domain, plan, renewal_date, state (given ones)
    fact: dict[str, Any] | None = None  # kind, text, value, source, observed_at (None: no date given)


@dataclass
class RowRules:
    """What parsing a row needs beyond the row: the mapping and who may own recipients."""

    headers: list[str]
    mapping: dict[str, str]
    owners: dict[str, int]  # lower-case username or email → user id
    default_fact_source: str = "CSV import"


def owners_index() -> dict[str, int]:
    """Team members by lower-case username, login email and sending address."""
    index: dict[str, int] = {}
    for pk, username, email in get_user_model().objects.filter(is_active=True).values_list("pk", "username", "email"):
        index[username.lower()] = pk
        if email:
            index.setdefault(email.lower(), pk)
    for user_id, email in SenderProfile.objects.filter(user__is_active=True).values_list("user_id", "email"):
        index.setdefault(email.lower(), user_id)
    return index


def row_rules_for(*, headers: list[str], mapping: dict[str, str], source: str = "CSV import") -> RowRules:
    return RowRules(headers=headers, mapping=mapping, owners=owners_index(), default_fact_source=source[:100])


def parse_row(record: Record, rules: RowRules) -> tuple[ParsedRow | None, str]:
    """A valid row, or None and every reason it is not (joined with '; ')."""
    if record.problem:
        return None, record.problem
    values = record.values
    expected = len(rules.headers)
    if len(values) < expected or any(v.strip() for v in values[expected:]):
        return None, f"expected {expected} columns, found {len(values)}"

    problems: list[str] = []
    cells: dict[str, str] = {}
    properties: dict[str, str] = {}
    for header, raw_value in zip(rules.headers, values, strict=False):
        target = rules.mapping.get(header, F.IGNORE)
        value = raw_value.strip()
        if "\r" in value:  # quoted newlines from Windows files
            value = value.replace("\r\n", "\n")
        if target in _DISPLAY_TEXT:
            # As the models store it (bulk writes skip save()), and before lookups by name and
            # text: "Acme" + U+200B must find the account "Acme", not clash with it.
            value = clean_display_text(value, multiline=_DISPLAY_TEXT[target])
        if target == F.PROPERTY:
            if value:
                properties[header] = value
        elif target != F.IGNORE:
            cells[target] = value

    for target, limit in _LIMITS.items():
        if len(cells.get(target, "")) > limit:
            problems.append(f"{F(target).label} is longer than {limit} characters")

    email = normalize_email(cells.get(F.EMAIL, ""))
    if not email:
        problems.append("email is empty")
    else:
        try:
            validate_email(email)
            if len(email) > _EMAIL_MAX:
                raise ValidationError("too long")
        except ValidationError:
            problems.append(f"{cells[F.EMAIL]!r} is not a valid email address")

    row = ParsedRow(line=record.line, email=email, properties=properties)
    fields = row.recipient
    for target in (F.FIRST_NAME, F.LAST_NAME, F.TITLE, F.LIFECYCLE_STAGE):
        if cells.get(target):
            fields[target.value] = cells[target]
    if cells.get(F.FULL_NAME):
        full = cells[F.FULL_NAME]
        if "," in full:  # "Archer, Ann"
            last, _, first = (part.strip() for part in full.partition(","))
        else:
            first, _, last = full.partition(" ")
        if first.strip():
            fields.setdefault("first_name", first.strip()[: _LIMITS[F.FIRST_NAME]])
        if last.strip():
            fields.setdefault("last_name", last.strip()[: _LIMITS[F.LAST_NAME]])
    if cells.get(F.COUNTRY):
        try:
            fields["country"] = parse_country(cells[F.COUNTRY])
        except ValueError:
            problems.append(f"unknown country {cells[F.COUNTRY]!r} (use a 2-letter ISO code such as DE)")
    if cells.get(F.TIME_ZONE):
        tz = _time_zones().get(cells[F.TIME_ZONE].lower())
        if tz is None:
            problems.append(f"unknown time zone {cells[F.TIME_ZONE]!r} (use a name such as Europe/Berlin)")
        else:
            fields["time_zone"] = tz
    if cells.get(F.CONSENT_DATE):
        try:
            fields["consent_recorded_at"] = parse_datetime(cells[F.CONSENT_DATE])
        except ValueError:
            problems.append(f"bad consent date {cells[F.CONSENT_DATE]!r}: {DATE_HELP}")
    if cells.get(F.OWNER):
        row.owner_id = rules.owners.get(cells[F.OWNER].lower())
        if row.owner_id is None:
            problems.append(f"unknown owner {cells[F.OWNER]!r} (use a team member's username or email)")
    if cells.get(F.LABELS):
        names = [n.strip() for n in re.split(r"[,;|]", cells[F.LABELS]) if n.strip()]
        too_long = [n for n in names if len(n) > _LABEL_MAX]
        if too_long:
            problems.append(f"label {too_long[0][:20]!r}… is longer than {_LABEL_MAX} characters")
        row.labels = list(dict.fromkeys(names))

    row.account = _parse_account(cells, problems)
    row.fact = _parse_fact(cells, problems, rules.default_fact_source)
    if problems:
        return None, "; ".join(problems)
    return row, ""


def _parse_account(cells: dict[str, str], problems: list[str]) -> dict[str, Any] | None:
    account: dict[str, Any] = {}
    if cells.get(F.ACCOUNT_NAME):
        account["name"] = cells[F.ACCOUNT_NAME]
    if cells.get(F.ACCOUNT_DOMAIN):
        domain = domain_from(cells[F.ACCOUNT_DOMAIN])
        if _DOMAIN_RE.fullmatch(domain):
            account["domain"] = domain
        else:
            problems.append(f"{cells[F.ACCOUNT_DOMAIN]!r} is not a domain or website")
    if cells.get(F.ACCOUNT_PLAN):
        account["plan"] = cells[F.ACCOUNT_PLAN]
    if cells.get(F.ACCOUNT_RENEWAL_DATE):
        try:
            account["renewal_date"] = parse_date(cells[F.ACCOUNT_RENEWAL_DATE])
        except ValueError:
            problems.append(f"bad renewal date {cells[F.ACCOUNT_RENEWAL_DATE]!r}: {DATE_HELP}")
    if cells.get(F.ACCOUNT_STATE):
        state = _choice(cells[F.ACCOUNT_STATE], Account.State)
        if state is None:
            allowed = ", ".join(str(s.label) for s in Account.State)
            problems.append(f"unknown account state {cells[F.ACCOUNT_STATE]!r} (one of: {allowed})")
        else:
            account["state"] = state
    if not account:
        return None
    if "name" not in account and "domain" not in account:
        problems.append("account details need a company name or domain")
    return account


def _parse_fact(cells: dict[str, str], problems: list[str], default_source: str) -> dict[str, Any] | None:
    text = cells.get(F.FACT_TEXT, "")
    if not text:
        if any(cells.get(t) for t in (F.FACT_KIND, F.FACT_DATE, F.FACT_VALUE)):
            problems.append("fact kind, date or value given without the fact itself")
        return None
    fact: dict[str, Any] = {
        "text": text,
        "kind": Fact.Kind.NOTE,
        "value": cells.get(F.FACT_VALUE, ""),
        "source": cells.get(F.FACT_SOURCE) or default_source,
        "observed_at": None,
    }
    if cells.get(F.FACT_KIND):
        kind = _choice(cells[F.FACT_KIND], Fact.Kind)
        if kind is None:
            allowed = ", ".join(k.value for k in Fact.Kind)
            problems.append(f"unknown fact kind {cells[F.FACT_KIND]!r} (one of: {allowed})")
        else:
            fact["kind"] = kind
    if cells.get(F.FACT_DATE):
        try:
            fact["observed_at"] = parse_datetime(cells[F.FACT_DATE])
        except ValueError:
            problems.append(f"bad fact date {cells[F.FACT_DATE]!r}: {DATE_HELP}")
    return fact


# --- Preview --------------------------------------------------------------------------------


@dataclass
class PreviewRow:
    line: int
    values: list[str]
    error: str = ""
    action: str = ""  # "create" or "update" for valid rows


@dataclass
class Preview:
    fmt: CsvFormat
    headers: list[str]
    mapping: dict[str, str]
    problems: list[str]
    rows: list[PreviewRow]
    samples: dict[str, list[str]]  # a few example values per column
    remembered_at: datetime | None = None  # when a mapping for these headers was last saved

    @property
    def columns(self) -> list[tuple[str, str, list[str]]]:
        return [(h, self.mapping.get(h, F.IGNORE), self.samples.get(h, [])) for h in self.headers]

    @property
    def notes(self) -> tuple[str, ...]:
        return self.fmt.notes


def import_preview(*, job: ImportJob, mapping: dict[str, str] | None = None, limit: int = PREVIEW_ROWS) -> Preview:
    """The first rows as the import would see them, each validated with the given (or saved) mapping."""
    with open_job_file(job) as opened:
        headers = opened.headers
        remembered = mapping_remembered(headers=opened.raw_headers)
        mapping = {h: (mapping if mapping is not None else job.mapping).get(h, F.IGNORE) for h in headers}
        rules = row_rules_for(headers=headers, mapping=mapping)
        problems = mapping_problems(headers=headers, mapping=mapping)
        rows: list[PreviewRow] = []
        parsed: list[tuple[PreviewRow, ParsedRow | None]] = []
        for record in opened.records:
            row, reason = parse_row(record, rules) if not problems else (None, "")
            preview_row = PreviewRow(record.line, record.values, reason)
            rows.append(preview_row)
            parsed.append((preview_row, row))
            if len(rows) >= limit:
                break
    emails = {row.email for _, row in parsed if row is not None}
    existing = set(Recipient.objects.filter(email__in=emails).values_list("email", flat=True)) if emails else set()
    for preview_row, row in parsed:
        if row is not None:
            preview_row.action = "update" if row.email in existing else "create"
    samples = {h: [r.values[i] for r in rows[:3] if i < len(r.values) and r.values[i]] for i, h in enumerate(headers)}
    return Preview(opened.fmt, headers, mapping, problems, rows, samples, remembered.updated_at if remembered else None)


# --- Jobs: create, map, confirm, run --------------------------------------------------------


def import_job_create(*, file: File, user=None, name: str = "") -> ImportJob:
    """Store an uploaded CSV and propose a mapping: the remembered one for these headers, else a guess."""
    raw: IO[bytes] = file  # type: ignore[assignment]
    opened = _read_header(raw)
    remembered = mapping_remembered(headers=opened.raw_headers)
    guess = recognize_headers(opened.headers)
    mapping = guess
    if remembered:
        # The signature ignores case, so match the remembered columns the same way.
        saved = {h.lower(): t for h, t in remembered.mapping.items()}
        mapping = {h: saved.get(h.lower(), guess[h]) for h in opened.headers}
    file.seek(0)
    job = ImportJob(
        created_by=user,
        original_name=(name or getattr(file, "name", "") or "upload.csv").rsplit("/", 1)[-1][:255],
        mapping=mapping,
        status=ImportJob.Status.PREVIEW,
    )
    # A generated name: the user's file name is shown, never used as a path.
    job.file.save(f"{uuid.uuid4().hex}.csv", file, save=False)
    job.save()
    return job


def import_job_set_mapping(*, job: ImportJob, mapping: dict[str, str]) -> ImportJob:
    """Keep the user's adjustments while they look at the preview (validated on confirm)."""
    if job.status != ImportJob.Status.PREVIEW:
        raise ApplicationError("This import has already started; its mapping can no longer change.")
    job.mapping = {h: t if t in F.values else F.IGNORE for h, t in mapping.items()}
    job.save(update_fields=["mapping"])
    return job


def import_job_enqueue(*, job_id: int) -> None:
    """Nudge the worker; with the broker down this is logged and skipped, and `import_jobs_sweep`
    nudges again (the job's row says it is queued)."""
    task_enqueue("outreach.people.tasks.import_job_run", job_id, task_name=f"import-job-{job_id}")


def import_jobs_sweep(*, now: datetime | None = None, queued_seconds: int = 120) -> int:
    """Re-enqueue imports whose task was lost: queued and untouched for `queued_seconds`, or running
    without a committed batch for longer than a task may run (its worker died, or the next link of
    its chain could not be enqueued). Each one is touched first, so the next sweep waits again.
    Safe with a task still on its way: a second run of a job writes nothing twice. Returns how many."""
    now = now or timezone.now()
    from django.conf import settings

    stale_running = now - timedelta(seconds=settings.Q_TASK_TIMEOUT + 60)
    lost = Q(status=ImportJob.Status.QUEUED, updated_at__lt=now - timedelta(seconds=queued_seconds)) | Q(
        status=ImportJob.Status.RUNNING, updated_at__lt=stale_running
    )
    ids = list(ImportJob.objects.filter(lost).values_list("pk", flat=True)[:1000])
    ImportJob.objects.filter(pk__in=ids).update(updated_at=now)
    for job_id in ids:
        import_job_enqueue(job_id=job_id)
    return len(ids)


@transaction.atomic
def import_job_confirm(*, job: ImportJob, mapping: dict[str, str], enqueue: bool = True) -> ImportJob:
    """Fix the mapping, remember it for files with the same headers, and queue the import."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportJob.Status.PREVIEW:
        raise ApplicationError("This import was already confirmed.")
    with open_job_file(job) as opened:
        raw_headers, headers = opened.raw_headers, opened.headers
    job.mapping = mapping_clean(headers=headers, mapping=mapping)
    job.status = ImportJob.Status.QUEUED
    job.save(update_fields=["mapping", "status", "updated_at"])
    mapping_remember(headers=raw_headers, mapping=job.mapping)
    if enqueue:
        job_id = job.pk
        transaction.on_commit(lambda: import_job_enqueue(job_id=job_id))
    return job


@transaction.atomic
def import_job_resume(*, job: ImportJob, enqueue: bool = True) -> ImportJob:
    """Queue a failed import again; it continues after the last saved batch."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportJob.Status.FAILED:
        raise ApplicationError("Only a failed import can be resumed.")
    job.status = ImportJob.Status.QUEUED
    job.failure_reason = ""
    job.save(update_fields=["status", "failure_reason", "updated_at"])
    if enqueue:
        job_id = job.pk
        transaction.on_commit(lambda: import_job_enqueue(job_id=job_id))
    return job


def _claim(job_id: int) -> ImportJob | None:
    """Move a queued job to running; None when there is nothing to do (done, failed, not confirmed)."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status not in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING):
            return None
        if job.status == ImportJob.Status.QUEUED:
            job.status = ImportJob.Status.RUNNING
            job.save(update_fields=["status", "updated_at"])
        return job


def _count_records(job: ImportJob) -> int:
    with open_job_file(job) as opened:
        return sum(1 for _ in opened.records)


def _fail(job_id: int, reason: str) -> None:
    ImportJob.objects.filter(pk=job_id).update(
        status=ImportJob.Status.FAILED, failure_reason=reason, finished_at=timezone.now()
    )


def import_job_run(
    *,
    job_id: int,
    time_budget: float | None = None,
    batch_size: int = BATCH_SIZE,
    on_progress: Callable[[ImportJob], None] | None = None,
) -> bool:
    """Import a confirmed job's rows in batches. Returns False when the time budget ran out and a
    fresh task should continue; True when this run has nothing more to do (the job is finished,
    failed, or another run of it got ahead and carries on).

    Safe to run twice: each batch commits its rows together with the job's counters, and a run
    starts after the rows the job says are done.
    """
    job = _claim(job_id)
    if job is None:
        return True
    deadline = time.monotonic() + time_budget if time_budget else None
    try:
        if not job.total_rows:
            job.total_rows = _count_records(job)
            ImportJob.objects.filter(pk=job.pk).update(total_rows=job.total_rows, updated_at=timezone.now())
        with open_job_file(job) as opened:
            rules = row_rules_for(
                headers=opened.headers, mapping=job.mapping, source=f"CSV import: {job.original_name}"
            )
            done = job.processed_rows
            index = 0
            batch = _Batch(start=done)
            for record in opened.records:
                index += 1
                if index <= done:
                    continue  # committed by an earlier run
                # Parse at once: a batch keeps only the parsed rows, never the raw records.
                batch.add(record, rules)
                if batch.size >= batch_size or batch.chars >= MAX_BATCH_CHARS:
                    job = _import_batch(job.pk, batch)
                    if job is None:
                        return True  # another run got ahead; it carries on
                    done += batch.size
                    batch = _Batch(start=done)
                    if on_progress:
                        on_progress(job)
                    if deadline and time.monotonic() > deadline:
                        return False
            if batch.size:
                job = _import_batch(job.pk, batch)
                if job is None:
                    return True
                if on_progress:
                    on_progress(job)
    except ApplicationError as exc:
        _fail(job_id, exc.message)
        return True
    except Exception as exc:
        logger.exception("import job %s failed", job_id)
        _fail(job_id, f"Unexpected error: {exc}. Resume continues after the last saved batch.")
        return True
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.status == ImportJob.Status.RUNNING:
            job.status = ImportJob.Status.DONE
            job.total_rows = job.processed_rows
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "total_rows", "finished_at"])
    if on_progress:
        on_progress(job)
    return True


@dataclass
class _Batch:
    start: int  # records before this batch
    size: int = 0
    chars: int = 0  # text the parsed rows hold, roughly
    rows: list[ParsedRow] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)

    def add(self, record: Record, rules: RowRules) -> None:
        self.size += 1
        row, reason = parse_row(record, rules)
        if row is None:
            self.errors.append({"line": record.line, "reason": reason})
        else:
            self.rows.append(row)
            self.chars += sum(len(v) for v in row.properties.values()) + len((row.fact or {}).get("text", ""))


def _import_batch(job_id: int, batch: _Batch) -> ImportJob | None:
    """Write one batch and advance the job's counters, in one transaction.

    None when another run already wrote this batch (the job's counter moved on): nothing is written twice.
    """
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                # Lock the job: a second run of the same job waits here, then sees the batch is done.
                job = ImportJob.objects.select_for_update().get(pk=job_id)
                if job.status != ImportJob.Status.RUNNING or job.processed_rows != batch.start:
                    return None
                created, updated = write_rows(batch.rows, actor=job.created_by)
                job.processed_rows += batch.size
                job.created_count += created
                job.updated_count += updated
                job.error_count += len(batch.errors)
                room = MAX_STORED_ERRORS - len(job.errors)
                if room > 0 and batch.errors:
                    job.errors = job.errors + batch.errors[:room]
                job.save(
                    update_fields=[
                        "processed_rows",
                        "created_count",
                        "updated_count",
                        "error_count",
                        "errors",
                        "updated_at",
                    ]
                )
                return job
        except IntegrityError:
            # Someone else created one of these recipients or accounts meanwhile: look up again.
            if attempt == 2:
                raise
    return None


# --- Writing a batch: bulk lookups, bulk_create, bulk_update --------------------------------


@dataclass
class _Merged:
    """Every row of one email in a batch, folded together (later non-empty cells win)."""

    email: str
    rows: int = 0
    recipient: dict[str, Any] = field(default_factory=dict)
    owner_id: int | None = None
    properties: dict[str, str] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    account_key: str | None = None
    facts: list[dict[str, Any]] = field(default_factory=list)


def _account_key(account: dict[str, Any]) -> str:
    return f"name:{account['name']}" if account.get("name") else f"domain:{account['domain']}"


def write_rows(rows: list[ParsedRow], *, actor=None) -> tuple[int, int]:
    """Create or update the recipients, accounts, labels and facts of valid rows.

    Returns (rows that created a recipient, rows that updated one). Runs a fixed number of
    queries per batch whatever its size.
    """
    if not rows:
        return 0, 0
    merged: dict[str, _Merged] = {}
    accounts: dict[str, dict[str, Any]] = {}
    for row in rows:
        m = merged.setdefault(row.email, _Merged(row.email))
        m.rows += 1
        m.recipient.update(row.recipient)
        m.owner_id = row.owner_id or m.owner_id
        m.properties.update(row.properties)
        m.labels.extend(n for n in row.labels if n not in m.labels)
        if row.account:
            key = _account_key(row.account)
            accounts.setdefault(key, {}).update(row.account)
            m.account_key = key
        if row.fact:
            m.facts.append(row.fact)

    account_ids = _write_accounts(accounts)
    recipient_ids, created, updated = _write_recipients(merged, account_ids)
    _write_labels(merged, recipient_ids, actor=actor)
    _write_facts(merged, recipient_ids)
    return created, updated


def _write_accounts(specs: dict[str, dict[str, Any]]) -> dict[str, int]:
    if not specs:
        return {}
    names = {s.get("name") or s["domain"] for s in specs.values()}
    domains = {s["domain"] for s in specs.values() if not s.get("name")}
    existing = list(Account.objects.filter(Q(name__in=names) | Q(domain__in=domains)))
    by_name = {a.name: a for a in existing}
    by_domain: dict[str, Account] = {}
    for a in sorted(existing, key=lambda a: a.pk):
        if a.domain:
            by_domain.setdefault(a.domain, a)
    to_create: dict[str, Account] = {}  # by name
    to_update: dict[int, Account] = {}
    found: dict[str, Account] = {}
    for key, spec in specs.items():
        name = spec.get("name")
        account = by_name.get(name) if name else (by_domain.get(spec["domain"]) or by_name.get(spec["domain"]))
        if account is None:
            # Without a company name, the domain names the account.
            account = to_create.setdefault(name or spec["domain"], Account(name=name or spec["domain"]))
            for attr in ("domain", "plan", "renewal_date", "state"):
                if attr in spec:
                    setattr(account, attr, spec[attr])
            found[key] = account
        else:
            changed = False
            for attr in ("domain", "plan", "renewal_date", "state"):
                if attr in spec and getattr(account, attr) != spec[attr]:
                    setattr(account, attr, spec[attr])
                    changed = True
            if changed:
                account.updated_at = timezone.now()
                to_update[account.pk] = account
            found[key] = account
    if to_create:
        Account.objects.bulk_create(to_create.values())
        ids = dict(Account.objects.filter(name__in=list(to_create)).values_list("name", "pk"))
        for account in to_create.values():
            account.pk = ids[account.name]
    if to_update:
        Account.objects.bulk_update(to_update.values(), ["domain", "plan", "renewal_date", "state", "updated_at"])
    return {key: account.pk for key, account in found.items()}


_RECIPIENT_FIELDS = (
    "first_name",
    "last_name",
    "title",
    "country",
    "time_zone",
    "lifecycle_stage",
    "consent_recorded_at",
)


def _write_recipients(merged: dict[str, _Merged], account_ids: dict[str, int]) -> tuple[dict[str, int], int, int]:
    existing = {r.email: r for r in Recipient.objects.filter(email__in=list(merged))}
    to_create: list[Recipient] = []
    to_update: list[Recipient] = []
    created = updated = 0
    now = timezone.now()
    for email, m in merged.items():
        recipient = existing.get(email)
        account_id = account_ids.get(m.account_key) if m.account_key else None
        if recipient is None:
            recipient = Recipient(email=email, properties=m.properties, owner_id=m.owner_id, account_id=account_id)
            for attr, value in m.recipient.items():
                setattr(recipient, attr, value)
            to_create.append(recipient)
            created += 1
            updated += m.rows - 1
            continue
        updated += m.rows
        # Empty cells never erase what is known; given ones replace it.
        changes = {attr: value for attr, value in m.recipient.items() if getattr(recipient, attr) != value}
        if m.owner_id and recipient.owner_id != m.owner_id:
            changes["owner_id"] = m.owner_id
        if account_id and recipient.account_id != account_id:
            changes["account_id"] = account_id
        if m.properties and any(recipient.properties.get(k) != v for k, v in m.properties.items()):
            changes["properties"] = {**recipient.properties, **m.properties}
        if changes:
            for attr, value in changes.items():
                setattr(recipient, attr, value)
            recipient.updated_at = now
            to_update.append(recipient)
    if to_create:
        Recipient.objects.bulk_create(to_create, batch_size=500)
    if to_update:
        fields = [*_RECIPIENT_FIELDS, "owner", "account", "properties", "updated_at"]
        Recipient.objects.bulk_update(to_update, fields, batch_size=500)
    ids = {r.email: r.pk for r in existing.values()}
    if to_create:
        ids.update(Recipient.objects.filter(email__in=[r.email for r in to_create]).values_list("email", "pk"))
    return ids, created, updated


def _write_labels(merged: dict[str, _Merged], recipient_ids: dict[str, int], *, actor=None) -> None:
    # Labels are added, never removed: a file lists the labels it knows, not all of them. Through
    # the one labelling service, so automations hear of the additions.
    pairs = [(recipient_ids[m.email], n) for m in merged.values() for n in m.labels]
    if pairs:
        recipient_labels_add(pairs=pairs, via=LabelEvent.Via.CSV, actor=actor)


def _write_facts(merged: dict[str, _Merged], recipient_ids: dict[str, int]) -> None:
    wanted = [(recipient_ids[m.email], f) for m in merged.values() for f in m.facts]
    if not wanted:
        return
    rids = {rid for rid, _ in wanted}
    texts = {f["text"] for _, f in wanted}
    existing: dict[tuple, Fact] = {}
    latest: dict[tuple, Fact] = {}
    for known in Fact.objects.filter(recipient_id__in=rids, text__in=texts).order_by("observed_at"):
        existing[(known.recipient_id, known.kind, known.text, known.observed_at)] = known
        latest[(known.recipient_id, known.kind, known.text)] = known
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    to_create: dict[tuple, Fact] = {}
    to_update: dict[int, Fact] = {}
    for rid, spec in wanted:
        fact: Fact | None
        if spec["observed_at"] is None:
            # No date: the same text of the same kind is the same fact; a new one is dated today.
            fact = latest.get((rid, spec["kind"], spec["text"]))
            key = (rid, spec["kind"], spec["text"], fact.observed_at if fact else today)
        else:
            key = (rid, spec["kind"], spec["text"], spec["observed_at"])
            fact = existing.get(key)
        if fact is None:
            fact = to_create.get(key)
        if fact is None:
            to_create[key] = Fact(
                recipient_id=rid,
                kind=spec["kind"],
                text=spec["text"],
                value=spec["value"],
                source=spec["source"],
                origin=Fact.Origin.CSV_IMPORT,
                observed_at=key[3],
            )
        elif fact.value != spec["value"] or fact.source != spec["source"]:
            # The import now speaks for this fact, so it carries the import's trust.
            fact.value, fact.source, fact.origin = spec["value"], spec["source"], Fact.Origin.CSV_IMPORT
            if fact.pk:
                to_update[fact.pk] = fact
    if to_create:
        Fact.objects.bulk_create(to_create.values(), batch_size=500)
    if to_update:
        Fact.objects.bulk_update(to_update.values(), ["value", "source", "origin"], batch_size=500)
