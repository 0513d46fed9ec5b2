"""Contacts as other systems send them: create or update a recipient by address (the REST API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from outreach.core.errors import ApplicationError
from outreach.core.normalize import normalize_email
from outreach.core.text import clean_display_text
from outreach.people.models import Fact, LabelEvent, Recipient, SenderProfile
from outreach.people.services.labels import label_name_clean, recipient_labels_add


@dataclass
class ContactFact:
    text: str
    kind: str = Fact.Kind.NOTE
    value: str = ""
    source: str = "api"
    observed_at: datetime | None = None


@dataclass
class ContactData:
    emails: list[dict]  # [{"label": "work", "address": "..."}], the first one is the primary address
    full_name: str | None = None
    inbox: SenderProfile | None = None
    labels: list[str] | None = None
    notes: str | None = None
    facts: list[ContactFact] = field(default_factory=list)
    title: str | None = None
    country: str | None = None


def _split_name(full_name: str) -> tuple[str, str]:
    first, _, last = clean_display_text(full_name).partition(" ")
    return first[:100], last.strip()[:100]


def _clean_emails(emails: list[dict]) -> list[dict]:
    cleaned: list[dict] = []
    seen: set[str] = set()
    for index, item in enumerate(emails):
        address = normalize_email(str(item.get("address", "")))
        try:
            validate_email(address)
        except ValidationError:
            raise ApplicationError(
                f"{item.get('address')!r} is not a valid email address.",
                extra={"field": f"emails.{index}.address", "status": 422},
            ) from None
        if address not in seen:
            seen.add(address)
            cleaned.append({"label": str(item.get("label") or "")[:50], "address": address})
    if not cleaned:
        raise ApplicationError("Give at least one email address.", extra={"field": "emails", "status": 422})
    return cleaned


@transaction.atomic
def contact_upsert(*, data: ContactData, actor) -> tuple[Recipient, bool]:
    """Create or update the recipient that has one of these addresses. Returns (recipient, created).

    Fields left out (None) stay as they are; labels, when given, become exactly the given set;
    facts are added (a fact with the same kind and text is not added twice)."""
    emails = _clean_emails(data.emails)
    addresses = [e["address"] for e in emails]
    matches = list(Recipient.objects.select_for_update().filter(email__in=addresses))
    if len(matches) > 1:
        raise ApplicationError(
            "These addresses belong to different contacts: "
            + ", ".join(f"#{r.pk} {r.email}" for r in matches)
            + ". Update them one at a time.",
            extra={"field": "emails", "status": 409},
        )
    created = not matches
    recipient = matches[0] if matches else Recipient(email=addresses[0], owner=getattr(data.inbox, "user", actor))
    if data.full_name is not None:
        recipient.first_name, recipient.last_name = _split_name(data.full_name)
    if data.inbox is not None:
        recipient.owner = data.inbox.user
    if data.title is not None:
        recipient.title = data.title[:200]
    if data.country is not None:
        recipient.country = data.country
    properties = dict(recipient.properties or {})
    known = {e["address"]: e for e in properties.get("emails", [])}
    known.update({e["address"]: e for e in emails})
    # The primary address keeps its place; the others are kept for reference.
    properties["emails"] = [known.pop(recipient.email, {"label": "", "address": recipient.email}), *known.values()]
    if data.notes is not None:
        properties["notes"] = data.notes
    recipient.properties = properties
    try:
        recipient.full_clean(exclude=["owner", "account"])
    except ValidationError as exc:
        field_name, messages = next(iter(exc.message_dict.items()))
        raise ApplicationError("; ".join(messages), extra={"field": field_name, "status": 422}) from exc
    try:
        with transaction.atomic():
            recipient.save()
    except IntegrityError:
        # Created concurrently by another request with the same address.
        raise ApplicationError(
            f"{recipient.email} was just created by another request; retry to update it.",
            extra={"field": "emails", "status": 409},
        ) from None
    if data.labels is not None:
        # Cleaned as Label stores names, so the lookup finds the label it would otherwise clash with.
        wanted = {label_name_clean(name) for name in data.labels} - {""}
        recipient.labels.remove(*recipient.labels.exclude(name__in=wanted))
        # Additions go through the one labelling service: recorded, and announced to automations.
        recipient_labels_add(pairs=[(recipient.pk, name) for name in wanted], via=LabelEvent.Via.API, actor=actor)
    for item in data.facts:
        if item.kind not in Fact.Kind.values:
            raise ApplicationError(f"Unknown fact kind {item.kind!r}.", extra={"field": "facts", "status": 422})
        text = clean_display_text(item.text, multiline=True).strip()  # as Fact stores it
        if not text:
            continue
        if recipient.facts.filter(kind=item.kind, text=text).exists():
            continue
        Fact.objects.create(
            recipient=recipient,
            kind=item.kind,
            text=text,
            value=item.value[:200],
            source=item.source[:100] or "api",
            origin=Fact.Origin.API,
            observed_at=item.observed_at or timezone.now(),
        )
    return recipient, created
