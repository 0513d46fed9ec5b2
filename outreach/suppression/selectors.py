"""Reads about suppression: the one check used before drafting and at send time, and the list pages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from outreach.core.normalize import normalize_domain, normalize_email, parent_domains

from .models import Suppression, SuppressionList


class Contactable(Protocol):
    """What the check reads of a person. People's Contactable has these fields; suppression sits below
    people and knows no model above it."""

    @property
    def pk(self) -> int: ...
    @property
    def email(self) -> str: ...
    @property
    def country(self) -> str: ...
    @property
    def consent_recorded_at(self) -> datetime | None: ...


# Contactables per query in the bulk check: keeps the IN lists under SQLite's variable limit.
BULK_CHUNK = 5000


@dataclass(frozen=True)
class SuppressionHit:
    """Why a recipient must not be contacted."""

    reason: str
    kind: str
    value: str
    list_name: str
    entry_id: int | None
    note: str = ""

    @property
    def reason_label(self) -> str:
        return Suppression.Reason(self.reason).label

    def describe(self) -> str:
        where = f" on list '{self.list_name}'" if self.list_name else ""
        return f"{self.reason_label} ({self.kind} {self.value}{where})"


def active_suppressions() -> QuerySet[Suppression]:
    now = timezone.now()
    return Suppression.objects.filter(removed_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


def _lists_filter(list_ids: Iterable[int] | None) -> Q:
    """The global lists always apply; a campaign adds its own."""
    q = Q(suppression_list__is_global=True)
    if list_ids:
        q |= Q(suppression_list_id__in=list(list_ids))
    return q


def _domain(email: str) -> str:
    return email.rsplit("@", 1)[-1]


def _consent_hit(recipient: Contactable) -> SuppressionHit | None:
    regulated = bool(recipient.country) and recipient.country.upper() in settings.CONSENT_REQUIRED_COUNTRIES
    if regulated and recipient.consent_recorded_at is None:
        return SuppressionHit(
            reason=Suppression.Reason.NO_CONSENT,
            kind="jurisdiction",
            value=recipient.country.upper(),
            list_name="",
            entry_id=None,
        )
    return None


# When several entries match, the most specific one explains the suppression best.
_KIND_PRIORITY = {Suppression.Kind.RECIPIENT: 0, Suppression.Kind.ADDRESS: 1, Suppression.Kind.DOMAIN: 2}


def suppression_check_bulk(
    *, recipients: Sequence[Contactable], list_ids: Iterable[int] | None = None
) -> dict[int, SuppressionHit]:
    """Which of these recipients are suppressed, and why: one indexed query per 5,000 recipients.

    Returns {recipient.pk: SuppressionHit} for the suppressed ones only.
    """
    hits: dict[int, SuppressionHit] = {}
    list_q = _lists_filter(list_ids)
    for start in range(0, len(recipients), BULK_CHUNK):
        chunk = recipients[start : start + BULK_CHUNK]
        emails = {normalize_email(r.email) for r in chunk}
        domains = {d for r in chunk for d in parent_domains(_domain(r.email))}
        ids = {str(r.pk) for r in chunk}
        entries = (
            active_suppressions()
            .filter(list_q)
            .filter(
                Q(kind=Suppression.Kind.ADDRESS, value__in=emails)
                | Q(kind=Suppression.Kind.DOMAIN, value__in=domains)
                | Q(kind=Suppression.Kind.RECIPIENT, value__in=ids)
            )
            .values_list("id", "kind", "value", "reason", "note", "suppression_list__name")
        )
        by_key: dict[tuple[str, str], tuple] = {}
        for row in entries:
            by_key.setdefault((row[1], row[2]), row)
        for r in chunk:
            candidates = [
                by_key.get((Suppression.Kind.RECIPIENT, str(r.pk))),
                by_key.get((Suppression.Kind.ADDRESS, normalize_email(r.email))),
            ]
            candidates += [by_key.get((Suppression.Kind.DOMAIN, d)) for d in parent_domains(_domain(r.email))]
            found = [c for c in candidates if c is not None]
            if found:
                entry_id, kind, value, reason, note, list_name = min(found, key=lambda c: _KIND_PRIORITY[c[1]])
                hits[r.pk] = SuppressionHit(reason, kind, value, list_name, entry_id, note)
                continue
            consent = _consent_hit(r)
            if consent:
                hits[r.pk] = consent
    return hits


def suppression_check(*, recipient: Contactable, list_ids: Iterable[int] | None = None) -> SuppressionHit | None:
    """Is this recipient suppressed, and why? None means free to contact."""
    return suppression_check_bulk(recipients=[recipient], list_ids=list_ids).get(recipient.pk)


def suppressions_visible_to(user) -> QuerySet[Suppression]:
    """Suppression lists are the team's, read and managed by those who may add entries (admins);
    everyone else only learns, per recipient, whether someone is suppressed (`suppression_check`)."""
    if not user.has_perm("outreach.add_suppression"):
        return Suppression.objects.none()
    return Suppression.objects.all()


def suppression_search(
    *, user, query: str = "", list_id: int | None = None, include_removed: bool = False
) -> QuerySet[Suppression]:
    qs = suppressions_visible_to(user).select_related("suppression_list", "added_by", "removed_by")
    if not include_removed:
        qs = qs.filter(removed_at__isnull=True)
    if list_id:
        qs = qs.filter(suppression_list_id=list_id)
    if query:
        q = query.strip().lower()
        qs = qs.filter(Q(value__icontains=q) | Q(note__icontains=q) | Q(source__icontains=q))
    return qs


def suppression_lists() -> QuerySet[SuppressionList]:
    return SuppressionList.objects.all()


def normalize_suppression_value(kind: str, value: str) -> str:
    if kind == Suppression.Kind.ADDRESS:
        return normalize_email(value)
    if kind == Suppression.Kind.DOMAIN:
        return normalize_domain(value)
    return str(value).strip()
