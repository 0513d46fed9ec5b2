"""Writes that matter in the foundation: suppression entries and their history."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from outreach.core.errors import ApplicationError
from outreach.suppression.models import Suppression, SuppressionList
from outreach.suppression.selectors import normalize_suppression_value
from outreach.suppression.signals import suppression_added

GLOBAL_LIST_NAME = "Global"


def suppression_list_get_global() -> SuppressionList:
    obj, _ = SuppressionList.objects.get_or_create(
        name=GLOBAL_LIST_NAME, defaults={"is_global": True, "description": "Respected by every campaign."}
    )
    return obj


@transaction.atomic
def suppression_add(
    *,
    kind: str,
    value: str,
    reason: str,
    suppression_list: SuppressionList | None = None,
    note: str = "",
    source: str = "",
    added_by=None,
    expires_at: datetime | None = None,
) -> Suppression:
    """Suppress an address, a domain or a recipient id. Idempotent: an active entry is returned as is."""
    suppression_list = suppression_list or suppression_list_get_global()
    normalized = normalize_suppression_value(kind, value)
    existing = (
        Suppression.objects.select_for_update()
        .filter(suppression_list=suppression_list, kind=kind, value=normalized, removed_at__isnull=True)
        .first()
    )
    if existing is not None:
        if existing.is_active:
            return existing
        # An expired soft entry is superseded by the new one; its history stays.
        existing.removed_at = timezone.now()
        existing.removal_reason = "expired; replaced by a new entry"
        existing.save(update_fields=["removed_at", "removal_reason"])
    entry = Suppression(
        suppression_list=suppression_list,
        kind=kind,
        value=normalized,
        reason=reason,
        note=note,
        source=source,
        added_by=added_by,
        expires_at=expires_at,
    )
    if kind == Suppression.Kind.ADDRESS:
        try:
            validate_email(normalized)
        except ValidationError:
            raise ApplicationError(f"{value!r} is not a valid email address") from None
    elif kind == Suppression.Kind.DOMAIN and not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", normalized):
        raise ApplicationError(f"{value!r} is not a valid domain")
    try:
        entry.full_clean()
    except ValidationError as exc:
        raise ApplicationError("; ".join(exc.messages)) from exc
    entry.save()
    transaction.on_commit(lambda: suppression_added.send(sender=Suppression, entry=entry))
    return entry


# Entries that record the person's own "stop": lifting one means emailing someone who said no.
LEGAL_REASONS: dict[str, str] = {
    Suppression.Reason.UNSUBSCRIBED: (
        "This person unsubscribed. Lifting it means we may email them again: only do so if they asked, "
        "in writing, to receive email again (CAN-SPAM, GDPR/PECR consent)."
    ),
    Suppression.Reason.COMPLAINT: (
        "This person reported our email as spam. Lifting it means we may email them again: only do so if "
        "they asked, in writing, to receive email again (CAN-SPAM, GDPR/PECR consent)."
    ),
}


@transaction.atomic
def suppression_remove(*, entry: Suppression, removed_by, reason: str, confirmed_legal: bool = False) -> Suppression:
    """Release an entry. The row stays, with who removed it, when and why. An unsubscribe or a spam
    complaint is lifted only by an admin who confirms its legal meaning; the confirmation is recorded."""
    if not reason.strip():
        raise ApplicationError("Say why this entry is removed; the reason is kept in its history.")
    entry = Suppression.objects.select_for_update().get(pk=entry.pk)
    if entry.removed_at is not None:
        raise ApplicationError("This entry was already removed.")
    legal = LEGAL_REASONS.get(entry.reason)
    if legal is not None:
        if not (removed_by is not None and removed_by.has_perm("outreach.delete_suppression")):
            raise ApplicationError("Only an admin can lift an unsubscribe or a spam complaint.")
        if not confirmed_legal:
            raise ApplicationError(legal + " Tick the confirmation to lift it.")
    entry.removed_at = timezone.now()
    entry.removed_by = removed_by
    entry.removal_reason = reason.strip() + (f" [admin confirmed: {legal}]" if legal else "")
    entry.save(update_fields=["removed_at", "removed_by", "removal_reason"])
    return entry


@dataclass
class BulkAddResult:
    added: int = 0
    already_present: int = 0
    errors: list[dict] = field(default_factory=list)  # [{"line": n, "value": ..., "reason": ...}]


def suppression_bulk_add(
    *,
    text: str,
    reason: str,
    suppression_list: SuppressionList | None = None,
    added_by=None,
    note: str = "",
    source: str = "bulk add",
) -> BulkAddResult:
    """Add many entries from pasted text or a CSV column: one address or domain per line
    (commas and semicolons also separate). A domain is written as `example.com` or `@example.com`.
    Bad lines are reported by number; the good ones are added."""
    result = BulkAddResult()
    suppression_list = suppression_list or suppression_list_get_global()
    for number, line in enumerate(text.splitlines(), start=1):
        for token in filter(None, (t.strip().strip('"') for t in re.split(r"[,;\t]", line))):
            if token.lower() in {"email", "address", "domain", "value"}:
                continue  # a header row
            kind = Suppression.Kind.ADDRESS if "@" in token.lstrip("@") else Suppression.Kind.DOMAIN
            normalized = normalize_suppression_value(kind, token)
            before = Suppression.objects.filter(
                suppression_list=suppression_list, kind=kind, value=normalized, removed_at__isnull=True
            ).exists()
            try:
                suppression_add(
                    kind=kind,
                    value=token,
                    reason=reason,
                    suppression_list=suppression_list,
                    note=note,
                    source=source,
                    added_by=added_by,
                )
            except ApplicationError as exc:
                result.errors.append({"line": number, "value": token, "reason": exc.message})
                continue
            if before:
                result.already_present += 1
            else:
                result.added += 1
    return result
